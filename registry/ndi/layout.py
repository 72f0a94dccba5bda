"""The NDI batch layout: one declarative, versioned specification, read by the export and by
the import, and printed into the README by ``layout_markdown()``.

IADLEST does not publish the National Decertification Index's batch layout, so the registry
keeps its own here. A state that receives the official layout edits this one file:

- ``LAYOUT_VERSION``: say which layout a file follows (kept with every submission);
- ``FILE``: encoding, delimiter, quoting, line ends;
- ``COLUMNS``: rename a column (``name``), reorder them, change a date's ``formats``, map the
  registry's values to the official codes (``Code(code=<in the file>, value=<registry>)``),
  change what is required. ``key`` stays as it is: it is how the import stores a value (and
  the name the export's ``source`` functions use), so renaming a column never touches code;
- ``RECORD_RULES``: checks that span columns.

The export runs in PostgreSQL: ``Layout`` compiles the specification once, on first use,
into one SQL expression per column (its value, its problem, its text in the file) and one per
check, so that the records are checked by one query and written by ``COPY``. A column's
``source`` is an attribute of the export row or a ``Derived`` value: a SQL expression over the
row and the export's settings. The import reads a file back in Python with the same
specification.

The NDI is a pointer system: a record says "state X took action Y against this person on date
Z; call them". Nothing here carries the facts of a case (no summaries, findings, evidence or
public text): only who, which certificate, what action, when, a general reason category and
whom to call.
"""

import functools
import json
import re
import string
import sys
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import date
from enum import StrEnum
from typing import Any

from registry.dates import PartialDate
from registry.referrals.grounds import NDI_CATEGORIES
from registry.states import STATE_CODES

# 1.1: the rescind reasons of "under investigation" records (a reader of 1.0 refuses them).
LAYOUT_VERSION = "registry-ndi-1.1"


class RecordType(StrEnum):
    NEW = "new"
    UPDATE = "update"
    RESCIND = "rescind"


class ActionType(StrEnum):
    REVOCATION = "revocation"
    SUSPENSION = "suspension"
    SURRENDER = "surrender"
    DENIAL = "denial"
    UNDER_INVESTIGATION = "under_investigation"


class RescindReason(StrEnum):
    """Registry values: the decertification action kind that took a final order's record
    back, or why an "under investigation" record (a pending case) was taken back."""

    APPEAL_OVERTURNED = "appeal_overturned"
    REINSTATEMENT = "reinstatement"
    FINAL_ORDER = "final_order"  # the case's final order acted: its own record replaces it
    CLOSED_WITHOUT_ACTION = "closed_without_action"  # closed, or a final order of no action
    NO_LONGER_REPORTED = "no_longer_reported"  # REGISTRY_NDI_UNDER_INVESTIGATION turned off


# When a case rests on several grounds, the record carries the first of their categories in
# this order (the most specific and serious first).
CATEGORY_PRECEDENCE = ("criminal_conviction", "sexual_misconduct", "use_of_force",
                       "dishonesty", "separation_under_investigation", "pattern_of_misconduct",
                       "misconduct", "other")


def _lit(text: str) -> str:
    """A SQL string literal, read the same whatever standard_conforming_strings says."""
    quoted = text.replace("'", "''")
    return f"E'{quoted.replace(chr(92), chr(92) * 2)}'" if "\\" in text else f"'{quoted}'"


def _texts(values: Sequence[str]) -> str:
    return "CAST(ARRAY[" + ", ".join(_lit(v) for v in values) + "] AS text[])"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --- what the export reads --------------------------------------------------------------------

@dataclass(slots=True)
class ExportRow:
    """The columns of one NDI record as the export query returns them
    (``registry/ndi/repository.py``, ``EXPORT_ROWS``), ``r`` in the layout's SQL: the final
    order's decertification action (the record's root), the person it is about as the
    registry holds them now (survivor of any merge), the certificate it moved, and what later
    took it back. An "under investigation" record (with the opt-in) is rooted on a pending
    case instead: its outcome is ``under_investigation``, its date the day the case was
    opened, its certificate the person's."""

    record_id: str  # <state>-<id of the final order's decertification action, or the case>
    record_type: str  # new | update | rescind (repository.BATCH_SELECT decides)
    first_name: str
    middle_name: str | None
    last_name: str
    suffix: str | None
    other_names: list[list[str | None]]  # [last, first, middle]: officer_names and merged
    birth_year: int | None
    birth_month: int | None
    birth_day: int | None
    post_id: str | None
    certificate_number: str | None
    outcome: str  # decertification_actions.outcome of the final order, or under_investigation
    effective_on: date  # the final order's effective date; the day the case was opened
    until_on: date | None  # end of a suspension
    grounds: list[str]  # codes of the case's statutory grounds (grounds.toml)
    rescinded_on: date | None  # effective date of the appeal overturned / reinstatement;
    # the day the case left investigation, or the export's (no longer reported)
    rescind_kind: str | None  # a RescindReason


EXPORT_FIELDS = tuple(f.name for f in fields(ExportRow))


@dataclass(frozen=True)
class ExportContext:
    """What every record of one export shares (from the settings and the grounds file): ``x``
    in the layout's SQL."""

    state: str
    certifying_authority: str
    verification_contact: str
    categories: dict[str, str]  # ground code -> NDI reason category
    opt_ins: frozenset[str] = frozenset()  # settings that are on, e.g. "ndi_under_investigation"

    def sql(self) -> str:
        """``x``: the settings written into the query as literals (not parameters), so that
        PostgreSQL computes what depends on them alone once, as it plans the query."""
        return (f"SELECT CAST({_lit(self.state)} AS text) AS state, "
                f"CAST({_lit(self.certifying_authority)} AS text) AS certifying_authority, "
                f"CAST({_lit(self.verification_contact)} AS text) AS verification_contact, "
                f"CAST({_lit(json.dumps(self.categories))} AS jsonb) AS categories, "
                f"{_texts(sorted(self.opt_ins))} AS opt_ins")


