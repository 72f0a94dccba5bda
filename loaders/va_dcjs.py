"""``va-dcjs``: the Virginia DCJS decertification list, as released (an .xlsx workbook).

The workbook (DCJS_Decertification_List_Apr25.xlsx) has four tabs, each a title, a header
row (Last Name, First Name, Middle Initial, Agency, Function, Decert Date, STATUS, Reason) and
rows grouped under year rows ("2021", "2022"...):

- "1) Finalized - 2021 to Present": a final order (``decertification_actions``, kind
  final_order, no case): a revocation, or a denial for "Ineligible Cause" rows (recruits
  found ineligible);
- "2) Pending Conclusion": an open decertification case (``cases``, status open) with the
  grounds and the DCJS text as its summary. DCJS decided, but the order is not final
  (pending finalization or an appeal), so it is not an action the NDI export may send; POST
  staff see it among the cases, and background checks flag it as an open case;
- "3) 2020 & Prior": a final order (revocation); a date in STATUS (a reinstatement after the
  five-year request) adds a reinstatement action on that date;
- "4) Reinstated - 2021 to Present": a reinstatement action on the date in STATUS
  ("REINSTATED, 01/16/2025").

Rows:
- dates are Excel dates (serial numbers when a cell lost its date format are converted);
  a date that is not a calendar date or lies in the future ("10/04/0222", "11/02/20217",
  2029-03-28) is a reject;
- "Finalized-Withdrawn": the decertification was withdrawn; nothing is in force, so the row
  is a reject saying so rather than an action;
- suffixes are split from the last name ("Claiborne, III", "Hooker, Jr."); a surname in
  parentheses ("Jones(Spriggs)") is kept as a prior name;
- the agency, often misspelt ("Albemarle- Charlottseville Regional Jail"), is matched to
  the DCJS agency directory (certified_directory.csv, beside the workbook or ``--directory``)
  with rapidfuzz (``AgencyDirectory``); names that match nothing are listed in the report;
- the reason cites Va. Code § 15.2-1707 clauses ("15.2-1707(B)(iii&vi)"): ``GROUNDS`` maps
  clauses, and for the older rows without a clause the wording, to the registry's grounds
  (registry/referrals/grounds.toml); the text is kept whole in the row's source record
  (source ``va-dcjs:row``, key = the row's key; ``loaded_rows`` leads from the same key to
  the action or case).

People: the list has names only. A person is found by an earlier load of the list (source
record ``va-dcjs``, key: folded last name, first name and middle initial), else by the
background check's matching with the agency as corroboration (loaders/resolve.py), else
created. The certifications of matched people are not moved: the list is a record of
orders already made, and a status move is the board's (the report lists matched people
whose Virginia certificate is still active, for staff to review).
"""

import csv
import json
import re
import time
import uuid
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import asyncpg
from openpyxl import load_workbook
from openpyxl.utils.datetime import from_excel
from rapidfuzz import fuzz, process

from loaders.base import (
    Bar,
    LoadError,
    Options,
    Reject,
    RejectsFile,
    Report,
    Run,
    connect,
    default_rejects_path,
    write_report,
)
from loaders.resolve import Agencies, PersonMatcher, PersonQuery
from loaders.textfile import file_facts
from registry.database import create_engine
from registry.names import clean, fold, name_key, sort_key
from registry.settings import Settings

SOURCE = "va-dcjs"
ROW_SOURCE = "va-dcjs:row"
STATE = "VA"
HEADER = ("last_name", "first_name", "middle_initial", "agency", "function", "decert_date",
          "status", "reason")

