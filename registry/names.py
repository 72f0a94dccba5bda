"""Name normalisation shared by every name search: accents folded, case folded, punctuation
and hyphens turned into spaces, runs of spaces collapsed. Done in Python on write and on query
so the indexes stay plain (PostgreSQL's ``unaccent`` is not IMMUTABLE and cannot be indexed)."""

import re
import unicodedata

from registry.errors import InvalidInput

_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def fold(value: str | None) -> str:
    if not value:
        return ""
    decomposed = unicodedata.normalize("NFKD", value)
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NOT_ALNUM.sub(" ", ascii_only.casefold()).strip()


def name_key(first: str | None, middle: str | None, last: str | None, suffix: str | None) -> str:
    """The searchable form of a full name: ``first middle last suffix``."""
    return " ".join(p for p in (fold(first), fold(middle), fold(last), fold(suffix)) if p)


def sort_key(first: str | None, middle: str | None, last: str | None) -> str:
    """The listing order of people: ``last first middle``, as a roster reads."""
    return " ".join(p for p in (fold(last), fold(first), fold(middle)) if p)


def clean(value: str | None) -> str | None:
    """Trimmed text, or None for empty; inner whitespace collapsed."""
    if value is None:
        return None
    value = " ".join(value.split())
    return value or None


REASON_LIMIT = 2000


def reason_for(value: str | None, change: str) -> str:
    """The reason a client gives for ``change`` ("the stint is corrected"), cleaned: every
    correction and decision says why, in at most REASON_LIMIT characters."""
    why = text_field(value, "reason", REASON_LIMIT)
    if why is None:
        raise InvalidInput(f"Say why {change} (reason).", field="reason")
    return why


def text_field(value: str | None, field: str, limit: int, *, required: bool = False
               ) -> str | None:
    """A client's free text, cleaned; refused when blank but required, or over ``limit``."""
    text = clean(value)
    if text is None and required:
        raise InvalidInput(f"'{field}' is required and cannot be blank.", field=field)
    if text is not None and len(text) > limit:
        raise InvalidInput(f"'{field}' is longer than {limit} characters.", field=field)
    return text