@dataclass(frozen=True)
class Derived:
    """A value the export computes rather than reads: a SQL expression over the export row
    ``r`` and the export's settings ``x``, of the type its column's kind reads (text for a
    text or a code, date, an integer array [year, month, day] for a partial date, a
    two-dimensional text array of [last, first, middle] for a name list). ``problem``, a SQL
    text or NULL, says why there is no value: the record fails with it."""

    name: str  # how the README names it
    # The expression, or a function that writes it when the export's SQL is first compiled
    # (for an expression that is costly to write: not on every import).
    sql: str | Callable[[], str]
    problem: str | None = None
    per_export: bool = False  # of the settings alone: checked once, not for every record

    def expression(self) -> str:
        return self.sql() if callable(self.sql) else self.sql


contributing_state = Derived("contributing_state", "x.state", per_export=True)
certifying_authority = Derived("certifying_authority", "x.certifying_authority",
                               per_export=True)
verification_contact = Derived("verification_contact", "x.verification_contact",
                               per_export=True)
birth_date = Derived("birth_date", "CASE WHEN r.birth_year IS NOT NULL "
                                   "THEN ARRAY[r.birth_year, r.birth_month, r.birth_day] END")
suspension_start = Derived(
    "suspension_start",
    f"CASE WHEN r.outcome = {_lit(ActionType.SUSPENSION)} THEN r.effective_on END")


@functools.cache
def _combining() -> str:
    """The characters unicodedata.combining() counts, as ranges of a SQL bracket expression.
    Written on first use (scanning every code point takes tens of milliseconds), not when
    the module is imported."""
    ranges: list[list[int]] = []
    for c in range(sys.maxunicode + 1):
        if unicodedata.combining(chr(c)):
            if ranges and ranges[-1][1] == c - 1:
                ranges[-1][1] = c
            else:
                ranges.append([c, c])

    def esc(c: int) -> str:
        return f"\\u{c:04x}" if c <= 0xFFFF else f"\\U{c:08x}"

    return "".join(esc(a) if a == b else f"{esc(a)}-{esc(b)}" for a, b in ranges)


def fold_sql(sql: str) -> str:
    """``registry.names.fold`` in SQL: NFKD, combining marks dropped, case folded (lower(),
    and the sharp s as casefold() writes it), whatever is not a-z or 0-9 a space; '' for NULL.
    tests/test_ndi.py holds it equal to fold() for every character."""
    full = (f"regexp_replace(regexp_replace(normalize({sql}, NFKD), '[{_combining()}]', '', "
            f"'g'), '[\\u00df\\u1e9e]', 'ss', 'g')")
    # ASCII (a byte for each character) needs none of the Unicode work.
    return (f"coalesce(btrim(regexp_replace(lower(CASE WHEN octet_length({sql}) = length({sql}) "
            f"THEN {sql} ELSE {full} END), '[^a-z0-9]+', ' ', 'g')), '')")


# The person's other names (prior, maiden, alias, and those of records merged into them),
# each once, leaving out those that differ from the current name only in accents, case,
# punctuation or the middle name (a name without a first name takes the person's). One name,
# the common case, needs no subquery.
def _aliases_sql() -> str:
    return f"""CASE WHEN array_length(r.other_names, 1) = 1 THEN CASE WHEN
  {fold_sql("r.other_names[1][1]")} <> {fold_sql("r.last_name")} OR coalesce(
  nullif({fold_sql("r.other_names[1][2]")}, '') <> {fold_sql("r.first_name")}, false)
  THEN r.other_names END
  WHEN cardinality(r.other_names) > 0 THEN (
  SELECT array_agg(ARRAY[n.last, n.first, n.middle] ORDER BY n.i)
  FROM (SELECT i, r.other_names[i][1] AS last, r.other_names[i][2] AS first,
               r.other_names[i][3] AS middle, k.key, me.key AS own,
               row_number() OVER (PARTITION BY k.key ORDER BY i) AS nth
        FROM (SELECT ARRAY[{fold_sql("r.last_name")}, {fold_sql("r.first_name")}] AS key) AS me,
             generate_subscripts(r.other_names, 1) AS i,
             LATERAL (SELECT ARRAY[{fold_sql("r.other_names[i][1]")},
                                   coalesce(nullif({fold_sql("r.other_names[i][2]")}, ''),
                                            me.key[2])] AS key) AS k) AS n
  WHERE n.nth = 1 AND n.key <> n.own) END"""


aliases = Derived("aliases", _aliases_sql)

# The most serious category among the case's grounds; ``other`` when the action records no
# ground. A ground the grounds file no longer defines has no known category: the record fails
# (put the ground back, with its category, and export again). One or two grounds, the common
# cases, need no subquery.
_PRECEDENCE = _texts(CATEGORY_PRECEDENCE)


def _rank(ground: str) -> str:
    return f"array_position({_PRECEDENCE}, x.categories ->> {ground})"


reason_category = Derived(
    "reason_category",
    f"CASE cardinality(r.grounds) WHEN 0 THEN 'other' WHEN 1 THEN coalesce(({_PRECEDENCE})["
    f"{_rank('r.grounds[1]')}], 'other') WHEN 2 THEN coalesce(({_PRECEDENCE})[least("
    f"{_rank('r.grounds[1]')}, {_rank('r.grounds[2]')})], 'other') ELSE (SELECT "
    f"coalesce(({_PRECEDENCE})[min({_rank('g')})], 'other') FROM unnest(r.grounds) AS g) END",
    problem="CASE WHEN NOT r.grounds <@ ARRAY(SELECT jsonb_object_keys(x.categories)) THEN "
            "(SELECT 'ground ''' || g || ''' is not in the grounds file, so its NDI category "
            "is unknown' FROM unnest(r.grounds) WITH ORDINALITY AS u(g, i) "
            "WHERE x.categories ->> g IS NULL ORDER BY i LIMIT 1) END")


# --- the specification's vocabulary -------------------------------------------------------------

class Kind(StrEnum):
    TEXT = "text"
    CODE = "code"
    DATE = "date"
    PARTIAL_DATE = "partial date"
    NAMES = "name list"


@dataclass(frozen=True)
class Code:
    code: str  # as written in the file
    value: str  # the registry's value
    # A setting that must be true for the export to send it, except in a rescind: taking back
    # what was sent while the setting was on must not wait for it to be on again.
    opt_in: str | None = None