# --- the statute ----------------------------------------------------------------------------
# Va. Code § 15.2-1707 as the list cites it (the list's own wording for each clause):
#   A(i)   convicted of a felony                 A(ii)  convicted of a listed misdemeanor
#   A(v)   failed mandated training              A(vi)  refused or failed a drug screening
#   B(i)   in advance of a conviction under A     B(ii)  refused a drug screening
#   B(iii) violation of state or federal law      B(iv)  serious misconduct (standards of conduct)
#   B(v)   resigned or separated while under investigation for serious misconduct
#   B(vi)  conduct compromising credibility, integrity or honesty (untruthful statements,
#          falsified documents)
#   B(vii) conduct that is exculpatory or impeachment evidence in a criminal case
#   C      recruits ("Ineligible Cause")
# -> the registry's grounds (registry/referrals/grounds.toml). A clause maps only where a
# ground describes the same thing; the others (drug screening, training, violations of law
# without a conviction, dishonesty alone) have no ground in the file and stay unmapped, with
# the text kept.
GROUNDS: dict[str, str | None] = {
    "A(i)": "criminal_conviction",
    "A(ii)": "criminal_conviction",
    "A(iii)": "criminal_conviction",
    "A(iv)": "criminal_conviction",
    "A(v)": None,
    "A(vi)": None,
    "B(i)": None,
    "B(ii)": None,
    "B(iii)": None,
    "B(iv)": "termination_serious_misconduct",
    "B(v)": "separation_in_lieu_of_termination",
    "B(vi)": None,
    "B(vii)": None,
    "C": None,
}
# Wording that shows a conviction (the older rows cite no clause: "Petit larceny conviction,
# Chesterfield County Circuit Court", "Felonies: Possession of Child Pornography").
CONVICTION = re.compile(r"\b(convict|conviction|pled (guilty|nolo)|plead guilty|guilty of|"
                        r"found guilty|felony|felonies|misdemeanor|misd)\w*", re.IGNORECASE)
_ROMAN = re.compile(r"\b(vii|vi|iv|v|iii|ii|i)\b", re.IGNORECASE)


_CITATION = re.compile(r"15\.2-17(?:07|-7)\s*(.{0,60})", re.IGNORECASE)
# The citation ends where its description starts: "(B)(vi)- Untruthful", "(B)(i),-in".
_CITATION_END = re.compile(r"\)\s*,?\s*-|\s-|-\s|:|–")
_PART = re.compile(r"\(\s*([ABCabc])\s*\)|\.([ABC])(?=\()|\(([ivxIVX][ivxIVX ,&and]*)\)")


def clauses(reason: str) -> list[str]:
    """The § 15.2-1707 clauses a reason cites, e.g. ["A(vi)", "B(iii)"]."""
    found: list[str] = []
    text = reason.replace("1707)B)", "1707(B)")
    for m in _CITATION.finditer(text):
        tail = m.group(1)
        cut = _CITATION_END.search(tail)
        if cut:
            tail = tail[:cut.start() + 1]
        section = None
        for part in _PART.finditer(tail):
            letter = part.group(1) or part.group(2)
            if letter:
                section = letter.upper()
                if section == "C":
                    found.append("C")
            elif section in ("A", "B"):
                found.extend(f"{section}({n.lower()})" for n in _ROMAN.findall(part.group(3)))
    return list(dict.fromkeys(found))


def grounds_for(reason: str | None) -> list[str]:
    """The registry's grounds a DCJS reason supports."""
    if not reason:
        return []
    grounds = {GROUNDS.get(c) for c in clauses(reason)}
    # Wording that states a conviction counts when no clause did ("15.2-1707(A) - (1) Felony
    # count", the older rows); "in advance of being convicted" is the opposite.
    if not any(grounds) and "in advance of" not in reason.lower() and CONVICTION.search(reason):
        grounds.add("criminal_conviction")
    return sorted(g for g in grounds if g)


# --- the agency directory -------------------------------------------------------------------

_ABBREVIATIONS = {"pd": "police", "dept": "department", "co": "county", "comm": "community",
                  "int": "international", "sheriffs": "sheriff", "univ": "university",
                  "wm": "william", "reg": "regional", "trng": "training", "officer": "office"}
