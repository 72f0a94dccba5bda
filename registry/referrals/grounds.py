"""Statutory grounds for referral: configuration a state edits (TOML), validated strictly.

A file is read once per (path, modification time); any mistake is a ``GroundsConfigError``
naming the file, the ground and the key, raised when the file is loaded (the service loads it
at start-up, see ``registry.app``), never half-applied.
"""

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from registry.employment.models import SeparationReason
from registry.findings.models import Category, DisciplineImposed, Disposition
from registry.settings import Settings

DEFAULT_FILE = Path(__file__).resolve().parent / "grounds.toml"

RULES = ("termination", "separation", "serious_discipline", "pattern", "conviction")
NDI_CATEGORIES = ("misconduct", "dishonesty", "use_of_force", "sexual_misconduct",
                  "criminal_conviction", "pattern_of_misconduct",
                  "separation_under_investigation", "other")
_CODE = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
_COMMON = {"code", "title", "statute", "category", "rule"}
_FINDING_KEYS = {"allegations", "dispositions"}
# Keys each rule accepts besides the common ones.
_RULE_KEYS: dict[str, set[str]] = {
    "termination": _FINDING_KEYS,
    "separation": _FINDING_KEYS | {"separation_reasons"},
    "serious_discipline": _FINDING_KEYS | {"min_suspension_days", "disciplines"},
    "pattern": _FINDING_KEYS | {"count", "years"},
    "conviction": {"felony", "domestic_violence", "misdemeanor_offenses"},
}


class GroundsConfigError(ValueError):
    """The grounds file is wrong; the message names the file, the ground and the key."""


@dataclass(frozen=True)
class Ground:
    code: str
    title: str
    statute: str
    category: str
    rule: str
    allegations: tuple[str, ...] = tuple(c.value for c in Category)
    dispositions: tuple[str, ...] = (Disposition.SUSTAINED.value,)
    separation_reasons: tuple[str, ...] = ()
    min_suspension_days: int = 30
    disciplines: tuple[str, ...] = ()
    count: int = 3
    years: int = 5
    felony: bool = True
    domestic_violence: bool = True
    misdemeanor_offenses: tuple[str, ...] = ()

    def parameters(self) -> dict[str, Any]:
        """The rule's own settings (what the ``grounds`` query shows besides the texts)."""
        keys = _RULE_KEYS[self.rule]
        return {k: (list(v) if isinstance(v, tuple) else v)
                for k, v in self.__dict__.items() if k in keys}


@dataclass(frozen=True)
class Grounds:
    path: Path
    grounds: tuple[Ground, ...] = field(default_factory=tuple)

    def get(self, code: str) -> Ground | None:
        return next((g for g in self.grounds if g.code == code), None)


def grounds_path(settings: Settings) -> Path:
    return Path(settings.grounds_file) if settings.grounds_file else DEFAULT_FILE


def load_grounds(settings: Settings) -> Grounds:
    path = grounds_path(settings)
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as e:
        raise GroundsConfigError(f"{path}: cannot read the grounds file ({e.strerror}).") from None
    return _load(path, mtime)


@lru_cache(maxsize=16)
def _load(path: Path, _mtime: int) -> Grounds:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise GroundsConfigError(f"{path}: cannot read the grounds file ({e}).") from None
    except tomllib.TOMLDecodeError as e:
        raise GroundsConfigError(f"{path}: not valid TOML: {e}.") from None
    unknown = set(raw) - {"ground"}
    if unknown:
        raise GroundsConfigError(f"{path}: unknown top-level key(s) {sorted(unknown)}; the file "
                                 "holds [[ground]] tables only.")
    entries = raw.get("ground", [])
    if not isinstance(entries, list) or not entries:
        raise GroundsConfigError(f"{path}: no [[ground]] tables; define at least one ground.")
    grounds: list[Ground] = []
    for index, entry in enumerate(entries, start=1):
        ground = _ground(path, index, entry)
        if any(g.code == ground.code for g in grounds):
            raise GroundsConfigError(f"{path}: ground '{ground.code}': key 'code': the code is "
                                     "used by an earlier ground; codes must be unique.")
        grounds.append(ground)
    return Grounds(path, tuple(grounds))