def codes(*values: str) -> tuple[Code, ...]:
    """Codes written in the file as the registry names them."""
    return tuple(Code(v, v) for v in values)


@dataclass(frozen=True)
class When:
    """A condition on another column (by key): its registry value is one of ``values``."""

    key: str
    values: tuple[str, ...]

    def holds(self, values: dict[str, Any]) -> bool:
        return values.get(self.key) in self.values


@dataclass(frozen=True)
class FileFormat:
    encoding: str = "utf-8"
    delimiter: str = ","  # one ASCII character, as are the quotes (COPY writes them)
    quotechar: str = '"'
    line_end: str = "\r\n"


@dataclass(frozen=True)
class Column:
    name: str  # the header in the file
    key: str  # the registry's name for the value (import stores it under this name)
    kind: Kind
    description: str
    # Where the export takes the value: an attribute of ExportRow, or a Derived value.
    source: str | Derived
    required: bool = False
    required_when: When | None = None
    blank_unless: When | None = None  # must be empty unless the condition holds
    max_length: int | None = None
    # A text value must match: a regular expression that Python (import) and PostgreSQL
    # (export) read alike; it is anchored at the start as re.match does.
    pattern: str | None = None
    formats: tuple[str, ...] = ()  # dates: YYYY, MM, DD and literal characters
    codes: tuple[Code, ...] = ()
    codes_doc: str | None = None  # how the README names a long code list


@dataclass(frozen=True)
class RecordRule:
    """A check across columns: when both dates are there, ``later`` comes after ``earlier``
    (or on the same day, unless ``strictly``). ``problem`` names them as ``{earlier}`` and
    ``{later}``. The import checks it in Python (``check``), the export in SQL (``sql``)."""

    description: str
    earlier: str  # keys of date columns
    later: str
    strictly: bool
    problem: str

    def check(self, values: dict[str, Any]) -> str | None:
        earlier, later = values.get(self.earlier), values.get(self.later)
        if earlier and later and (later <= earlier if self.strictly else later < earlier):
            return self.problem.format(earlier=earlier, later=later)
        return None

    def sql(self, value: Callable[[str], str]) -> str:
        """The problem or NULL, ``value(key)`` being the SQL of a column's value."""
        earlier, later = value(self.earlier), value(self.later)
        named = {"earlier": earlier, "later": later}
        text = []
        for literal, name, _spec, _conversion in string.Formatter().parse(self.problem):
            if literal:
                text.append(_lit(literal))
            if name is not None:
                text.append(f"to_char({named[name]}, 'YYYY-MM-DD')")  # as str(date)
        return (f"CASE WHEN {earlier} IS NOT NULL AND {later} IS NOT NULL AND "
                f"{later} {'<=' if self.strictly else '<'} {earlier} "
                f"THEN {' || '.join(text)} END")


# --- the layout -------------------------------------------------------------------------------

FILE = FileFormat()

_FINAL = (ActionType.REVOCATION, ActionType.SUSPENSION, ActionType.SURRENDER)
SUSPENDED = When("action_type", (ActionType.SUSPENSION.value,))
RESCINDED = When("record_type", (RecordType.RESCIND.value,))
_NAME = 100

COLUMNS: tuple[Column, ...] = (
    Column("record_id", "record_id", Kind.TEXT, required=True, max_length=100,
           pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$", source="record_id",
           description="Stable id of the record: the contributing state and the id of the "
                       "final order's decertification action (of the case, for "
                       "under_investigation). An update or rescind of the same record "
                       "carries the same id."),
    Column("record_type", "record_type", Kind.CODE, required=True, source="record_type",
           codes=codes(*RecordType),
           description="new: first time sent. update: sent before and changed since (an "
                       "appeal upheld, a corrected name, date of birth or certificate). "
                       "rescind: take the record back (appeal overturned, reinstatement; "
                       "under_investigation: the case ended, or is no longer reported)."),
    Column("contributing_state", "contributing_state", Kind.CODE, required=True,
           source=contributing_state, codes=codes(*sorted(STATE_CODES)),
           codes_doc="two-letter postal code", description="The state that took the action "
                                                           "(REGISTRY_STATE)."),
    Column("certifying_authority", "certifying_authority", Kind.TEXT, required=True,
           max_length=200, source=certifying_authority,
           description="The board that certifies officers (REGISTRY_NDI_CERTIFYING_AUTHORITY)."),
    Column("verification_contact", "verification_contact", Kind.TEXT, required=True,
           max_length=300, source=verification_contact,
           description="Whom to call to verify the record (REGISTRY_NDI_CONTACT)."),
    Column("last_name", "last_name", Kind.TEXT, required=True, max_length=_NAME,
           source="last_name", description="The person's current last name."),
    Column("first_name", "first_name", Kind.TEXT, required=True, max_length=_NAME,
           source="first_name", description="First name."),
    Column("middle_name", "middle_name", Kind.TEXT, max_length=_NAME, source="middle_name",
           description="Middle name or initial."),
    Column("suffix", "suffix", Kind.TEXT, max_length=20, source="suffix",
           description="Jr., Sr., III..."),
    Column("aliases", "aliases", Kind.NAMES, source=aliases,
           description="Other names of the person: prior, maiden and alias names and the "
                       "names of records merged into them (at most 20)."),
    Column("date_of_birth", "date_of_birth", Kind.PARTIAL_DATE, source=birth_date,
           formats=("YYYY-MM-DD", "YYYY-MM", "YYYY"),
           description="As precise as the registry knows it."),
    Column("certificate_number", "certificate_number", Kind.TEXT, max_length=40,
           required_when=When("action_type", tuple(a.value for a in _FINAL)),
           source="certificate_number",
           description="The state certificate the action moved; a denial of someone never "
                       "certified has none. under_investigation: the person's certificate "
                       "of this state issued last (one not revoked, surrendered or denied "
                       "first), if any."),
    Column("post_id", "post_id", Kind.TEXT, max_length=40, source="post_id",
           description="The person's state POST id, when the registry has one."),
    Column("action_type", "action_type", Kind.CODE, required=True, source="outcome",
           codes=(*codes(*(a.value for a in ActionType if a is not ActionType.UNDER_INVESTIGATION)),
                  Code(ActionType.UNDER_INVESTIGATION.value,
                       ActionType.UNDER_INVESTIGATION.value, "ndi_under_investigation")),
           description="What the board ordered (surrender: voluntary surrender); "
                       "under_investigation: a decertification case is pending."),
    Column("action_date", "action_date", Kind.DATE, required=True, formats=("YYYY-MM-DD",),
           source="effective_on", description="The final order's effective date; "
                                               "under_investigation: the day the case was "
                                               "opened."),
    Column("suspension_start", "suspension_start", Kind.DATE, formats=("YYYY-MM-DD",),
           required_when=SUSPENDED, blank_unless=SUSPENDED, source=suspension_start,
           description="First day of a suspension (the action date)."),
    Column("suspension_end", "suspension_end", Kind.DATE, formats=("YYYY-MM-DD",),
           required_when=SUSPENDED, blank_unless=SUSPENDED, source="until_on",
           description="The day a suspension ends by itself; the record keeps it after that "
                       "day (a past suspension is history, not a rescind)."),
    Column("reason_category", "reason_category", Kind.CODE, required=True,
           source=reason_category, codes=codes(*NDI_CATEGORIES),
           description="General reason: the most serious `category` of the case's grounds "
                       "in grounds.toml (no case facts)."),
    Column("rescinded_on", "rescinded_on", Kind.DATE, formats=("YYYY-MM-DD",),
           required_when=RESCINDED, blank_unless=RESCINDED, source="rescinded_on",
           description="Effective date of what took the record back; under_investigation: "
                       "the day the case left investigation (its final order or closing was "
                       "recorded), or the export's when no longer reported."),
    Column("rescind_reason", "rescind_reason", Kind.CODE, required_when=RESCINDED,
           blank_unless=RESCINDED, source="rescind_kind",
           codes=(Code("appeal_overturned", RescindReason.APPEAL_OVERTURNED.value),
                  Code("reinstated", RescindReason.REINSTATEMENT.value),
                  *codes(RescindReason.FINAL_ORDER, RescindReason.CLOSED_WITHOUT_ACTION,
                         RescindReason.NO_LONGER_REPORTED)),
           description="Why the record is taken back. under_investigation: final_order (the "
                       "case's final order acted; its own record is sent), "
                       "closed_without_action (dismissed, or a final order of no action), "
                       "no_longer_reported (REGISTRY_NDI_UNDER_INVESTIGATION turned off)."),
)

