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

The NDI is a pointer system: a record says "state X took action Y against this person on date
Z; call them". Nothing here carries the facts of a case (no summaries, findings, evidence or
public text): only who, which certificate, what action, when, a general reason category and
whom to call.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import date
from enum import StrEnum
from typing import Any

from registry.dates import PartialDate
from registry.names import fold
from registry.referrals.grounds import NDI_CATEGORIES
from registry.states import STATE_CODES

LAYOUT_VERSION = "registry-ndi-1.0"


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
    """Registry values: the decertification action kind that took the record back."""

    APPEAL_OVERTURNED = "appeal_overturned"
    REINSTATEMENT = "reinstatement"


# When a case rests on several grounds, the record carries the first of their categories in
# this order (the most specific and serious first).
CATEGORY_PRECEDENCE = ("criminal_conviction", "sexual_misconduct", "use_of_force",
                       "dishonesty", "separation_under_investigation", "pattern_of_misconduct",
                       "misconduct", "other")


# --- what the export reads --------------------------------------------------------------------

@dataclass(slots=True)
class ExportRow:
    """One NDI record as the export query returns it (``registry/ndi/repository.py``,
    ``EXPORT_ROWS``): the final order's decertification action (the record's root), the
    person it is about as the registry holds them now (survivor of any merge), the
    certificate it moved, and what later took it back."""

    record_id: str  # <state>-<id of the final order's decertification action>
    record_type: str  # new | update | rescind (repository.BATCH_SQL decides)
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
    outcome: str  # decertification_actions.outcome of the final order
    effective_on: date  # the final order's effective date
    until_on: date | None  # end of a suspension
    grounds: list[str]  # codes of the case's statutory grounds (grounds.toml)
    rescinded_on: date | None  # effective date of the appeal overturned / reinstatement
    rescind_kind: str | None  # appeal_overturned | reinstatement


EXPORT_FIELDS = tuple(f.name for f in fields(ExportRow))


@dataclass(frozen=True)
class ExportContext:
    """What every record of one export shares (from the settings and the grounds file)."""

    state: str
    certifying_authority: str
    verification_contact: str
    categories: dict[str, str]  # ground code -> NDI reason category
    opt_ins: frozenset[str] = frozenset()  # settings that are on, e.g. "ndi_under_investigation"
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)


def contributing_state(_row: ExportRow, ctx: ExportContext) -> str:
    return ctx.state


def certifying_authority(_row: ExportRow, ctx: ExportContext) -> str:
    return ctx.certifying_authority


def verification_contact(_row: ExportRow, ctx: ExportContext) -> str:
    return ctx.verification_contact


def birth_date(row: ExportRow, _ctx: ExportContext) -> PartialDate | None:
    if row.birth_year is None:
        return None
    return PartialDate(row.birth_year, row.birth_month, row.birth_day)


def aliases(row: ExportRow, _ctx: ExportContext) -> list[list[str | None]]:
    """The person's other names (prior, maiden, alias, and those of records merged into
    them), each once, leaving out those that differ from the current name only in accents,
    case, punctuation or the middle name."""
    if not row.other_names:
        return []
    first = fold(row.first_name)
    seen = {(fold(row.last_name), first)}
    out = []
    for name in row.other_names:
        key = (fold(name[0]), fold(name[1]) or first)
        if key not in seen:
            seen.add(key)
            out.append(name)
    return out


def suspension_start(row: ExportRow, _ctx: ExportContext) -> date | None:
    return row.effective_on if row.outcome == ActionType.SUSPENSION else None


def reason_category(row: ExportRow, ctx: ExportContext) -> str:
    """The most serious category among the case's grounds; ``other`` when the action records
    no ground. A ground the grounds file no longer defines has no known category: the record
    fails (put the ground back, with its category, and export again)."""
    grounds = tuple(row.grounds)
    known = ctx.memo.get(grounds)
    if known is not None:
        return known
    found = set()
    for code in grounds:
        category = ctx.categories.get(code)
        if category is None:
            raise ValueError(f"ground '{code}' is not in the grounds file, so its NDI "
                             "category is unknown")
        found.add(category)
    known = ctx.memo[grounds] = next((c for c in CATEGORY_PRECEDENCE if c in found), "other")
    return known


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
    opt_in: str | None = None  # a setting that must be true for the export to send it


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
    delimiter: str = ","
    quotechar: str = '"'
    line_end: str = "\r\n"