# Words that name no particular agency ("Hampton Police Division" is "Hampton Police
# Department"; "Department of State Police" is "Virginia State Police").
_GENERIC = {"department", "division", "bureau", "of", "the", "office", "virginia", "city",
            "authority", "and"}
FUZZY_CUTOFF = 85.0
FUZZY_MARGIN = 4.0


def agency_key(name: str) -> str:
    text = name.replace("`", "'").replace("’", "'")
    text = re.sub(r"'s\b", "s", text)
    words = [_ABBREVIATIONS.get(w, w) for w in fold(text).split()]
    return " ".join(w for w in words if w not in _GENERIC)


def _score(a: str, b: str, **_: Any) -> float:
    # token_set counts a name that is part of the other as similar ("Powhatan Sheriff's
    # Office" in "Powhatan County Sheriff's Office"), a little below a full match.
    return max(fuzz.token_sort_ratio(a, b), fuzz.token_set_ratio(a, b) - 5)


@dataclass(frozen=True)
class AgencyMatch:
    written: str
    name: str | None  # the directory's name, or None
    method: str  # exact | fuzzy | two agencies | none
    score: float = 0.0
    guess: str | None = None


class AgencyDirectory:
    """The DCJS directory of certified agencies, matched by normalised and fuzzy names."""

    def __init__(self, names: list[str]) -> None:
        self.names: dict[str, str] = {}
        for name in names:
            self.names.setdefault(agency_key(name), name)
        self.keys = list(self.names)
        self._cache: dict[str, AgencyMatch] = {}

    @classmethod
    def from_csv(cls, path: Path) -> "AgencyDirectory":
        with path.open(encoding="utf-8-sig", newline="") as f:
            rows = list(csv.DictReader(f))
        if not rows or "place_of_employment" not in rows[0]:
            raise LoadError(f"{path.name} has no place_of_employment column")
        return cls([r["place_of_employment"] for r in rows if clean(r["place_of_employment"])])

    def _exact(self, written: str) -> str | None:
        return self.names.get(agency_key(written))

    def match(self, written: str) -> AgencyMatch:
        if written in self._cache:
            return self._cache[written]
        found = self._match(written)
        self._cache[written] = found
        return found

    def _match(self, written: str) -> AgencyMatch:
        exact = self._exact(written)
        if exact:
            return AgencyMatch(written, exact, "exact", 100.0)
        parts = [p for p in re.split(r"\s+(?:&|and)\s+", written) if p.strip()]
        if len(parts) > 1:
            named = [self._fuzzy(p) for p in parts]
            if all(n.name for n in named) and len({n.name for n in named}) == len(named):
                return AgencyMatch(written, None, "two agencies", 0.0,
                                   "; ".join(n.name or "" for n in named))
        return self._fuzzy(written)

    def _fuzzy(self, written: str) -> AgencyMatch:
        exact = self._exact(written)
        if exact:
            return AgencyMatch(written, exact, "exact", 100.0)
        key = agency_key(written)
        best = process.extract(key, self.keys, scorer=_score, limit=2)
        if not best:
            return AgencyMatch(written, None, "none")
        (k1, s1, _), *rest = best
        if rest:
            k2, s2, _ = rest[0]
            if s1 - s2 < FUZZY_MARGIN:
                # A tie on the forgiving score: the stricter one decides, or nobody.
                t1, t2 = fuzz.token_sort_ratio(key, k1), fuzz.token_sort_ratio(key, k2)
                if abs(t1 - t2) < 2 * FUZZY_MARGIN:
                    return AgencyMatch(written, None, "none", s1, self.names[k1])
                if t2 > t1:
                    k1 = k2
        if s1 < FUZZY_CUTOFF:
            return AgencyMatch(written, None, "none", s1, self.names[k1])
        return AgencyMatch(written, self.names[k1], "fuzzy", round(s1, 1))


# --- reading the workbook -------------------------------------------------------------------