RECORD_RULES: tuple[RecordRule, ...] = (
    RecordRule("suspension_end comes after suspension_start", "suspension_start",
               "suspension_end", strictly=True,
               problem="suspension_end {later} must come after suspension_start {earlier}"),
    RecordRule("rescinded_on is not before action_date", "action_date", "rescinded_on",
               strictly=False, problem="rescinded_on {later} comes before the action date "
                                       "{earlier}"),
)

MAX_ALIASES = 20


# --- reading and writing values ---------------------------------------------------------------

class LayoutError(ValueError):
    """A value does not fit its column; the message says why."""


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_SQL = r"'[\x01-\x1f\x7f]'"  # the same in PostgreSQL, whose text holds no NUL
_EMPTY: tuple[Any, ...] = (None, "", [])
_TOKENS = {"YYYY": r"(?P<y>\d{4})", "MM": r"(?P<m>\d{2})", "DD": r"(?P<d>\d{2})"}
_TOKEN = re.compile(r"YYYY|MM|DD")
_WIDTHS = {"YYYY": 4, "MM": 2, "DD": 2}


@dataclass(frozen=True)
class DateFormat:
    text: str  # e.g. YYYY-MM-DD
    regex: re.Pattern[str]
    parts: tuple[str, ...]  # the tokens and the literal text between them, in order
    precision: int  # 3 day, 2 month, 1 year

    @classmethod
    def of(cls, text: str) -> "DateFormat":
        regex, parts, pos = "", [], 0
        for m in _TOKEN.finditer(text):
            literal = text[pos:m.start()]
            regex += re.escape(literal) + _TOKENS[m.group()]
            parts += [literal, m.group()] if literal else [m.group()]
            pos = m.end()
        regex += re.escape(text[pos:])
        if text[pos:]:
            parts.append(text[pos:])
        tokens = set(_TOKEN.findall(text))
        if "YYYY" not in tokens or ("DD" in tokens and "MM" not in tokens):
            raise ValueError(f"date format {text!r} needs YYYY, and MM with DD")
        return cls(text, re.compile(f"^{regex}$"), tuple(parts), len(tokens))

    def to_char(self) -> str:
        """The format as a pattern of PostgreSQL's to_char(), the literal text quoted."""
        return "".join(p if p in _TOKENS else
                       '"' + p.replace("\\", "\\\\").replace('"', '\\"') + '"'
                       for p in self.parts)

    def sql(self, year: str, month: str, day: str) -> str:
        """The text of a date given as SQL integers, zero-padded (years 0-9999)."""
        given = {"YYYY": year, "MM": month, "DD": day}
        return " || ".join(f"lpad(CAST({given[p]} AS text), {_WIDTHS[p]}, '0')"
                           if p in given else _lit(p) for p in self.parts)

    def parse(self, text: str) -> tuple[int, int | None, int | None] | None:
        m = self.regex.match(text)
        if m is None:
            return None
        groups = m.groupdict()
        return (int(groups["y"]), int(groups["m"]) if groups.get("m") else None,
                int(groups["d"]) if groups.get("d") else None)


_PARTIAL_STR = tuple(DateFormat.of(f) for f in ("YYYY", "YYYY-MM", "YYYY-MM-DD"))  # str()


def _clean(text: str) -> str:
    return " ".join(text.split())