@dataclass(frozen=True)
class Column:
    name: str  # the header in the file
    key: str  # the registry's name for the value (import stores it under this name)
    kind: Kind
    description: str
    # Where the export takes the value: an attribute of ExportRow, or function(row, context).
    source: str | Callable[[ExportRow, ExportContext], Any]
    required: bool = False
    required_when: When | None = None
    blank_unless: When | None = None  # must be empty unless the condition holds
    max_length: int | None = None
    pattern: str | None = None  # a text value must match (Python regex)
    formats: tuple[str, ...] = ()  # dates: YYYY, MM, DD and literal characters
    codes: tuple[Code, ...] = ()
    codes_doc: str | None = None  # how the README names a long code list


@dataclass(frozen=True)
class RecordRule:
    description: str
    check: Callable[[dict[str, Any]], str | None]  # registry values by key -> problem or None


def _suspension_order(values: dict[str, Any]) -> str | None:
    start, end = values.get("suspension_start"), values.get("suspension_end")
    if start and end and end <= start:
        return f"suspension_end {end} must come after suspension_start {start}"
    return None


def _rescind_after_action(values: dict[str, Any]) -> str | None:
    acted, rescinded = values.get("action_date"), values.get("rescinded_on")
    if acted and rescinded and rescinded < acted:
        return f"rescinded_on {rescinded} comes before the action date {acted}"
    return None


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
                       "final order's decertification action. An update or rescind of the "
                       "same action carries the same id."),
    Column("record_type", "record_type", Kind.CODE, required=True, source="record_type",
           codes=codes(*RecordType),
           description="new: first time sent. update: sent before and changed since (an "
                       "appeal upheld, a corrected name, date of birth or certificate). "
                       "rescind: take the record back (appeal overturned, reinstatement)."),
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
                       "certified has none."),
    Column("post_id", "post_id", Kind.TEXT, max_length=40, source="post_id",
           description="The person's state POST id, when the registry has one."),
    Column("action_type", "action_type", Kind.CODE, required=True, source="outcome",
           codes=(*codes(*(a.value for a in ActionType if a is not ActionType.UNDER_INVESTIGATION)),
                  Code(ActionType.UNDER_INVESTIGATION.value,
                       ActionType.UNDER_INVESTIGATION.value, "ndi_under_investigation")),
           description="What the board ordered (surrender: voluntary surrender)."),
    Column("action_date", "action_date", Kind.DATE, required=True, formats=("YYYY-MM-DD",),
           source="effective_on", description="The final order's effective date."),
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
           description="Effective date of what took the record back."),
    Column("rescind_reason", "rescind_reason", Kind.CODE, required_when=RESCINDED,
           blank_unless=RESCINDED, source="rescind_kind",
           codes=(Code("appeal_overturned", RescindReason.APPEAL_OVERTURNED.value),
                  Code("reinstated", RescindReason.REINSTATEMENT.value)),
           description="Why the record is taken back."),
)

RECORD_RULES: tuple[RecordRule, ...] = (
    RecordRule("suspension_end comes after suspension_start", _suspension_order),
    RecordRule("rescinded_on is not before action_date", _rescind_after_action),
)

MAX_ALIASES = 20


# --- reading and writing values ---------------------------------------------------------------

class LayoutError(ValueError):
    """A value does not fit its column; the message says why."""


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_EMPTY: tuple[Any, ...] = (None, "", [])
_TOKENS = {"YYYY": r"(?P<y>\d{4})", "MM": r"(?P<m>\d{2})", "DD": r"(?P<d>\d{2})"}
_TOKEN = re.compile(r"YYYY|MM|DD")


@dataclass(frozen=True)
class DateFormat:
    text: str  # e.g. YYYY-MM-DD
    regex: re.Pattern[str]
    template: str  # str.format template
    precision: int  # 3 day, 2 month, 1 year

    @classmethod
    def of(cls, text: str) -> "DateFormat":
        regex, template, pos = "", "", 0
        for m in _TOKEN.finditer(text):
            literal = text[pos:m.start()]
            regex += re.escape(literal) + _TOKENS[m.group()]
            template += literal.replace("{", "{{").replace("}", "}}")
            template += {"YYYY": "{0:04d}", "MM": "{1:02d}", "DD": "{2:02d}"}[m.group()]
            pos = m.end()
        regex += re.escape(text[pos:])
        template += text[pos:].replace("{", "{{").replace("}", "}}")
        tokens = set(_TOKEN.findall(text))
        if "YYYY" not in tokens or ("DD" in tokens and "MM" not in tokens):
            raise ValueError(f"date format {text!r} needs YYYY, and MM with DD")
        return cls(text, re.compile(f"^{regex}$"), template, len(tokens))

    def render(self, year: int, month: int | None, day: int | None) -> str:
        return self.template.format(year, month or 0, day or 0)

    def parse(self, text: str) -> tuple[int, int | None, int | None] | None:
        m = self.regex.match(text)
        if m is None:
            return None
        groups = m.groupdict()
        return (int(groups["y"]), int(groups["m"]) if groups.get("m") else None,
                int(groups["d"]) if groups.get("d") else None)


