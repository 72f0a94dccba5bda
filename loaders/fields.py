"""Checks of single fields, shared by the kinds. Each raises ValueError with a reason a clerk
can act on (the reason goes to the rejects file)."""

import re
from datetime import date
from functools import lru_cache

from registry import names
from registry.dates import PartialDate, check_birth_date
from registry.errors import InvalidInput
from registry.names import clean

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_US = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AP]M)?)?$",
                 re.IGNORECASE)
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=262_144)
def fold(value: str | None) -> str:
    """``registry.names.fold``, fast for the names that repeat in a file: cached, and for
    ASCII text without the Unicode decomposition (which leaves ASCII as it is)."""
    if not value:
        return ""
    if value.isascii():
        return _NOT_ALNUM.sub(" ", value.lower()).strip()
    return names.fold(value)


def name_key(first: str | None, middle: str | None, last: str | None, suffix: str | None
             ) -> str:
    """``registry.names.name_key`` with the cached fold."""
    return " ".join(p for p in (fold(first), fold(middle), fold(last), fold(suffix)) if p)


def sort_key(first: str | None, middle: str | None, last: str | None) -> str:
    return " ".join(p for p in (fold(last), fold(first), fold(middle)) if p)


SUFFIXES = {"jr": "Jr.", "sr": "Sr.", "ii": "II", "iii": "III", "iv": "IV", "v": "V"}
EARLIEST = date(1900, 1, 1)


def text(value: str | None, name: str, limit: int, *, required: bool = False) -> str | None:
    cleaned = clean(value)
    if cleaned is None:
        if required:
            raise ValueError(f"{name} is empty")
        return None
    if len(cleaned) > limit:
        raise ValueError(f"{name} is longer than {limit} characters")
    return cleaned


def person_name(value: str | None, name: str, *, required: bool) -> str | None:
    cleaned = text(value, name, 100, required=required)
    if cleaned is not None and not fold(cleaned):
        if required:
            raise ValueError(f"{name} '{cleaned}' has no letters")
        return None
    return cleaned


def _checked(year: int, month: int, day: int, value: str, name: str, today: date) -> date:
    try:
        found = date(year, month, day)
    except ValueError:
        raise ValueError(f"{name} '{value}' is not a calendar date") from None
    if found < EARLIEST:
        raise ValueError(f"{name} '{value}' is before 1900")
    if found > today:
        raise ValueError(f"{name} '{value}' is in the future")
    return found


def iso_date(value: str | None, name: str, today: date, *, required: bool = False
             ) -> date | None:
    """YYYY-MM-DD (the roster's form)."""
    raw = (value or "").strip()
    if not raw:
        if required:
            raise ValueError(f"{name} is empty")
        return None
    m = _ISO.match(raw)
    if not m:
        raise ValueError(f"{name} '{raw}' is not a date; write YYYY-MM-DD")
    return _checked(int(m[1]), int(m[2]), int(m[3]), raw, name, today)


def us_date(value: str | None, name: str, today: date, *, required: bool = False
            ) -> date | None:
    """M/D/YYYY, optionally with a time of day (the Florida export's form)."""
    raw = (value or "").strip()
    if not raw:
        if required:
            raise ValueError(f"{name} is empty")
        return None
    m = _US.match(raw)
    if not m:
        raise ValueError(f"{name} '{raw}' is not a date; expected M/D/YYYY")
    return _checked(int(m[3]), int(m[1]), int(m[2]), raw, name, today)


def any_date(value: str | None, name: str, today: date, *, required: bool = False
             ) -> date | None:
    """YYYY-MM-DD or M/D/YYYY (sources that mix them)."""
    raw = (value or "").strip()
    if raw and "/" in raw:
        return us_date(raw, name, today, required=required)
    return iso_date(raw, name, today, required=required)


def birth_date(value: str | None, today: date) -> PartialDate | None:
    raw = (value or "").strip()
    if not raw:
        return None
    try:
        return check_birth_date(PartialDate.parse(raw, field="birth_date"), today)
    except InvalidInput as e:
        raise ValueError(f"birth_date: {e.message}") from None


@lru_cache(maxsize=65536)
def split_name(value: str) -> tuple[str | None, str | None, str, str | None] | None:
    """A prior name as written: "Roe" (a surname alone), "Jane Roe", "Jane Q. Roe Jr." or
    "Roe, Jane". None when it has no letters."""
    raw = clean(value)
    if raw is None or not fold(raw):
        return None
    if "," in raw:
        last, _, rest = raw.partition(",")
        words = rest.split()
        suffix = None
        if words and fold(words[-1]).replace(" ", "") in SUFFIXES:
            suffix = SUFFIXES[fold(words.pop()).replace(" ", "")]
        first = words[0] if words else None
        middle = " ".join(words[1:]) or None
        return first, middle, last.strip(), suffix
    words = raw.split()
    suffix = None
    if len(words) > 1 and fold(words[-1]).replace(" ", "") in SUFFIXES:
        suffix = SUFFIXES[fold(words.pop()).replace(" ", "")]
    if len(words) == 1:
        return None, None, words[0], suffix
    return words[0], " ".join(words[1:-1]) or None, words[-1], suffix


def prior_names(value: str | None) -> list[tuple[str | None, str | None, str, str | None]]:
    found = []
    for part in (value or "").split(";"):
        if part.strip():
            name = split_name(part)
            if name is None:
                raise ValueError(f"prior name '{part.strip()}' has no letters")
            if len(name[2]) > 100 or any(p and len(p) > 100 for p in name):
                raise ValueError("a prior name is longer than 100 characters")
            found.append(name)
    return found


def enum_value(value: str | None, name: str, allowed: tuple[str, ...], *,
               required: bool = False) -> str | None:
    raw = (value or "").strip()
    if not raw:
        if required:
            raise ValueError(f"{name} is empty")
        return None
    key = re.sub(r"[\s-]+", "_", raw.lower())
    if key not in allowed:
        raise ValueError(f"{name} '{raw}' is not one of {', '.join(allowed)}")
    return key