class Field:
    """A column compiled: for the export, the SQL of its value, of what is wrong with it and
    of its text in the file; for the import, ``parse`` (text -> registry value, raising
    LayoutError with the reason)."""

    def __init__(self, column: Column) -> None:
        self.column = column
        self.name, self.key, self.kind = column.name, column.key, column.kind
        self.pattern = re.compile(column.pattern) if column.pattern else None
        self.to_file = {c.value: c for c in column.codes}
        self.from_file = {c.code: c for c in column.codes}
        self.dates = tuple(DateFormat.of(f) for f in column.formats)
        self.by_precision: dict[int, DateFormat] = {}
        for f in reversed(self.dates):
            self.by_precision[f.precision] = f
        if self.kind in (Kind.DATE, Kind.PARTIAL_DATE) and not self.dates:
            raise ValueError(f"column {column.name}: a date needs its formats")
        if self.kind is Kind.CODE and not column.codes:
            raise ValueError(f"column {column.name}: a code column needs its codes")
        if isinstance(column.source, str) and column.source not in EXPORT_FIELDS:
            raise ValueError(f"column {column.name}: ExportRow has no field {column.source!r}")

    # export: SQL over the export row ``r`` and the settings ``x``, then over the value ``v``
    def value_sql(self) -> str:
        source = self.column.source
        sql = f"r.{_ident(source)}" if isinstance(source, str) else f"({source.expression()})"
        return f"CAST({sql} AS text)" if self.kind in (Kind.TEXT, Kind.CODE) else sql

    def empty_sql(self, v: str) -> str:
        """Whether the value is empty: written as an empty field, and never checked."""
        if self.kind in (Kind.TEXT, Kind.CODE):
            return f"coalesce({v}, '') = ''"
        if self.kind is Kind.NAMES:
            return f"coalesce(cardinality({v}), 0) = 0"
        return f"{v} IS NULL"

    def quick_sql(self, v: str) -> str | None:
        """A cheaper stand-in for the check where the check is costly (a subquery per record):
        true only when the check finds nothing wrong (it may be false, or NULL, when all is
        well: the record is then checked in full). None: the check is quick itself."""
        if self.kind is not Kind.NAMES:
            return None
        parts = f"array_to_string({v}, '')"  # all of them: more than the check reads
        return (f"({self.empty_sql(v)} OR ({parts} !~ '[,;\\x01-\\x1f\\x7f]' AND "
                f"octet_length({parts}) <= {_NAME}))")

    def check_sql(self, v: str, opt_ins: str, rescinding: str, control: bool = True
                  ) -> str | None:
        """What is wrong with a value that is not empty (text), or NULL; None when every
        value of this column has its text (a date). ``opt_ins``: SQL of the settings that are
        on; ``rescinding``: SQL, true when the record is a rescind (it may carry a code whose
        setting is off). ``control``: whether a text's check looks for control characters
        (the quick test looks once for all text columns)."""
        c = self.column
        if self.kind is Kind.TEXT:
            whens = [f"WHEN {v} ~ {_CONTROL_SQL} "
                     "THEN 'contains a line break or control character'"] if control else []
            if c.max_length is not None:
                whens.append(f"WHEN length({v}) > {c.max_length} THEN 'is ' || length({v}) "
                             f"|| ' characters long; at most {c.max_length}'")
            if c.pattern is not None:
                whens.append(f"WHEN {v} !~ {_lit('^(?:' + c.pattern + ')')} THEN '''' || {v} "
                             f"|| {_lit(chr(39) + ' does not match ' + c.pattern)}")
            return "CASE " + " ".join(whens) + " END" if whens else None
        if self.kind is Kind.CODE:
            plain = [value for value, code in self.to_file.items() if not code.opt_in]
            whens = [f"WHEN {v} = ANY({_texts(plain)}) THEN NULL"] if plain else []
            for value, code in self.to_file.items():
                if code.opt_in:
                    refused = (f"'{code.code}' is sent only when REGISTRY_"
                               f"{code.opt_in.upper()} is true")
                    whens.append(f"WHEN {v} = {_lit(value)} THEN CASE WHEN "
                                 f"{_lit(code.opt_in)} <> ALL({opt_ins}) AND NOT {rescinding} "
                                 f"THEN {_lit(refused)} END")
            unknown = "' has no code in this layout; codes: " + ", ".join(self.to_file)
            return "CASE " + " ".join(whens) + f" ELSE '''' || {v} || {_lit(unknown)} END"
        if self.kind is Kind.PARTIAL_DATE:
            missing = [p for p in (1, 2, 3) if p not in self.by_precision]
            if not missing:
                return None
            return (f"CASE {self._precision(v)} " + " ".join(
                f"WHEN {p} THEN {_PARTIAL_STR[p - 1].sql(*self._parts(v))} "
                "|| ' is partial; the layout has no format for it'" for p in missing) + " END")
        if self.kind is Kind.NAMES:
            bad = "n.part ~ '[,;\\x01-\\x1f\\x7f]'"
            return (f"(SELECT CASE WHEN {bad} THEN 'the name ''' || n.part || ''' contains "
                    f"'','' '';'' or a line break' ELSE 'a name part is longer than {_NAME} "
                    f"characters' END FROM {self._names(v)} AS i, generate_series(1, 3) AS j, "
                    f"LATERAL (SELECT {v}[i][j] AS part) AS n WHERE n.part <> '' AND ({bad} OR "
                    f"length(n.part) > {_NAME}) ORDER BY i, j LIMIT 1)")
        return None

    def text_sql(self, v: str) -> str:
        """The value's text in the file (what a value with a problem gives is never used)."""
        if self.kind is Kind.TEXT:
            return v
        if self.kind is Kind.CODE:
            mapped = [(value, code.code) for value, code in self.to_file.items()
                      if value != code.code]
            if not mapped:
                return v
            return (f"CASE {v} " + " ".join(f"WHEN {_lit(a)} THEN {_lit(b)}" for a, b in mapped)
                    + f" ELSE {v} END")
        if self.kind is Kind.DATE:
            return f"to_char({v}, {_lit(self.dates[0].to_char())})"
        if self.kind is Kind.PARTIAL_DATE:
            return (f"CASE {self._precision(v)} " + " ".join(
                f"WHEN {p} THEN {f.sql(*self._parts(v))}" for p, f in self.by_precision.items())
                + " END")
        def entry(last: str, given: str) -> str:
            return f"CASE WHEN {given} <> '' THEN {last} || ', ' || {given} ELSE {last} END"

        def given(i: str) -> str:
            return f"concat_ws(' ', nullif({v}[{i}][2], ''), nullif({v}[{i}][3], ''))"

        # One name, the common case, needs no subquery.
        return (f"CASE WHEN array_length({v}, 1) = 1 THEN {entry(f'{v}[1][1]', given('1'))} "
                f"WHEN NOT ({self.empty_sql(v)}) THEN (SELECT string_agg("
                f"{entry('n.last', 'n.given')}, '; ' ORDER BY n.i) FROM (SELECT i, {v}[i][1] "
                f"AS last, {given('i')} AS given FROM {self._names(v)} AS i) AS n) END")

    @staticmethod
    def _parts(v: str) -> tuple[str, str, str]:
        return f"{v}[1]", f"{v}[2]", f"{v}[3]"

    @staticmethod
    def _precision(v: str) -> str:
        return f"(CASE WHEN {v}[2] IS NULL THEN 1 WHEN {v}[3] IS NULL THEN 2 ELSE 3 END)"

    @staticmethod
    def _names(v: str) -> str:
        # The first ones: the layout keeps at most MAX_ALIASES.
        return f"generate_series(1, least(coalesce(array_length({v}, 1), 0), {MAX_ALIASES}))"

    # import
    def parse(self, raw: str) -> Any:
        text = _clean(raw)
        if not text:
            return None
        kind = self.kind
        if kind is Kind.TEXT:
            self._check_text(text)
            return text
        if kind is Kind.CODE:
            code = self.from_file.get(text)
            if code is None:
                shown = self.column.codes_doc or ", ".join(self.from_file)
                raise LayoutError(f"'{text}' is not a code of this column ({shown})")
            return code.value
        if kind is Kind.DATE:
            parts = self.dates[0].parse(text)
            if parts is None or parts[1] is None or parts[2] is None:
                raise LayoutError(f"'{text}' is not a date in the format {self.dates[0].text}")
            try:
                return date(*parts)  # type: ignore[arg-type]
            except ValueError:
                raise LayoutError(f"'{text}' is not a calendar date") from None
        if kind is Kind.PARTIAL_DATE:
            for fmt in self.dates:
                parts = fmt.parse(text)
                if parts is not None:
                    year, month, day = parts
                    if month is not None and not 1 <= month <= 12:
                        raise LayoutError(f"'{text}': month {month} does not exist")
                    if day is not None:
                        try:
                            date(year, month, day)  # type: ignore[arg-type]
                        except ValueError:
                            raise LayoutError(f"'{text}' is not a calendar date") from None
                    return PartialDate(year, month, day)
            raise LayoutError(f"'{text}' is not a date in the format "
                              f"{' or '.join(f.text for f in self.dates)}")
        return self._parse_names(text)

    def _check_text(self, text: str) -> None:
        if _CONTROL.search(text):
            raise LayoutError("contains a line break or control character")
        limit = self.column.max_length
        if limit is not None and len(text) > limit:
            raise LayoutError(f"is {len(text)} characters long; at most {limit}")
        if self.pattern is not None and not self.pattern.match(text):
            raise LayoutError(f"'{text}' does not match {self.column.pattern}")

    def _parse_names(self, text: str) -> list[list[str | None]]:
        names: list[list[str | None]] = []
        for entry in text.split(";"):
            entry = entry.strip()
            if not entry:
                continue
            last, _, given = (p.strip() for p in entry.partition(","))
            words = given.split()
            if not last:
                raise LayoutError(f"'{entry}' has no last name; write 'Last, First Middle'")
            if any(len(p) > _NAME for p in (last, *words)):
                raise LayoutError(f"a name part of '{entry}' is longer than {_NAME} characters")
            names.append([last, words[0] if words else None,
                          " ".join(words[1:]) or None])
        if len(names) > MAX_ALIASES:
            raise LayoutError(f"{len(names)} names; at most {MAX_ALIASES}")
        return names