def _clean(text: str) -> str:
    return " ".join(text.split())


class Field:
    """A column compiled: ``render`` (export: registry value -> text) and ``parse`` (import:
    text -> registry value), both raising LayoutError with the reason."""

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
        source = column.source
        if isinstance(source, str):
            if source not in EXPORT_FIELDS:
                raise ValueError(f"column {column.name}: ExportRow has no field {source!r}")
            self.get: Callable[[ExportRow, ExportContext], Any] = (
                lambda row, _ctx, attr=source: getattr(row, attr))
        else:
            self.get = source

    # export
    def export_code(self, i: int, names: dict[str, Any]) -> list[str]:
        """Python lines that set ``v<i>`` (the registry value) and ``t<i>`` (the file's text)
        for ``Layout``'s compiled exporter, putting what they use into ``names``. The common
        cases (a text or code attribute, an ISO date) are written out inline; anything else,
        and any value the inline test does not pass, goes through ``render``, which raises
        LayoutError with the reason."""
        v, t, render = f"v{i}", f"t{i}", f"render{i}"
        names[render] = self.render
        source = self.column.source
        if isinstance(source, str):
            lines = [f"{v} = row.{source}"]
        else:
            names[f"get{i}"] = source
            lines = [f"{v} = get{i}(row, ctx)"]
        lines.append(f"if {v} is None:")
        lines.append(f"    {t} = ''")
        slow = ["else:", f"    {t} = {render}({v}, opt_ins)"]
        if self.kind is Kind.TEXT and isinstance(source, str):
            test = f"{v}.__class__ is str and {v}.isprintable()"
            if self.column.max_length is not None:
                test += f" and len({v}) <= {self.column.max_length}"
            if self.pattern is not None:
                names[f"pattern{i}"] = self.pattern.match
                test += f" and pattern{i}({v}) is not None"
            return [*lines, f"elif {test}:", f"    {t} = {v}", *slow]
        if self.kind is Kind.TEXT:
            # A value computed once per export (the state, the contact): checked once.
            names[f"last{i}"] = [object(), ""]
            return [*lines, f"elif {v} is last{i}[0]:", f"    {t} = last{i}[1]", *slow,
                    f"    last{i}[0] = {v}", f"    last{i}[1] = {t}"]
        if self.kind is Kind.CODE:
            names[f"codes{i}"] = {c.value: c.code for c in self.column.codes if not c.opt_in}
            return [*lines, f"elif {v} in codes{i}:", f"    {t} = codes{i}[{v}]", *slow]
        if self.kind is Kind.DATE and self.dates[0].text == "YYYY-MM-DD":
            names["date"] = date
            return [*lines, f"elif {v}.__class__ is date:", f"    {t} = {v}.isoformat()", *slow]
        if self.kind is Kind.NAMES:
            return [*lines, f"elif not {v}:", f"    {t} = ''", *slow]
        return [*lines, *slow]

    def render(self, value: Any, opt_ins: frozenset[str]) -> str:
        if value is None or value == "" or value == []:
            return ""
        kind = self.kind
        if kind is Kind.TEXT:
            text = str(value)
            self._check_text(text)
            return text
        if kind is Kind.CODE:
            code = self.to_file.get(value)
            if code is None:
                raise LayoutError(f"'{value}' has no code in this layout; codes: "
                                  f"{', '.join(self.to_file)}")
            if code.opt_in and code.opt_in not in opt_ins:
                raise LayoutError(f"'{code.code}' is sent only when REGISTRY_"
                                  f"{code.opt_in.upper()} is true")
            return code.code
        if kind is Kind.DATE:
            return self.dates[0].render(value.year, value.month, value.day)
        if kind is Kind.PARTIAL_DATE:
            precision = 1 if value.month is None else 2 if value.day is None else 3
            fmt = self.by_precision.get(precision)
            if fmt is None:
                raise LayoutError(f"{value} is partial; the layout has no format for it")
            return fmt.render(value.year, value.month, value.day)
        return self._render_names(value)

    def _check_text(self, text: str) -> None:
        if _CONTROL.search(text):
            raise LayoutError("contains a line break or control character")
        limit = self.column.max_length
        if limit is not None and len(text) > limit:
            raise LayoutError(f"is {len(text)} characters long; at most {limit}")
        if self.pattern is not None and not self.pattern.match(text):
            raise LayoutError(f"'{text}' does not match {self.column.pattern}")

    def _render_names(self, names: list[list[str | None]]) -> str:
        if len(names) > MAX_ALIASES:
            names = names[:MAX_ALIASES]  # the first ones: the layout keeps at most 20
        out = []
        for last, first, middle in names:
            parts = [p for p in (last, first, middle) if p]
            for part in parts:
                if "," in part or ";" in part or _CONTROL.search(part):
                    raise LayoutError(f"the name '{part}' contains ',' ';' or a line break")
                if len(part) > _NAME:
                    raise LayoutError(f"a name part is longer than {_NAME} characters")
            given = " ".join(p for p in (first, middle) if p)
            out.append(f"{last}, {given}" if given else f"{last}")
        return "; ".join(out)

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