def _ground(path: Path, index: int, entry: Any) -> Ground:
    where = f"{path}: ground #{index}"
    if not isinstance(entry, dict):
        raise GroundsConfigError(f"{where}: must be a table.")
    code = entry.get("code")
    if not isinstance(code, str) or not _CODE.match(code):
        raise GroundsConfigError(f"{where}: key 'code': give 1-100 letters, digits, '_' or '-'.")
    where = f"{path}: ground '{code}'"

    def fail(key: str, problem: str) -> GroundsConfigError:
        return GroundsConfigError(f"{where}: key '{key}': {problem}")

    for key in ("title", "statute"):
        value = entry.get(key)
        if not isinstance(value, str) or not value.strip():
            raise fail(key, "required, a non-empty string.")
    category = entry.get("category")
    if category not in NDI_CATEGORIES:
        raise fail("category", f"{category!r} is not one of {', '.join(NDI_CATEGORIES)}.")
    rule = entry.get("rule")
    if rule not in RULES:
        raise fail("rule", f"{rule!r} is not one of {', '.join(RULES)}.")
    allowed = _COMMON | _RULE_KEYS[rule]
    for key in entry:
        if key not in allowed:
            raise fail(key, f"unknown key for rule '{rule}'; allowed: "
                            f"{', '.join(sorted(allowed))}.")
    values: dict[str, Any] = {}

    def choices(key: str, enum: Any, *, empty: bool = False) -> None:
        if key not in entry:
            return
        items = entry[key]
        if not isinstance(items, list) or (not items and not empty):
            raise fail(key, "must be a non-empty list of strings.")
        known = [m.value for m in enum]
        for item in items:
            if item not in known:
                raise fail(key, f"unknown value {item!r}; use {', '.join(known)}.")
        values[key] = tuple(dict.fromkeys(items))

    def integer(key: str, low: int, high: int) -> None:
        if key not in entry:
            return
        value = entry[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise fail(key, f"must be a whole number from {low} to {high} (got {value!r}).")
        values[key] = value

    def flag(key: str) -> None:
        if key in entry:
            if not isinstance(entry[key], bool):
                raise fail(key, f"must be true or false (got {entry[key]!r}).")
            values[key] = entry[key]

    choices("allegations", Category)
    choices("dispositions", Disposition)
    choices("separation_reasons", SeparationReason)
    choices("disciplines", DisciplineImposed, empty=True)
    integer("min_suspension_days", 1, 3650)
    integer("count", 2, 100)
    integer("years", 1, 50)
    flag("felony")
    flag("domestic_violence")
    if "misdemeanor_offenses" in entry:
        offenses = entry["misdemeanor_offenses"]
        if not isinstance(offenses, list) or not all(
                isinstance(o, str) and o.strip() for o in offenses):
            raise fail("misdemeanor_offenses", "must be a list of non-empty strings.")
        values["misdemeanor_offenses"] = tuple(o.strip().lower() for o in offenses)
    if rule == "separation" and "separation_reasons" not in values:
        raise fail("separation_reasons", "required for rule 'separation'.")
    if "disciplines" in values and "suspension" in values["disciplines"]:
        raise fail("disciplines", "list 'suspension' through min_suspension_days instead.")
    if rule == "conviction" and not (values.get("felony", True)
                                     or values.get("domestic_violence", True)
                                     or values.get("misdemeanor_offenses")):
        raise fail("felony", "this conviction ground can never be met; enable felony, "
                             "domestic_violence or list misdemeanor_offenses.")
    return Ground(code=code, title=entry["title"].strip(), statute=entry["statute"].strip(),
                  category=category, rule=rule, **values)