@dataclass(frozen=True)
class Problem:
    column: str  # the column's name in the file, or "record"
    reason: str

    def __str__(self) -> str:
        return f"{self.column}: {self.reason}"


@dataclass(frozen=True)
class _Export:
    """The export's SQL as ``Layout`` compiles it."""

    sql: str  # one row per record, with the rows and the settings (\0rows\0, \0x\0) to put in
    slot_columns: tuple[str, ...]  # the column each entry of ``problems`` is about
    checked: int  # the entries before the record rules


class Layout:
    """The specification compiled once: the export's SQL (``records_sql``, ``copy_sql``,
    read back by ``problems``) and the import's ``parse``."""

    def __init__(self, version: str, file: FileFormat, columns: tuple[Column, ...],
                 rules: tuple[RecordRule, ...]) -> None:
        self.version, self.file, self.columns, self.rules = version, file, columns, rules
        self.fields = tuple(Field(c) for c in columns)
        self.header = tuple(c.name for c in columns)
        self.by_key = {f.key: f for f in self.fields}
        names = [c.name for c in columns]
        keys = [c.key for c in columns]
        if len(set(names)) != len(names) or len(set(keys)) != len(keys):
            raise ValueError("column names and keys must be unique")
        for c in columns:
            for cond in (c.required_when, c.blank_unless):
                if cond is not None and cond.key not in self.by_key:
                    raise ValueError(f"column {c.name}: no column has key {cond.key!r}")
                if cond is not None and self.by_key[cond.key].kind not in (Kind.TEXT,
                                                                          Kind.CODE):
                    raise ValueError(f"column {c.name}: a condition is on a text or a code")
            if len(c.name.encode()) > 63:
                raise ValueError(f"column {c.name}: PostgreSQL names (the export's header) "
                                 "are at most 63 bytes")
        for rule in rules:
            for key in (rule.earlier, rule.later):
                if key not in self.by_key or self.by_key[key].kind is not Kind.DATE:
                    raise ValueError(f"rule {rule.description!r}: {key!r} is not a date column")
        for char in (file.delimiter, file.quotechar):
            if len(char) != 1 or not char.isascii() or char in "\r\n":
                raise ValueError("the delimiter and the quote are one ASCII character each "
                                 "(COPY writes them)")
        self._conditional = tuple(f for f in self.fields if f.column.required_when
                                  or f.column.blank_unless)
        self._required = tuple(f for f in self.fields if f.column.required)
        self._required_keys = tuple(f.key for f in self._required)

    @functools.cached_property
    def _export(self) -> _Export:
        """The export's query, from the specification, compiled on first use. Each column's
        value ``v<i>`` (and ``q<i>``, why a derived value cannot be had) is computed once per
        record (OFFSET 0 keeps PostgreSQL from copying the expression into every place that
        uses it), but a value of the settings alone stays an expression of ``x``, which
        PostgreSQL computes and checks once. Then each column's text ``f<i>``, NULL when empty
        so that COPY writes it bare, and the record's ``problems``: NULL when a quick test
        passes, else each check's problem in the order the import lists them (each column's,
        then the required and conditional columns, a column whose value failed counting as
        empty, then the record rules), or NULL if none fails. The quick test is the checks
        themselves (none finds a problem, every column taken to fit in the checks across
        columns, as it must for the test to pass), with a column's cheaper ``quick_sql`` where
        its check is costly."""
        index = {f.key: i for i, f in enumerate(self.fields)}
        values = ["r.record_id AS record_id", "r.record_type AS record_type"]
        value: list[str] = []  # SQL of each column's value
        quick: list[str] = []  # SQL of a check's problem: the quick test wants them all NULL
        tests: list[str] = []  # true when a check would find nothing
        controlled: list[str] = []  # the texts whose control characters are looked for once
        problems: list[str] = []
        slots: list[tuple[str, str]] = []  # (column, SQL of its problem or NULL)

        def problem_of(f: Field, v: str, check: str | None) -> str | None:
            return f"CASE WHEN {f.empty_sql(v)} THEN NULL ELSE {check} END" if check else None

        rescinding = f"v.record_type = {_lit(RecordType.RESCIND.value)}"

        for i, f in enumerate(self.fields):
            source = f.column.source
            once = isinstance(source, Derived) and source.per_export
            if once:
                value.append(f.value_sql())
            else:
                values.append(f"{f.value_sql()} AS v{i}")
                value.append(f"v.v{i}")
            v = value[i]
            problem = problem_of(f, v, f.check_sql(v, "x.opt_ins", rescinding))
            if test := f.quick_sql(v):
                tests.append(test)
            elif f.kind is Kind.TEXT and not once:
                # Every text's check looks for control characters: the quick test does it
                # once over all of them (one regular expression per record, not one per
                # column: most of what the test would cost), then the rest of each check.
                controlled.append(v)
                if lean := problem_of(f, v, f.check_sql(v, "x.opt_ins", rescinding,
                                                        control=False)):
                    quick.append(lean)
            elif problem:
                quick.append(problem)
            if isinstance(source, Derived) and source.problem:
                q = f"({source.problem})"
                if not once:
                    values.append(f"{q} AS q{i}")
                    q = f"v.q{i}"
                quick.append(q)
                problem = f"coalesce({q}, {problem})" if problem else q
            problems.append(f"{problem or 'CAST(NULL AS text)'} AS p{i}")
            if problem:
                slots.append((f.name, f"p.p{i}"))

        def across(listed: bool) -> list[tuple[str, str]]:
            """The checks across columns, each (column, SQL of its problem or NULL): in the
            listing a column whose value failed (``p.p<i>``) counts as empty; in the quick
            test every column is taken to fit."""
            def fits(i: int) -> str:
                return f"p.p{i} IS NULL AND " if listed else ""

            def filled(i: int) -> str:
                return f"({fits(i)}NOT {self.fields[i].empty_sql(value[i])})"

            def holds(when: When) -> str:
                j = index[when.key]
                return f"coalesce({fits(j)}{value[j]} = ANY({_texts(when.values)}), false)"

            checks = []
            for f in self._required:
                i = index[f.key]
                checks.append((f.name, f"CASE WHEN {fits(i)}{f.empty_sql(value[i])} "
                                       "THEN 'required' END"))
            for f in self._conditional:
                i, c = index[f.key], f.column
                if c.required_when:
                    why = (f"required when {self.by_key[c.required_when.key].name} is "
                           f"{self._codes(c.required_when)}")
                    checks.append((f.name, f"CASE WHEN NOT {filled(i)} AND "
                                           f"{holds(c.required_when)} THEN {_lit(why)} END"))
                if c.blank_unless:
                    why = (f"must be empty unless {self.by_key[c.blank_unless.key].name} is "
                           f"{self._codes(c.blank_unless)}")
                    checks.append((f.name, f"CASE WHEN {filled(i)} AND NOT "
                                           f"{holds(c.blank_unless)} THEN {_lit(why)} END"))
            return checks

        slots += across(listed=True)
        quick += [sql for _, sql in across(listed=False)]
        checked = len(slots)  # the rules come after: they count only when these hold
        for rule in self.rules:
            broken = rule.sql(lambda key: value[index[key]])
            slots.append(("record", broken))
            quick.append(broken)
        if controlled:
            tests.append(f"concat({', '.join(controlled)}) !~ {_CONTROL_SQL}")
        listed = ", ".join(sql for _, sql in slots)
        passes = " AND ".join(([f"coalesce({', '.join(quick)}) IS NULL"] if quick else [])
                              + tests) or "true"
        texts = ", ".join(f"nullif({f.text_sql(value[i])}, '') AS f{i + 1}"
                          for i, f in enumerate(self.fields))
        return _Export(
            sql=f"SELECT v.record_id, v.record_type, CASE WHEN {passes} THEN NULL ELSE ("
                f"SELECT CASE WHEN coalesce({listed}) IS NOT NULL THEN ARRAY[{listed}] END "
                f"FROM (SELECT {', '.join(problems)}) AS p) END AS problems, {texts} "
                f"FROM (SELECT {', '.join(values)} FROM (\0rows\0) AS r CROSS JOIN (\0x\0) AS x "
                f"OFFSET 0) AS v CROSS JOIN (\0x\0) AS x",
            slot_columns=tuple(column for column, _ in slots), checked=checked)

    def records_sql(self, rows: str, ctx: ExportContext) -> str:
        """One row per record of the query ``rows`` (ExportRow's columns) under the settings
        ``ctx``: ``record_id`` and ``record_type`` as the row has them, ``problems`` (NULL
        when the record fits, else for ``problems()``) and the file's fields ``f1``...``fn``."""
        return self._export.sql.replace("\0rows\0", rows).replace("\0x\0", ctx.sql())

    def problems(self, slots: Sequence[str | None]) -> list[Problem]:
        """A failing record's problems from its ``problems`` column."""
        columns, checked = self._export.slot_columns, self._export.checked
        found = [Problem(c, r) for c, r in zip(columns[:checked], slots[:checked], strict=True)
                 if r]
        return found or [Problem("record", r) for r in slots[checked:] if r]

    def copy_query(self, source: str) -> tuple[str, dict[str, Any]]:
        """The query and the COPY options (asyncpg's ``copy_from_query``) that write the
        fields of ``source`` (a relation with records_sql's columns) as this layout's CSV,
        header first, quoted where Python's csv.QUOTE_MINIMAL quotes: a field holding the
        delimiter, the quote or a line break (an empty field is NULL, which COPY writes bare;
        it would quote an empty string). COPY ends lines with LF: the export writes the
        layout's line end."""
        f = self.file
        columns = ", ".join(f"f{i} AS {_ident(name)}" for i, name in enumerate(self.header, 1))
        return (f"SELECT {columns} FROM {source}",
                {"format": "csv", "header": True, "delimiter": f.delimiter,
                 "quote": f.quotechar})

    def _check_record(self, values: dict[str, Any], problems: list[Problem]) -> None:
        get = values.get
        if not all(get(k) not in _EMPTY for k in self._required_keys):
            for f in self._required:
                if get(f.key) in _EMPTY and not any(p.column == f.name for p in problems):
                    problems.append(Problem(f.name, "required"))
        for f in self._conditional:
            c = f.column
            present = values.get(f.key) not in _EMPTY
            if c.required_when and not present and c.required_when.holds(values):
                other = self.by_key[c.required_when.key].name
                problems.append(Problem(f.name, f"required when {other} is "
                                                f"{self._codes(c.required_when)}"))
            if c.blank_unless and present and not c.blank_unless.holds(values):
                other = self.by_key[c.blank_unless.key].name
                problems.append(Problem(f.name, f"must be empty unless {other} is "
                                                f"{self._codes(c.blank_unless)}"))
        if not problems:
            for rule in self.rules:
                problem = rule.check(values)
                if problem:
                    problems.append(Problem("record", problem))

    def _codes(self, when: When) -> str:
        f = self.by_key[when.key]
        return " or ".join(f.to_file[v].code if v in f.to_file else v for v in when.values)

    def parse(self, record: dict[str, str]) -> tuple[dict[str, Any], list[Problem]]:
        """A file record (column name -> text) as registry values by key, and its problems."""
        values: dict[str, Any] = {}
        problems: list[Problem] = []
        for f in self.fields:
            try:
                values[f.key] = f.parse(record.get(f.name, ""))
            except LayoutError as e:
                values[f.key] = None
                problems.append(Problem(f.name, str(e)))
        self._check_record(values, problems)
        return values, problems

    def required_columns(self) -> tuple[str, ...]:
        """Columns a file must have in its header (those that are or can be required)."""
        return tuple(c.name for c in self.columns if c.required or c.required_when)