class Layout:
    """The specification compiled once: renders export rows and parses file records."""

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
        self._conditional = tuple(f for f in self.fields if f.column.required_when
                                  or f.column.blank_unless)
        self._required = tuple(f for f in self.fields if f.column.required)
        self._required_keys = tuple(f.key for f in self._required)
        self._export = self._compile_export()

    def _compile_export(self) -> Callable[[ExportRow, ExportContext],
                                          tuple[list[str], dict[str, Any]] | None]:
        """The export's check of one record, written out as one Python function from the
        specification (once, when the layout is built): each column's value, its text and
        its checks inline, then the required and conditional columns on the texts (empty
        text is an empty value; a condition holds when the other column's code is one of its
        own), then the record rules. It returns the texts and the values, or None when
        anything fails: ``render`` then goes field by field to name every problem."""
        names: dict[str, Any] = {"rules": tuple(r.check for r in self.rules)}
        body = ["opt_ins = ctx.opt_ins", "try:"]
        for i, f in enumerate(self.fields):
            body.extend("    " + line for line in f.export_code(i, names))
        body.append("except ValueError:")
        body.append("    return None")
        index = {f.key: i for i, f in enumerate(self.fields)}
        for f in self._required:
            body.append(f"if not t{index[f.key]}: return None")
        for i, f in enumerate(self.fields):
            for when, must_be_filled in ((f.column.required_when, True),
                                         (f.column.blank_unless, False)):
                if when is None:
                    continue
                j = index[when.key]
                other = self.fields[j]
                names[f"when{i}_{j}"] = frozenset(
                    other.to_file[v].code if v in other.to_file else str(v)
                    for v in when.values)
                body.append(f"if not t{i} and t{j} in when{i}_{j}: return None"
                            if must_be_filled else
                            f"if t{i} and t{j} not in when{i}_{j}: return None")
        body.append("values = {" + ", ".join(f"{f.key!r}: v{i}"
                                             for i, f in enumerate(self.fields)) + "}")
        body.append("for check in rules:")
        body.append("    if check(values): return None")
        body.append("return [" + ", ".join(f"t{i}" for i in range(len(self.fields)))
                    + "], values")
        source = "def export(row, ctx):\n" + "".join(f"    {line}\n" for line in body)
        exec(compile(source, f"<NDI layout {self.version}: export>", "exec"), names)
        return names["export"]  # type: ignore[no-any-return]

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

    def render(self, row: ExportRow, ctx: ExportContext
               ) -> tuple[list[str], dict[str, Any], list[Problem]]:
        """An export row as the file's fields, its values by key, and what is wrong with it
        (nothing may be written when a record has problems)."""
        done = self._export(row, ctx)
        if done is not None:
            return done[0], done[1], []
        values: dict[str, Any] = {}
        texts: list[str] = []
        problems: list[Problem] = []
        for f in self.fields:  # field by field, so that every field's problem is named
            try:
                value = values[f.key] = f.get(row, ctx)
                texts.append(f.render(value, ctx.opt_ins))
            except ValueError as e:
                values[f.key] = None
                texts.append("")
                problems.append(Problem(f.name, str(e)))
        self._check_record(values, problems)
        return texts, values, problems

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
            text += f" (only with REGISTRY_{code.opt_in.upper()}=true)"
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
    return f"`{c.source.__name__}()`"


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