TABS = (("finalized", "finalized"), ("pending", "pending"), ("prior", "prior"),
        ("2020", "prior"), ("reinstated", "reinstated"))


def tab_of(title: str) -> str | None:
    key = title.lower()
    for word, tab in TABS:
        if word in key:
            return tab
    return None


@dataclass
class Entry:
    tab: str
    sheet: str
    row: int
    cells: list[Any]

    @property
    def where(self) -> str:
        return f"{self.sheet}!{self.row}"

    def raw(self) -> list[str]:
        return ["" if c is None else (c.date().isoformat() if isinstance(c, datetime) else
                                      str(c)) for c in self.cells]


def read_workbook(path: Path) -> tuple[list[Entry], list[str]]:
    """Every data row of the workbook's four tabs, and notes on what was skipped."""
    import warnings

    notes: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Print area cannot be set to Defined name"
        book = load_workbook(path, read_only=True, data_only=True)
    entries: list[Entry] = []
    try:
        for sheet in book.worksheets:
            tab = tab_of(sheet.title)
            if tab is None:
                notes.append(f"sheet '{sheet.title}' is not one of the four tabs; skipped")
                continue
            columns: dict[str, int] | None = None
            for number, row in enumerate(sheet.iter_rows(values_only=True, max_col=12),
                                         start=1):
                cells = list(row)
                if columns is None:
                    if cells and isinstance(cells[0], str) and fold(cells[0]) == "last name":
                        columns = {fold(str(c)): i for i, c in enumerate(cells) if c}
                    continue
                if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
                    continue
                picked = [cells[columns[k]] if k in columns and columns[k] < len(cells)
                          else None for k in ("last name", "first name", "middle initial",
                                              "agency", "function", "decert date", "status",
                                              "reason")]
                if isinstance(picked[0], int | float) and all(c is None for c in picked[1:]):
                    continue  # a year heading ("2021"; a stray year may sit further right)
                entries.append(Entry(tab, sheet.title, number, picked))
            if columns is None:
                notes.append(f"sheet '{sheet.title}' has no 'Last Name' header row; skipped")
    finally:
        book.close()
    return entries, notes


# --- checking a row -------------------------------------------------------------------------

_SUFFIX = re.compile(r"^(.*?)[\s,]+(jr|sr|ii|iii|iv|v)\.?[\s,]*$", re.IGNORECASE)
_SUFFIXES = {"jr": "Jr.", "sr": "Sr.", "ii": "II", "iii": "III", "iv": "IV", "v": "V"}
_DATE_IN_TEXT = re.compile(r"(\d{1,2})[/-](\d{1,2})[/-](\d{2,5})")


def split_last(value: str) -> tuple[str, str | None, str | None]:
    """(last name, suffix, other surname) from "Claiborne, III", "Jones(Spriggs)"..."""
    text = " ".join(value.split()).strip(" ,")
    other = None
    m = re.match(r"^(.*?)\s*\((.+?)\)\s*$", text)
    if m:
        text, other = m.group(1).strip(" ,"), m.group(2).strip()
    suffix = None
    m = _SUFFIX.match(text)
    if m and m.group(1).strip(" ,"):
        text, suffix = m.group(1).strip(" ,"), _SUFFIXES[m.group(2).lower()]
    text = re.sub(r"\s*-\s*", "-", text)
    return text, suffix, other


def to_date(value: Any, what: str, today: date) -> date:
    if isinstance(value, datetime):
        found = value.date()
    elif isinstance(value, date):
        found = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        found = from_excel(value).date()  # a serial number that lost its date format
    else:
        text = str(value or "").strip()
        m = _DATE_IN_TEXT.search(text)
        if not m:
            raise ValueError(f"{what} '{text}' is not a date")
        month, day, year = int(m.group(1)), int(m.group(2)), m.group(3)
        if len(year) != 4:
            raise ValueError(f"{what} '{text}' is not a date (year '{year}')")
        try:
            found = date(int(year), month, day)
        except ValueError:
            raise ValueError(f"{what} '{text}' is not a calendar date") from None
    if found.year < 1900:
        raise ValueError(f"{what} {found} is not a plausible date (year {found.year})")
    if found > today:
        raise ValueError(f"{what} {found} is in the future")
    return found