LAYOUT = Layout(LAYOUT_VERSION, FILE, COLUMNS, RECORD_RULES)


# --- the README table -------------------------------------------------------------------------

def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _format_doc(c: Column) -> str:
    if c.kind is Kind.TEXT:
        doc = f"at most {c.max_length} characters" if c.max_length else "text"
        return doc + (f", matching `{c.pattern}`" if c.pattern else "")
    if c.kind in (Kind.DATE, Kind.PARTIAL_DATE):
        return " or ".join(f"`{f}`" for f in c.formats)
    if c.kind is Kind.NAMES:
        return f"`Last, First Middle` entries separated by `;` (at most {MAX_ALIASES})"
    return "one of the codes"


def _codes_doc(c: Column) -> str:
    if not c.codes:
        return ""
    if c.codes_doc:
        return c.codes_doc
    shown = []
    for code in c.codes:
        text = f"`{code.code}`"
        if code.code != code.value:
            text += f" (registry: {code.value})"
        if code.opt_in:
            text += f" (only with REGISTRY_{code.opt_in.upper()}=true, or in a rescind)"
        shown.append(text)
    return ", ".join(shown)


def _required_doc(layout: Layout, c: Column) -> str:
    if c.required:
        return "yes"
    parts = []
    if c.required_when:
        f = layout.by_key[c.required_when.key]
        parts.append(f"when `{f.name}` is {_when_codes(layout, c.required_when)}")
    if c.blank_unless:
        if c.blank_unless == c.required_when:
            parts.append("empty otherwise")
        else:
            f = layout.by_key[c.blank_unless.key]
            parts.append(f"empty unless `{f.name}` is {_when_codes(layout, c.blank_unless)}")
    return "; ".join(parts) or "no"