@dataclass
class Action:
    kind: str  # final_order | reinstatement | case
    outcome: str | None
    effective_on: date
    key_suffix: str = ""


@dataclass
class Checked:
    entry: Entry
    last: str
    first: str
    middle: str | None
    suffix: str | None
    other_surname: str | None
    agency: AgencyMatch | None
    function: str | None
    status: str | None
    reason: str | None
    grounds: list[str]
    actions: list[Action]
    row_key: str
    person_key: str


def check(entry: Entry, directory: AgencyDirectory, today: date) -> Checked:
    last_raw, first_raw, middle_raw, agency_raw, function, decert, status, reason = entry.cells
    if not clean(str(last_raw or "")) or not fold(str(last_raw or "")):
        raise ValueError("Last Name is empty")
    if not clean(str(first_raw or "")) or not fold(str(first_raw or "")):
        raise ValueError("First Name is empty")
    last, suffix, other = split_last(str(last_raw))
    first = clean(str(first_raw)) or ""
    middle = clean(str(middle_raw)) if middle_raw not in (None, "") else None
    if any(len(p) > 100 for p in (last, first, middle or "")):
        raise ValueError("a name part is longer than 100 characters")
    status_text = clean(str(status)) if isinstance(status, str) else None
    reason_text = clean(str(reason)) if reason else None
    actions: list[Action] = []
    if entry.tab in ("finalized", "prior"):
        if status_text and "withdrawn" in status_text.lower():
            raise ValueError(f"STATUS '{status_text}': the decertification was withdrawn, so "
                             "no order is in force; nothing to record")
        effective = to_date(decert, "Decert Date", today)
        ineligible = bool(reason_text and reason_text.lower().startswith("ineligible"))
        actions.append(Action("final_order", "denial" if ineligible else "revocation",
                              effective))
        if isinstance(status, datetime | date):  # reinstated after the five-year request
            back = to_date(status, "STATUS (reinstatement date)", today)
            if back < effective:
                raise ValueError(f"reinstated {back} before the decertification {effective}")
            actions.append(Action("reinstatement", None, back, "#reinstated"))
            status_text = f"reinstated {back}"
    elif entry.tab == "pending":
        effective = to_date(decert, "Decert Date", today)
        actions.append(Action("case", None, effective))
    else:  # reinstated
        actions.append(Action("reinstatement", None,
                              to_date(status, "STATUS (reinstatement date)", today)))
    agency_text = clean(str(agency_raw)) if agency_raw else None
    person_key = "|".join((fold(last), fold(first), fold(middle)[:1]))
    return Checked(
        entry=entry, last=last, first=first, middle=middle, suffix=suffix, other_surname=other,
        agency=directory.match(agency_text) if agency_text else None,
        function=clean(str(function)) if function else None, status=status_text,
        reason=reason_text, grounds=grounds_for(reason_text), actions=actions,
        row_key=f"{entry.tab}|{person_key}|{actions[0].effective_on}", person_key=person_key)


# --- loading --------------------------------------------------------------------------------

def chunks(items: list[Entry], size: int) -> Iterator[list[Entry]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


@dataclass
class VaState:
    agencies: Agencies
    matcher: PersonMatcher
    report: Report
    run: Run
    matched_agencies: dict[str, AgencyMatch] = field(default_factory=dict)


class VirginiaDcjs:
    kind = "va-dcjs"

    def __init__(self, path: Path, settings: Settings, options: Options,
                 directory: Path | None = None, today: date | None = None) -> None:
        self.path = path
        self.settings = settings
        self.options = options
        self.directory_path = directory or path.parent / "certified_directory.csv"
        self.today = today or date.today()

    async def run(self) -> Report:
        started = time.perf_counter()
        if not self.directory_path.exists():
            raise LoadError(f"the agency directory {self.directory_path} does not exist; pass "
                            "--directory certified_directory.csv")
        directory = AgencyDirectory.from_csv(self.directory_path)
        facts = file_facts(self.path)
        report = Report(self.kind, str(self.path), facts.sha256, self.options.dry_run)
        try:
            entries, notes = read_workbook(self.path)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
            raise LoadError(f"{self.path.name} is not a readable .xlsx workbook: {e}") from e
        report.notes.extend(notes)
        rejects_path = self.options.rejects_path or default_rejects_path(self.path, self.kind)
        rejects = RejectsFile(rejects_path, list(HEADER))
        report.rejects_file = str(rejects_path)
        conn = await connect(self.settings.database_url or "")
        engine = create_engine(self.settings.database_url or "", self.settings)
        match_conn = await engine.connect()
        bar = Bar(len(entries), f"{self.kind} {self.path.name}", self.options.show_progress)
        run = Run(conn, self.kind, self.path, facts.sha256, self.options.dry_run)
        outer = conn.transaction() if self.options.dry_run else None
        try:
            if outer is not None:
                await outer.start()
            await run.start(str(rejects_path))
            if self.options.dry_run:
                run.id = await conn.fetchval(
                    "INSERT INTO load_runs (kind, file_name, file_sha256, status, started_by) "
                    "VALUES ($1, $2, $3, 'dry_run', $4) RETURNING id", self.kind,
                    self.path.name, facts.sha256, run.label)
            else:
                report.run_id = str(run.id)
            state = VaState(await Agencies.read(conn), PersonMatcher(
                match_conn, self.settings.load_match_threshold,
                self.settings.match_trigram_floor), report, run)
            for chunk in chunks(entries, self.options.chunk_size):
                bad: list[Reject] = []
                tx = None if self.options.dry_run else conn.transaction()
                if tx is not None:
                    await tx.start()
                try:
                    for entry in chunk:
                        report.rows_in += 1
                        try:
                            checked = check(entry, directory, self.today)
                        except ValueError as e:
                            bad.append(Reject(entry.where, str(e), entry.raw()))
                            continue
                        problem = await self._load(conn, checked, state)
                        if problem:
                            bad.append(Reject(entry.where, problem, entry.raw()))
                    await run.progress(report, len(bad))
                    if tx is not None:
                        await tx.commit()
                except BaseException:
                    if tx is not None:
                        await tx.rollback()
                    raise
                rejects.write(bad, report)
                report.rejected = rejects.count
                bar.advance(len(chunk))
                await run.pause()
            self._summarise(state, directory)
            await self._active_certificates(conn, report)
            report.seconds = time.perf_counter() - started
            await run.finish(report)
        except BaseException:
            if outer is None and run.id is not None:
                report.seconds = time.perf_counter() - started
                try:
                    await run.finish(report, "failed")
                except Exception:  # the connection may be gone
                    pass
            raise
        finally:
            if outer is not None:
                await outer.rollback()
            bar.close()
            rejects.close()
            await conn.close()
            await match_conn.close()
            await engine.dispose()
        report.rejected = rejects.count
        write_report(report, self.options.report_path)
        return report

    async def _load(self, conn: asyncpg.Connection, c: Checked, state: VaState) -> str | None:
        report, run = state.report, state.run
        if c.agency is not None:
            state.matched_agencies[c.agency.written] = c.agency
        loaded = await conn.fetchval("SELECT load_run_id FROM loaded_rows "
                                     "WHERE source = $1 AND row_key = $2", SOURCE, c.row_key)
        if loaded is not None:
            if loaded == run.id:
                return "the same entry as an earlier row of this workbook"
            report.already_loaded += 1
            return None
        agency_id = None
        if c.agency is not None:
            agency_id = (state.agencies.find(STATE, c.agency.name, None) if c.agency.name
                         else None) or state.agencies.find(STATE, c.agency.written, None)
        person = await self._person(conn, c, agency_id, state)
        for action in c.actions:
            key = c.row_key + action.key_suffix
            if action.kind == "case":
                entity_type, entity_id = "case", await self._case(conn, c, person, action, run)
                report.counts["open cases (pending tab)"] += 1
            else:
                entity_type = "decertification_action"
                entity_id = await conn.fetchval(
                    "INSERT INTO decertification_actions (officer_id, kind, outcome, "
                    "effective_on, grounds, recorded_by) VALUES ($1, $2, $3, $4, $5, $6) "
                    "RETURNING id", person, action.kind, action.outcome, action.effective_on,
                    c.grounds if action.kind == "final_order" else [], run.label)
                label = action.kind + (f" ({action.outcome})" if action.outcome else "")
                report.counts[f"actions: {label}"] += 1
            await conn.execute(
                "INSERT INTO loaded_rows (source, row_key, entity_type, entity_id, load_run_id) "
                "VALUES ($1, $2, $3, $4, $5)", SOURCE, key, entity_type, entity_id, run.id)
            await conn.execute(
                "INSERT INTO source_records (officer_id, source, source_key, payload, "
                "recorded_by) VALUES ($1, $2, $3, $4::jsonb, $5)", person, ROW_SOURCE, key,
                json.dumps(self._payload(c, action, entity_type, entity_id)), run.label)
        for g in c.grounds or ["(none)"]:
            report.counts[f"grounds: {g}"] += 1
        report.loaded += 1
        return None

    def _payload(self, c: Checked, action: Action, entity_type: str, entity_id: uuid.UUID
                 ) -> dict[str, Any]:
        return {
            "file": self.path.name, "sheet": c.entry.sheet, "row": c.entry.row,
            "entity": {"type": entity_type, "id": str(entity_id)},
            "last_name": c.entry.cells[0], "first_name": c.entry.cells[1],
            "middle_initial": c.entry.cells[2], "agency": c.agency.written if c.agency else None,
            "agency_directory_name": c.agency.name if c.agency else None,
            "function": c.function, "status": c.status,
            # As written (spacing included): the text is the record, the grounds a reading.
            "reason": str(c.entry.cells[7]).strip() if c.entry.cells[7] else None,
            "clauses": clauses(c.reason or ""), "grounds": c.grounds,
            "effective_on": action.effective_on.isoformat()}

    async def _person(self, conn: asyncpg.Connection, c: Checked, agency_id: uuid.UUID | None,
                      state: VaState) -> uuid.UUID:
        report, run = state.report, state.run
        known = await conn.fetchval(
            "SELECT o.canonical_id FROM source_records r JOIN officers o ON o.id = r.officer_id "
            "WHERE r.source = $1 AND r.source_key = $2", SOURCE, c.person_key)
        if known is not None:
            report.counts["people: known from the list before"] += 1
            return known
        found = await state.matcher.match(PersonQuery(
            first=c.first, last=c.last, middle=c.middle, suffix=c.suffix,
            prior_names=(c.other_surname,) if c.other_surname else (), agency_id=agency_id),
            conn)
        person = found.officer_id
        report.counts[f"people: {found.outcome}"] += 1
        if found.outcome == "ambiguous":
            report.lists.setdefault("ambiguous people", []).append(
                {"row": c.entry.where, "name": f"{c.first} {c.last}", **found.detail})
        if person is None:
            person = uuid.uuid4()
            await conn.execute(
                "INSERT INTO officers (id, canonical_id, first_name, middle_name, last_name, "
                "suffix, name_key, sort_key, recorded_by, change_reason) "
                "VALUES ($1, $1, $2, $3, $4, $5, $6, $7, $8, $9)", person, c.first, c.middle,
                c.last, c.suffix, name_key(c.first, c.middle, c.last, c.suffix),
                sort_key(c.first, c.middle, c.last), run.label, f"load run {run.id}")
            if c.other_surname:
                await conn.execute(
                    "INSERT INTO officer_names (officer_id, kind, first_name, last_name, "
                    "name_key, recorded_by) VALUES ($1, 'prior', $2, $3, $4, $5)", person,
                    c.first, c.other_surname, name_key(c.first, None, c.other_surname, None),
                    run.label)
        else:
            report.lists.setdefault("people matched to the registry", []).append(
                {"row": c.entry.where, "name": f"{c.first} {c.last}", "officer": str(person),
                 "score": found.score, **found.detail})
        await conn.execute(
            "INSERT INTO source_records (officer_id, source, source_key, payload, recorded_by) "
            "VALUES ($1, $2, $3, $4::jsonb, $5)", person, SOURCE, c.person_key,
            json.dumps({"last_name": c.last, "first_name": c.first, "middle_initial": c.middle,
                        "suffix": c.suffix, "matched": found.outcome == "matched"}), run.label)
        return person

    async def _case(self, conn: asyncpg.Connection, c: Checked, person: uuid.UUID,
                    action: Action, run: Run) -> uuid.UUID:
        number = await conn.fetchval("SELECT nextval('case_number_seq')")
        summary = (f"DCJS decertification list, tab '{c.entry.sheet}' (pending finalization or "
                   f"appeal outcome): decertification date {action.effective_on}, status "
                   f"{c.status or 'pending'}. Reason: {c.reason or 'not given'}")[:10_000]
        case_id = await conn.fetchval(
            "INSERT INTO cases (number, officer_id, status, grounds, summary, opened_by, "
            "recorded_by, change_reason) VALUES ($1, $2, 'open', $3, $4, $5, $5, $6) "
            "RETURNING id", f"{self.today.year}-{number:04d}", person, c.grounds, summary,
            run.label, f"load run {run.id}")
        await conn.execute(
            "INSERT INTO case_status_events (case_id, from_status, to_status, reason, "
            "recorded_by) VALUES ($1, NULL, 'open', $2, $3)", case_id,
            "opened from the DCJS list's pending tab", run.label)
        return case_id

    def _summarise(self, state: VaState, directory: AgencyDirectory) -> None:
        report = state.report
        matches = list(state.matched_agencies.values())
        by_method = Counter(m.method for m in matches)
        for method, n in by_method.items():
            report.counts[f"agency names ({method})"] = n
        report.lists["agencies matched fuzzily"] = sorted(
            ({"written": m.written, "directory": m.name, "score": m.score}
             for m in matches if m.method == "fuzzy"), key=lambda m: m["written"])
        report.lists["agencies not matched"] = sorted(
            ({"written": m.written, "why": m.method, "closest": m.guess,
              "score": round(m.score, 1)} for m in matches if m.name is None),
            key=lambda m: m["written"])

    async def _active_certificates(self, conn: asyncpg.Connection, report: Report) -> None:
        matched = report.lists.get("people matched to the registry", [])
        if not matched:
            return
        rows = await conn.fetch(
            "SELECT o.canonical_id AS person, c.number, c.status FROM certifications c "
            "JOIN officers o ON o.id = c.officer_id WHERE c.state = $1 "
            "AND c.status IN ('active', 'reinstated', 'inactive') "
            "AND o.canonical_id = ANY($2::uuid[])", STATE,
            [uuid.UUID(m["officer"]) for m in matched])
        report.lists["matched people whose Virginia certificate is not revoked"] = [
            {"officer": str(r["person"]), "number": r["number"], "status": r["status"]}
            for r in rows]


async def load_va_dcjs(path: Path, settings: Settings, options: Options,
                       directory: Path | None = None) -> Report:
    return await VirginiaDcjs(path, settings, options, directory).run()