def _when_codes(layout: Layout, when: When) -> str:
    return " or ".join(f"`{layout._codes(When(when.key, (v,)))}`" for v in when.values)


def _source_doc(c: Column) -> str:
    if isinstance(c.source, str):
        return f"`row.{c.source}`"
    return f"`{c.source.name}()`"


def layout_markdown(layout: Layout = LAYOUT) -> str:
    """The layout as the README documents it: generated from the specification itself."""
    f = layout.file
    line_end = {"\r\n": "CRLF", "\n": "LF"}.get(f.line_end, repr(f.line_end))
    lines = [
        f"Layout `{layout.version}` (`registry/ndi/layout.py`): {f.encoding.upper()} CSV, "
        f"`{f.delimiter}`-separated, `{f.quotechar}` quotes, {line_end} line ends, a header "
        "row with the column names, one record per line; the last line ends with a line end "
        "too (a file without it is read as truncated). `from` is where the export takes the "
        "value: an attribute of the export row (`ExportRow`) or a function of the row and the "
        "settings.",
        "",
        "| # | column | type | format | required | codes | from | description |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, c in enumerate(layout.columns, start=1):
        cells = [str(i), f"`{c.name}`", c.kind.value, _format_doc(c), _required_doc(layout, c),
                 _codes_doc(c), _source_doc(c), c.description]
        lines.append("| " + " | ".join(_md(x) for x in cells) + " |")
    lines.append("")
    lines.append("Checks across columns: " + "; ".join(r.description for r in layout.rules)
                 + ".")
    return "\n".join(lines) + "\n"
