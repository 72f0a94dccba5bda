"""The NDI: the layout (and the README table made from it), the export (records checked
against the layout, the ledger, rescinds and updates, a failing record that stops everything),
the import of another state's file into a second database (attachment by certificate, by name
and date of birth, or a new person; re-import; bad files) and what background checks then see."""

import asyncio
import csv
import hashlib
import io
import re
import sys
import unicodedata
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import astuple, dataclass
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx2
import pytest
from click.testing import Result
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from registry import migrations
from registry.actors import Actor
from registry.app import create_app
from registry.certifications import service as certifications
from registry.certifications.models import Discipline, Level
from registry.cli import app as cli_app
from registry.database import asyncpg_url, create_engine, driver, execute, session_scope
from registry.dates import PartialDate
from registry.keys import service as keys
from registry.keys.models import Role
from registry.names import fold
from registry.ndi import repository as ndi_sql
from registry.ndi import service as ndi
from registry.ndi.layout import (
    CATEGORY_PRECEDENCE,
    COLUMNS,
    EXPORT_FIELDS,
    LAYOUT,
    LAYOUT_VERSION,
    ExportContext,
    ExportRow,
    fold_sql,
    layout_markdown,
)
from registry.officers import service as officers
from registry.officers.models import NameKind
from registry.referrals.grounds import NDI_CATEGORIES
from registry.settings import Settings, get_settings
from tests.case_helpers import (
    APPEAL,
    DECIDE,
    GROUND,
    MOVE,
    OPEN,
    REINSTATE,
    advance,
    case_to,
    seat_board,
)
from tests.conftest import ROOT, SYSTEM, TEMPLATE, _database, data, gql, row_counts
from tests.test_roles import STAFF

CLERK = Actor(name="ndi clerk", role=Role.POST_STAFF)
IMPORTER = Actor(name="ndi importer", role=Role.POST_STAFF)
SUBMIT = """mutation($s: NdiExportScope!) { submitNdiExport(scope: $s) {
  id columns csv records { recordId recordType fields { column value } }
  submission { id scope layoutVersion records newRecords updates rescinds fileSha256
               recordedBy } } }"""
CHECK = """query($c: CandidateInput!) { backgroundCheck(candidate: $c, purpose: HIRING) {
  matches { score reasons { evidence method }
    officer { id fullName flags { decertifiedAnywhere }
      externalActions { contributingState recordId recordType actionType actionDate
        suspensionStart suspensionEnd reasonCategory rescinded certificateNumber
        verificationContact attachedBy reportedName reportedDateOfBirth version } } } } }"""


# --- the layout -------------------------------------------------------------------------------

def test_readme_documents_the_layout_from_the_specification():
    """The README's table is the one layout_markdown() renders (paste it between the marks)."""
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"<!-- ndi-layout -->\n(.*?)<!-- /ndi-layout -->", readme, re.S)
    assert found, "README.md lacks the <!-- ndi-layout --> ... <!-- /ndi-layout --> section"
    assert found.group(1).strip() == layout_markdown().strip(), (
        "README's NDI layout differs from registry/ndi/layout.py; paste layout_markdown()")


def test_the_specification_is_complete():
    assert set(CATEGORY_PRECEDENCE) == set(NDI_CATEGORIES)
    reason = next(c for c in COLUMNS if c.key == "reason_category")
    assert {c.code for c in reason.codes} == set(NDI_CATEGORIES)
    keys_needed = {"record_id", "record_type", "contributing_state", "first_name", "last_name",
                   "action_type", "action_date", "certificate_number", "date_of_birth",
                   "reason_category", "rescinded_on", "rescind_reason", "verification_contact",
                   "certifying_authority", "aliases", "suspension_start", "suspension_end"}
    assert keys_needed <= {c.key for c in COLUMNS}
    # A pointer only: nothing of the case's facts has a column.
    for forbidden in ("summary", "finding", "public_text", "evidence", "allegation", "case"):
        assert not any(forbidden in c.key for c in COLUMNS), forbidden


def _row_for_layout(**changes: Any) -> ExportRow:
    values = dict(record_id="VA-1", record_type="new", first_name="Ann", middle_name=None,
                  last_name="Lee", suffix=None, other_names=[], birth_year=1980,
                  birth_month=None, birth_day=None, post_id=None, certificate_number="C-1",
                  outcome="revocation", effective_on=date(2024, 1, 2), until_on=None,
                  grounds=["g"], rescinded_on=None, rescind_kind=None)
    return ExportRow(**{**values, **changes})


_SQL_TYPES = {"other_names": "text[]", "grounds": "text[]", "birth_year": "integer",
              "birth_month": "integer", "birth_day": "integer", "effective_on": "date",
              "until_on": "date", "rescinded_on": "date"}  # the others are text


async def _render(server_url: str, row: ExportRow, ctx: ExportContext
                  ) -> tuple[list[str], list[str]]:
    """A row through the export's SQL, as the export checks and writes it: the file's fields
    and the problems (no tables needed: the row is given as parameters)."""
    rows = "SELECT " + ", ".join(f"CAST(${i} AS {_SQL_TYPES.get(name, 'text')}) AS {name}"
                                 for i, name in enumerate(EXPORT_FIELDS, start=1))
    conn = await asyncpg.connect(asyncpg_url(server_url))
    try:
        record = await conn.fetchrow(LAYOUT.records_sql(rows, ctx), *astuple(row))
    finally:
        await conn.close()
    texts = [record[f"f{i}"] or "" for i in range(1, len(LAYOUT.header) + 1)]
    problems = record["problems"]
    return texts, [str(p) for p in LAYOUT.problems(problems)] if problems else []


async def test_under_investigation_is_sent_only_when_the_state_opts_in(server_url):
    ctx = ExportContext("VA", "Board", "call us", {"g": "dishonesty"})
    row = _row_for_layout(outcome="under_investigation", certificate_number=None)
    texts, problems = await _render(server_url, row, ctx)
    assert problems == [
        "action_type: 'under_investigation' is sent only when "
        "REGISTRY_NDI_UNDER_INVESTIGATION is true"]
    opted = ExportContext("VA", "Board", "call us", {"g": "dishonesty"},
                          opt_ins=frozenset({"ndi_under_investigation"}))
    texts, problems = await _render(server_url, row, opted)
    assert problems == [] and texts[LAYOUT.header.index("action_type")] == "under_investigation"
    # Read back, another state's "under investigation" record is accepted.
    values, problems = LAYOUT.parse(dict(zip(LAYOUT.header, texts, strict=True)))
    assert problems == [] and values["action_type"] == "under_investigation"
    # Taking one back needs no opt-in: the NDI must not keep what the state stopped reporting.
    rescind = _row_for_layout(outcome="under_investigation", certificate_number=None,
                              record_type="rescind", rescinded_on=date(2024, 2, 1),
                              rescind_kind="no_longer_reported")
    texts, problems = await _render(server_url, rescind, ctx)
    assert problems == []
    assert texts[LAYOUT.header.index("rescind_reason")] == "no_longer_reported"
    assert LAYOUT.parse(dict(zip(LAYOUT.header, texts, strict=True)))[1] == []


@pytest.mark.parametrize(("changes", "problem"), [
    ({"last_name": "L" * 101}, "last_name: is 101 characters long; at most 100"),
    ({"first_name": "Ann\nLee"}, "first_name: contains a line break or control character"),
    ({"record_id": "VA 1"}, "record_id: 'VA 1' does not match"),
    ({"first_name": ""}, "first_name: required"),
    ({"outcome": "warning"}, "action_type: 'warning' has no code in this layout"),
    ({"certificate_number": None}, "certificate_number: required when action_type is"),
    ({"outcome": "suspension"}, "suspension_end: required when action_type is suspension"),
    ({"until_on": date(2025, 1, 1)}, "suspension_end: must be empty unless action_type is"),
    ({"outcome": "suspension", "until_on": date(2023, 1, 1)},
     "record: suspension_end 2023-01-01 must come after suspension_start 2024-01-02"),
    ({"grounds": ["gone"]}, "reason_category: ground 'gone' is not in the grounds file"),
    ({"other_names": [["Lee; Park", "Ann", None]]}, "aliases: the name 'Lee; Park' contains"),
    ({"other_names": [["Park", "Ann", None], ["L" * 101, None, None]]},
     "aliases: a name part is longer than 100 characters"),
])
async def test_a_record_that_does_not_fit_is_named_with_the_reason(server_url, changes,
                                                                   problem):
    # The export's check is compiled from the layout into SQL; whatever it refuses is named
    # column by column, and a record that fits passes whole.
    ctx = ExportContext("VA", "Board", "call us", {"g": "dishonesty"})
    texts, problems = await _render(server_url, _row_for_layout(), ctx)
    assert problems == [] and texts[LAYOUT.header.index("last_name")] == "Lee"
    _, problems = await _render(server_url, _row_for_layout(**changes), ctx)
    assert any(p.startswith(problem) for p in problems), problems


async def test_rendered_records_parse_back_to_the_same_values(server_url):
    ctx = ExportContext("VA", "Board", "call us", {"g": "dishonesty", "h": "use_of_force"})
    row = _row_for_layout(
        middle_name="Q.", suffix="Jr.", birth_month=4, birth_day=30, grounds=["g", "h"],
        other_names=[["Lee-Park", "Ann", None], ["Park", None, None], ["Lee", "Ann", None],
                     ["LEE", "Ann", "Quinn"], ["Park", "Ann", None], ["Lée", "ANN", None]],
        outcome="suspension", until_on=date(2025, 1, 2), record_type="rescind",
        rescinded_on=date(2024, 5, 1), rescind_kind="reinstatement")
    texts, problems = await _render(server_url, row, ctx)
    assert problems == []
    record = dict(zip(LAYOUT.header, texts, strict=True))
    # The current name (whatever its accents or case) is not an alias; each alias once.
    assert record["aliases"] == "Lee-Park, Ann; Park"
    assert record["reason_category"] == "use_of_force"  # the more serious of the two
    assert record["rescind_reason"] == "reinstated"
    parsed, problems = LAYOUT.parse(record)
    assert problems == []
    assert parsed == {
        "record_id": "VA-1", "record_type": "rescind", "contributing_state": "VA",
        "certifying_authority": "Board", "verification_contact": "call us",
        "last_name": "Lee", "first_name": "Ann", "middle_name": "Q.", "suffix": "Jr.",
        "aliases": [["Lee-Park", "Ann", None], ["Park", None, None]],
        "date_of_birth": PartialDate(1980, 4, 30), "certificate_number": "C-1",
        "post_id": None, "action_type": "suspension", "action_date": date(2024, 1, 2),
        "suspension_start": date(2024, 1, 2), "suspension_end": date(2025, 1, 2),
        "reason_category": "use_of_force", "rescinded_on": date(2024, 5, 1),
        "rescind_reason": "reinstatement"}


async def test_the_export_folds_names_as_the_registry_does(server_url):
    """The aliases' comparison folds names in SQL as registry.names.fold does in Python, for
    every character this Python's Unicode knows (PostgreSQL's may be newer)."""
    chars = [chr(c) for c in range(1, sys.maxunicode + 1)
             if unicodedata.category(chr(c)) not in ("Cn", "Cs", "Co")]
    words = ["Müller-Lüdenscheidt", "  O'Neil  ", "STRAẞE", "ǅemal", "İlker", "ﬁona", "São"]
    conn = await asyncpg.connect(asyncpg_url(server_url))
    try:
        folded = await conn.fetchval(
            f"SELECT array_agg({fold_sql('c')} ORDER BY i) FROM unnest(CAST($1 AS text[])) "
            "WITH ORDINALITY AS u(c, i)", [*chars, *words, None])
    finally:
        await conn.close()
    differ = [(f"U+{ord(c[0]):04X}", fold(c), f) for c, f in zip([*chars, *words, None],
                                                                   folded, strict=True)
              if fold(c) != f]
    assert differ == []


# --- a state with final orders ------------------------------------------------------------------

@dataclass
class StateA:
    board: Any
    people: dict[str, str]  # name -> officer id
    certs: dict[str, str]  # name -> certification id
    cases: dict[str, str]  # name -> case id


PEOPLE = {
    # name: (first, middle, last, birth, certificate, outcome, suspended until)
    "whitfield": ("Dana", "Marie", "Whitfield", PartialDate(1980, 5, 6), "VA-1001",
                  "REVOCATION", None),
    "oyelaran": ("Marcus", None, "Oyelaran", PartialDate(1975, 11, 2), "VA-1002",
                 "SUSPENSION", "2025-03-15"),
    "kowalczyk": ("Lena", None, "Kowalczyk", PartialDate(1988, 7), "VA-1003", "SURRENDER",
                  None),
    "reyes": ("Tomas", None, "Reyes", PartialDate(1991, 2, 14), None, "DENIAL", None),
}


async def _person(engine: Any, settings: Settings, first: str, middle: str | None, last: str,
                  birth: PartialDate | None, number: str | None, state: str | None = None,
                  other_names: list[officers.NameIn] | None = None) -> tuple[str, str | None]:
    async with session_scope(engine) as s:
        o = await officers.register(session=s, actor=SYSTEM, officer_in=officers.OfficerIn(
            first_name=first, middle_name=middle, last_name=last, birth_date=birth,
            other_names=other_names or []))
        cert = None
        if number:
            cert = await certifications.issue(
                session=s, actor=STAFF, settings=settings, issue_in=certifications.IssueIn(
                    officer_id=o.id, number=number, state=state,
                    discipline=Discipline.LAW_ENFORCEMENT, level=Level.BASIC,
                    issued_on=date(2010, 1, 4)))
    return str(o.id), str(cert.id) if cert else None


@pytest.fixture
async def state_a(client, engine, settings, world) -> StateA:
    board = await seat_board(engine, world)
    people, certs, cases = {}, {}, {}
    for name, (first, middle, last, birth, number, outcome, until) in PEOPLE.items():
        others = {"kowalczyk": [officers.NameIn(last_name="Brandt", kind=NameKind.MAIDEN)],
                  "reyes": [officers.NameIn(last_name="Reyes-Diaz", first_name="Tom",
                                            kind=NameKind.PRIOR)]}.get(name, [])
        people[name], certs[name] = await _person(engine, settings, first, middle, last, birth,
                                                  number, other_names=others)
        cases[name] = await case_to(client, world, board, people[name], "final_order",
                                    outcome=outcome, until=until)
    # Another source's record of Tomas Reyes, merged into him: its name is one of his aliases.
    duplicate, _ = await _person(engine, settings, "Tommy", None, "Reyes", None, None)
    async with session_scope(engine) as s:
        await officers.merge(session=s, actor=SYSTEM, survivor_id=uuid.UUID(people["reyes"]),
                             duplicate_id=uuid.UUID(duplicate), reason="same person")
    return StateA(board, people, certs, cases)


def _read(path_or_text: Path | str) -> list[dict[str, str]]:
    body = path_or_text.read_text(encoding="utf-8") if isinstance(path_or_text, Path) \
        else path_or_text
    rows = list(csv.reader(io.StringIO(body, newline="")))
    assert tuple(rows[0]) == LAYOUT.header
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


async def _export(engine: Any, settings: Settings, path: Path, scope: str = "since_last"
                  ) -> ndi.Submission:
    return await ndi.export_to_path(engine, actor=CLERK, settings=settings, scope=scope,
                                    path=path)


async def _count(engine: Any, sql: str, params: dict | None = None) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(text(sql), params or {})).scalar_one()


# --- export ---------------------------------------------------------------------------------------

async def test_export_writes_records_that_fit_the_layout(engine, settings, state_a, tmp_path):
    path = tmp_path / "va.csv"
    sent = await _export(engine, settings, path)
    assert (sent.records, sent.new_records, sent.updates, sent.rescinds) == (4, 4, 0, 0)
    raw = path.read_bytes()
    assert raw.endswith(b"\r\n") and not raw.startswith(b"\xef\xbb\xbf")
    records = _read(path)
    by_name = {r["last_name"]: r for r in records}
    for r in records:
        values, problems = LAYOUT.parse(r)
        assert problems == [], (r, problems)
        assert r["record_type"] == "new" and r["contributing_state"] == "VA"
        assert r["record_id"].startswith("VA-")
        assert r["certifying_authority"] == "Criminal Justice Services Board (VA)"
        assert r["verification_contact"]
        assert r["action_date"] == "2024-03-15"
        assert r["reason_category"] == "misconduct"  # termination_serious_misconduct
        assert r["rescinded_on"] == r["rescind_reason"] == ""
    w = by_name["Whitfield"]
    assert (w["first_name"], w["middle_name"], w["date_of_birth"], w["certificate_number"],
            w["action_type"], w["suspension_start"]) == (
        "Dana", "Marie", "1980-05-06", "VA-1001", "revocation", "")
    o = by_name["Oyelaran"]
    assert (o["action_type"], o["suspension_start"], o["suspension_end"]) == (
        "suspension", "2024-03-15", "2025-03-15")
    k = by_name["Kowalczyk"]
    # A maiden surname recorded alone stays alone (the person's first name goes with it).
    assert (k["action_type"], k["date_of_birth"], k["aliases"]) == ("surrender", "1988-07",
                                                                     "Brandt")
    r = by_name["Reyes"]
    assert (r["action_type"], r["certificate_number"]) == ("denial", "")
    assert r["aliases"] == "Reyes-Diaz, Tom; Reyes, Tommy"
    # A pointer: nothing of the case's facts (the order's text, grounds' titles) leaves.
    body = raw.decode()
    for fact in ("The board so orders", "termination_serious_misconduct", "Terminated for"):
        assert fact not in body
    # The ledger: the submission and each action it carried; one audit event.
    assert await _count(engine, "SELECT count(*) FROM ndi_submissions") == 1
    assert await _count(engine, "SELECT count(*) FROM ndi_submission_records "
                                "WHERE record_type = 'new'") == 4
    assert await _count(engine, "SELECT count(*) FROM audit_events "
                                "WHERE operation = 'ndi.export'") == 1
    async with engine.connect() as conn:
        row = (await conn.execute(text(
            "SELECT file_name, file_sha256, records, recorded_by, layout_version, scope "
            "FROM ndi_submissions"))).one()
    assert row.file_sha256 == hashlib.sha256(raw).hexdigest()
    assert (row.file_name, row.records, row.layout_version, row.scope) == (
        "va.csv", 4, LAYOUT_VERSION, "since_last")
    assert row.recorded_by == "ndi clerk"


async def test_the_file_is_written_as_pythons_csv_writer_writes_it(client, engine, settings,
                                                                    world, state_a, tmp_path):
    """COPY writes the file: its quoting (only a field with the delimiter, the quote or a line
    end), delimiter, line ends and encoding are those csv.writer gives the same fields."""
    odd, _ = await _person(engine, settings, "Zoë", 'Q. "Junior"', 'O"Neil, Jr', None,
                           "VA-2001", other_names=[officers.NameIn(
                               last_name="Ó Néill", first_name="Zoe",
                               kind=NameKind.PRIOR)])
    await case_to(client, world, state_a.board, odd, "final_order", outcome="SUSPENSION",
                  until="2025-01-31")
    raw = (await _sent(engine, settings, tmp_path, "odd")).read_bytes()
    fields = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
    again = io.StringIO()
    csv.writer(again, lineterminator="\r\n").writerows(fields)
    assert raw == again.getvalue().encode("utf-8")
    line = next(r for r in raw.split(b"\r\n") if b"Neil" in r)
    assert b',"O""Neil, Jr",Zo\xc3\xab,"Q. ""Junior""",,"\xc3\x93 N\xc3\xa9ill, Zoe",,' in line


async def test_the_ledger_refuses_references_to_nothing(engine, settings, state_a, tmp_path):
    await _export(engine, settings, tmp_path / "va.csv")
    async with engine.connect() as conn:
        submission, action = (await conn.execute(text(
            "SELECT submission_id, action_id FROM ndi_submission_records LIMIT 1"))).one()
    # Checked once per statement (not row by row), as the foreign keys were.
    for bad in ((uuid.uuid4(), action), (submission, uuid.uuid4())):
        with pytest.raises(IntegrityError, match="refers to .* that does not exist"):
            async with engine.begin() as conn:
                await conn.execute(text(
                    "INSERT INTO ndi_submission_records (submission_id, action_id, record_id, "
                    "record_type) VALUES (:s, :a, 'VA-x', 'new')"), {"s": bad[0], "a": bad[1]})
    assert await _count(engine, "SELECT count(*) FROM ndi_submission_records") == 4


async def test_a_second_since_last_exports_nothing_new(engine, settings, state_a, tmp_path):
    first = await _export(engine, settings, tmp_path / "1.csv")
    assert first.records == 4
    second = await _export(engine, settings, tmp_path / "2.csv")
    assert second.records == 0
    assert _read(tmp_path / "2.csv") == []
    # --all sends every record again, now as updates of what the NDI already has.
    everything = await _export(engine, settings, tmp_path / "all.csv", scope="all")
    assert (everything.records, everything.updates) == (4, 4)
    assert {r["record_id"] for r in _read(tmp_path / "all.csv")} == {
        r["record_id"] for r in _read(tmp_path / "1.csv")}
    assert (await _export(engine, settings, tmp_path / "3.csv")).records == 0


async def test_appeal_overturned_and_reinstatement_rescind_and_changes_update(
        client, engine, settings, world, state_a, tmp_path):
    staff = world.tokens["staff"]
    first = {r["last_name"]: r for r in _read(await _sent(engine, settings, tmp_path, "1"))}
    # Overturned on appeal: the final order's record is taken back.
    appeal = (await data(client, APPEAL, {"id": state_a.cases["whitfield"], "on": "2024-04-01"},
                         token=staff))["fileAppeal"]["id"]
    await data(client, DECIDE, {"id": appeal, "d": "OVERTURNED", "on": "2024-06-03"},
               token=staff)
    # Reinstated by the board: taken back too.
    await data(client, REINSTATE, {"id": state_a.certs["kowalczyk"], "on": "2024-09-02"},
               token=staff)
    # A corrected name: the record is sent again as an update.
    await data(client, """mutation($id: ID!) { correctOfficer(id: $id, input: {
        firstName: "Marcus", middleName: "A.", lastName: "Oyelaran",
        dateOfBirth: "1975-11-02"}, reason: "middle initial") { id } }""",
               {"id": state_a.people["oyelaran"]}, token=staff)
    sent = await _export(engine, settings, tmp_path / "2.csv")
    assert (sent.records, sent.new_records, sent.updates, sent.rescinds) == (3, 0, 1, 2)
    second = {r["last_name"]: r for r in _read(tmp_path / "2.csv")}
    w, k, o = second["Whitfield"], second["Kowalczyk"], second["Oyelaran"]
    assert w["record_id"] == first["Whitfield"]["record_id"]
    assert (w["record_type"], w["rescinded_on"], w["rescind_reason"]) == (
        "rescind", "2024-06-03", "appeal_overturned")
    assert (k["record_type"], k["rescinded_on"], k["rescind_reason"]) == (
        "rescind", "2024-09-02", "reinstated")
    assert k["record_id"] == first["Kowalczyk"]["record_id"]
    assert (o["record_type"], o["middle_name"]) == ("update", "A.")
    for r in second.values():
        assert LAYOUT.parse(r)[1] == []
    assert (await _export(engine, settings, tmp_path / "3.csv")).records == 0
    # A full export still carries the rescinds (the NDI may resend them safely).
    everything = {r["last_name"]: r["record_type"]
                  for r in _read(await _sent(engine, settings, tmp_path, "all", "all"))}
    assert everything == {"Whitfield": "rescind", "Kowalczyk": "rescind", "Oyelaran": "update",
                          "Reyes": "update"}


async def test_an_action_on_a_merged_record_names_the_survivor(engine, settings, state_a,
                                                               tmp_path):
    survivor, _ = await _person(engine, settings, "Dana", "M.", "Whitfield-Grant",
                                PartialDate(1980, 5, 6), None)
    async with session_scope(engine) as s:
        await officers.merge(session=s, actor=SYSTEM, survivor_id=uuid.UUID(survivor),
                             duplicate_id=uuid.UUID(state_a.people["whitfield"]),
                             reason="same person")
    records = {r["certificate_number"]: r for r in _read(await _sent(engine, settings,
                                                                     tmp_path, "1"))}
    w = records["VA-1001"]
    assert (w["first_name"], w["middle_name"], w["last_name"], w["date_of_birth"]) == (
        "Dana", "M.", "Whitfield-Grant", "1980-05-06")
    assert w["aliases"] == "Whitfield, Dana Marie"  # the merged record's name


async def _sent(engine: Any, settings: Settings, folder: Path, name: str,
                scope: str = "since_last") -> Path:
    path = folder / f"{name}.csv"
    await _export(engine, settings, path, scope)
    return path


async def test_a_record_taken_back_before_it_was_sent_is_never_sent(
        client, engine, settings, world, state_a, tmp_path):
    appeal = (await data(client, APPEAL, {"id": state_a.cases["whitfield"], "on": "2024-04-01"},
                         token=world.tokens["staff"]))["fileAppeal"]["id"]
    await data(client, DECIDE, {"id": appeal, "d": "OVERTURNED", "on": "2024-06-03"},
               token=world.tokens["staff"])
    records = _read(await _sent(engine, settings, tmp_path, "1"))
    assert sorted(r["last_name"] for r in records) == ["Kowalczyk", "Oyelaran", "Reyes"]
    assert {r["record_type"] for r in records} == {"new"}


async def test_a_failing_record_stops_the_export_and_writes_nothing(
        engine, settings, state_a, tmp_path):
    """A ground the grounds file no longer defines has no NDI category: the export lists
    each failing record and stops; no file, no ledger, no audit event."""
    grounds = tmp_path / "grounds.toml"
    grounds.write_text('[[ground]]\ncode = "pattern_of_misconduct"\ntitle = "Pattern"\n'
                       'statute = "x"\ncategory = "pattern_of_misconduct"\nrule = "pattern"\n')
    edited = settings.model_copy(update={"grounds_file": grounds})
    before = await row_counts(engine)
    out = tmp_path / "out" / "va.csv"
    out.parent.mkdir()
    with pytest.raises(ndi.NdiRecordsInvalid) as refused:
        await _export(engine, edited, out)
    assert refused.value.details["failed"] == 4
    failure = refused.value.details["failures"][0]
    assert failure["recordId"].startswith("VA-")
    assert failure["problems"] == [{"column": "reason_category", "reason": (
        "ground 'termination_serious_misconduct' is not in the grounds file, so its NDI "
        "category is unknown")}]
    assert list(out.parent.iterdir()) == []  # no file, no partial file
    assert await row_counts(engine) == before
    # Once the ground is back, the same export goes through.
    assert (await _export(engine, settings, out)).records == 4


async def test_an_existing_file_is_kept_when_the_export_fails(engine, settings, state_a,
                                                              tmp_path):
    out = tmp_path / "va.csv"
    out.write_text("previous\n")
    bad = settings.model_copy(update={"ndi_contact": "x" * 301})
    with pytest.raises(ndi.NdiRecordsInvalid) as refused:
        await _export(engine, bad, out)
    assert refused.value.details["failures"][0]["problems"] == [
        {"column": "verification_contact", "reason": "is 301 characters long; at most 300"}]
    assert out.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["va.csv"]


# --- "under investigation" records (REGISTRY_NDI_UNDER_INVESTIGATION) ----------------------------

UNDER = "under_investigation"
SUMMARY = "Struck a handcuffed man during booking"


@pytest.fixture
def opted(settings) -> Settings:
    return settings.model_copy(update={"ndi_under_investigation": True})


async def _open(client: Any, world: Any, officer: str) -> str:
    return (await data(client, OPEN, {"o": officer, "g": [GROUND], "s": SUMMARY},
                       token=world.tokens["staff"]))["openCase"]["id"]


async def _opened_on(engine: Any, case: str) -> str:
    return (await _count(engine, "SELECT CAST(opened_at AS date) FROM cases WHERE id = :c",
                         {"c": case})).isoformat()


def _of_cases(path: Path) -> dict[str, dict[str, str]]:
    """The file's under-investigation records by case id."""
    return {r["record_id"].removeprefix("VA-"): r for r in _read(path)
            if r["action_type"] == UNDER}


async def test_pending_cases_are_sent_as_under_investigation_only_with_the_opt_in(
        client, engine, settings, opted, world, state_a, tmp_path):
    pending, _ = await _person(engine, settings, "Ray", None, "Okafor",
                               PartialDate(1983, 6, 1), "VA-1101")
    uncertified, _ = await _person(engine, settings, "Ines", None, "Albrecht", None, None)
    opened = await _open(client, world, pending)
    heard = await case_to(client, world, state_a.board, uncertified, "hearing")
    voted = await case_to(client, world, state_a.board, uncertified, "voted")

    # Off (the default): the open cases are not the NDI's business, and not even read.
    off = await _sent(engine, settings, tmp_path, "off")
    assert len(_read(off)) == 4 and _of_cases(off) == {}
    assert await _count(engine, "SELECT count(*) FROM ndi_submission_records "
                                "WHERE case_id IS NOT NULL") == 0

    on = await _export(engine, opted, tmp_path / "on.csv")
    assert (on.records, on.new_records, on.updates, on.rescinds) == (3, 3, 0, 0)
    records = _of_cases(tmp_path / "on.csv")
    assert set(records) == {opened, heard, voted}
    r = records[opened]
    assert (r["record_type"], r["last_name"], r["first_name"], r["date_of_birth"],
            r["certificate_number"], r["action_date"], r["reason_category"]) == (
        "new", "Okafor", "Ray", "1983-06-01", "VA-1101", await _opened_on(engine, opened),
        "misconduct")
    assert r["suspension_start"] == r["suspension_end"] == r["rescinded_on"] == ""
    assert records[heard]["certificate_number"] == ""  # the person holds none
    for record in records.values():
        assert LAYOUT.parse(record)[1] == []
    # A pointer: no case facts (summary, number, status, motion) leave the registry.
    body = (tmp_path / "on.csv").read_text()
    numbers = [await _count(engine, "SELECT number FROM cases WHERE id = :c", {"c": c})
               for c in (opened, heard, voted)]
    for fact in (SUMMARY, GROUND, "hearing", "revocation", *numbers):
        assert fact not in body
    assert await _count(engine, "SELECT count(*) FROM ndi_submission_records "
                                "WHERE case_id IS NOT NULL AND action_id IS NULL "
                                "AND record_type = 'new'") == 3

    # Nothing changed: a second since-last export sends nothing.
    assert (await _export(engine, opted, tmp_path / "again.csv")).records == 0
    # The person's record changed: the record is sent again as an update.
    await data(client, """mutation($id: ID!) { correctOfficer(id: $id, input: {
        firstName: "Raymond", lastName: "Okafor", dateOfBirth: "1983-06-01"},
        reason: "full first name") { id } }""", {"id": pending}, token=world.tokens["staff"])
    changed = await _export(engine, opted, tmp_path / "changed.csv")
    assert (changed.records, changed.updates) == (1, 1)
    assert _of_cases(tmp_path / "changed.csv")[opened]["first_name"] == "Raymond"
    # --all: every record again, the pending cases' too.
    everything = await _export(engine, opted, tmp_path / "all.csv", scope="all")
    assert (everything.records, everything.updates) == (7, 7)


async def test_the_record_names_the_persons_latest_certificate_of_this_state(
        client, engine, settings, opted, world, tmp_path):
    officer, _ = await _person(engine, settings, "Ada", None, "Moreno", None, "VA-3001")
    async with session_scope(engine) as s:
        for number, state, issued in (("VA-3002", None, date(2018, 5, 1)),
                                      ("MD-3003", "MD", date(2021, 5, 1))):
            await certifications.issue(
                session=s, actor=STAFF, settings=settings, issue_in=certifications.IssueIn(
                    officer_id=uuid.UUID(officer), number=number, state=state,
                    discipline=Discipline.CORRECTIONS, level=Level.BASIC, issued_on=issued))
    case = await _open(client, world, officer)
    sent = _of_cases(await _sent(engine, opted, tmp_path, "1"))
    # The 2018 Virginia certificate: Maryland's (newer) is not this state's to report.
    assert sent[case]["certificate_number"] == "VA-3002"


async def test_a_final_order_sends_its_record_and_rescinds_the_investigation(
        client, engine, opted, world, tmp_path):
    board = await seat_board(engine, world)
    officer, _ = await _person(engine, opted, "Noor", None, "Haddad", None, "VA-4001")
    case = await _open(client, world, officer)
    first = _of_cases(await _sent(engine, opted, tmp_path, "1"))
    assert first[case]["record_type"] == "new"
    await advance(client, world, board, case, "open", "final_order")
    second = await _export(engine, opted, tmp_path / "2.csv")
    assert (second.records, second.new_records, second.rescinds) == (2, 1, 1)
    records = {r["action_type"]: r for r in _read(tmp_path / "2.csv")}
    order, under = records["revocation"], records[UNDER]
    assert (order["record_type"], order["certificate_number"], order["action_date"]) == (
        "new", "VA-4001", "2024-03-15")
    assert order["record_id"] != under["record_id"] == first[case]["record_id"]
    ended = await _count(engine, "SELECT CAST(recorded_at AS date) FROM case_status_events "
                                 "WHERE case_id = :c AND to_status = 'final_order'", {"c": case})
    assert (under["record_type"], under["rescinded_on"], under["rescind_reason"]) == (
        "rescind", ended.isoformat(), "final_order")
    assert LAYOUT.parse(under)[1] == []
    assert (await _export(engine, opted, tmp_path / "3.csv")).records == 0
    # An appeal later is the final order's business: the investigation stays taken back.
    await advance(client, world, board, case, "final_order", "appealed")
    assert (await _export(engine, opted, tmp_path / "4.csv")).records == 0


async def test_a_case_ended_without_action_rescinds_its_record(client, engine, opted, world,
                                                               tmp_path):
    board = await seat_board(engine, world)
    dismissed_officer, _ = await _person(engine, opted, "Liam", None, "Byrne", None, "VA-5001")
    failed_officer, _ = await _person(engine, opted, "Mei", None, "Tanaka", None, "VA-5002")
    dismissed = await _open(client, world, dismissed_officer)
    failed = await case_to(client, world, board, failed_officer, "hearing")
    assert set(_of_cases(await _sent(engine, opted, tmp_path, "1"))) == {dismissed, failed}

    await data(client, MOVE, {"id": dismissed, "m": "CLOSE", "r": "not sustained"},
               token=world.tokens["staff"])
    # The motion fails with a quorum: a final order of no action, which sends nothing itself.
    await advance(client, world, board, failed, "hearing", "final_order",
                  votes=("NO", "NO", "YES"), order="NO_ACTION")
    sent = await _export(engine, opted, tmp_path / "2.csv")
    assert (sent.records, sent.rescinds) == (2, 2)
    records = _of_cases(tmp_path / "2.csv")
    assert {c: (r["record_type"], r["rescind_reason"]) for c, r in records.items()} == {
        dismissed: ("rescind", "closed_without_action"),
        failed: ("rescind", "closed_without_action")}
    assert all(r["rescinded_on"] >= r["action_date"] for r in records.values())
    assert (await _export(engine, opted, tmp_path / "3.csv")).records == 0
    # A full export carries the rescinds again, as for the final orders' records.
    everything = _of_cases(await _sent(engine, opted, tmp_path, "all", "all"))
    assert {r["record_type"] for r in everything.values()} == {"rescind"}
    assert set(everything) == {dismissed, failed}


async def test_a_case_that_ended_before_it_was_sent_is_never_sent(client, engine, opted,
                                                                   world, tmp_path):
    board = await seat_board(engine, world)
    dismissed_officer, _ = await _person(engine, opted, "Omar", None, "Farouk", None, "VA-6001")
    ordered_officer, _ = await _person(engine, opted, "Pia", None, "Lund", None, "VA-6002")
    dismissed = await _open(client, world, dismissed_officer)
    await data(client, MOVE, {"id": dismissed, "m": "CLOSE", "r": "withdrawn"},
               token=world.tokens["staff"])
    await case_to(client, world, board, ordered_officer, "final_order")
    first = await _export(engine, opted, tmp_path / "1.csv")
    # Only the final order: the NDI never heard of either investigation.
    assert (first.records, first.new_records) == (1, 1)
    assert _of_cases(tmp_path / "1.csv") == {}
    assert _of_cases(await _sent(engine, opted, tmp_path, "all", "all")) == {}


async def test_turning_the_opt_in_off_takes_back_what_the_ndi_has(
        client, engine, settings, opted, world, tmp_path):
    board = await seat_board(engine, world)
    officer, _ = await _person(engine, settings, "Ruth", None, "Abebe", None, "VA-7001")
    other, _ = await _person(engine, settings, "Sam", None, "Ortiz", None, "VA-7002")
    case_rows = "SELECT count(*) FROM ndi_submission_records WHERE case_id IS NOT NULL"
    # Never sent one: with the opt-in off the export leaves the cases alone.
    assert "cases" not in re.findall(r"\w+", ndi_sql.BATCH_SQL)
    async with session_scope(engine) as s:
        assert await ndi.case_records(await driver(s), settings) is None
    pending = await _open(client, world, officer)
    ending = await _open(client, world, other)
    assert set(_of_cases(await _sent(engine, opted, tmp_path, "1"))) == {pending, ending}
    await advance(client, world, board, ending, "open", "final_order")

    # Off: each record the NDI still has is taken back; the final order goes as usual.
    off = await _export(engine, settings, tmp_path / "off.csv")
    assert (off.records, off.new_records, off.rescinds) == (3, 1, 2)
    records = _of_cases(tmp_path / "off.csv")
    today = await _count(engine, "SELECT CAST(current_date AS text)")
    assert (records[pending]["rescind_reason"], records[pending]["rescinded_on"]) == (
        "no_longer_reported", today)
    assert records[ending]["rescind_reason"] == "final_order"
    assert all(LAYOUT.parse(r)[1] == [] for r in records.values())
    assert await _count(engine, case_rows) == 4
    assert (await _export(engine, settings, tmp_path / "off2.csv")).records == 0
    # A new case while off is not reported.
    await _open(client, world, other)
    assert (await _export(engine, settings, tmp_path / "off3.csv")).records == 0

    # On again: the still pending case is reported again, as an update of its record (the
    # ended one stays taken back), and the case opened meanwhile as new.
    again = await _export(engine, opted, tmp_path / "again.csv")
    assert (again.records, again.new_records, again.updates) == (2, 1, 1)
    assert _of_cases(tmp_path / "again.csv")[pending]["record_type"] == "update"


async def test_the_ledger_names_one_root_and_refuses_unknown_cases(client, engine, owner_url,
                                                                   opted, world, tmp_path):
    officer, _ = await _person(engine, opted, "Vera", None, "Kim", None, "VA-8001")
    case = await _open(client, world, officer)
    await _export(engine, opted, tmp_path / "1.csv")
    async with engine.connect() as conn:
        submission = (await conn.execute(text(
            "SELECT submission_id FROM ndi_submission_records WHERE case_id = :c"),
            {"c": case})).scalar_one()
    insert = text("INSERT INTO ndi_submission_records (submission_id, action_id, case_id, "
                  "record_id, record_type) VALUES (:s, :a, :c, 'VA-x', 'new')")
    for bad, message in (
            ({"a": None, "c": uuid.uuid4()}, "refers to case .* that does not exist"),
            ({"a": None, "c": None}, "ndi_submission_records_one_root"),
            ({"a": uuid.uuid4(), "c": uuid.UUID(case)}, "ndi_submission_records_one_root"),
            ({"a": None, "c": uuid.UUID(case)}, "ndi_submission_records_key")):
        with pytest.raises(IntegrityError, match=message):
            async with engine.begin() as conn:
                await conn.execute(insert, {"s": submission, **bad})
    assert await _count(engine, "SELECT count(*) FROM ndi_submission_records") == 1
    # What was sent stays on record: the migration that allows case rows is not undone.
    with pytest.raises(Exception, match="holds under-investigation records"):
        await asyncio.to_thread(migrations.downgrade, owner_url, "0008")
    assert await _count(engine, "SELECT version_num FROM alembic_version") == "0009"


# --- import into another state's registry ---------------------------------------------------------

@dataclass
class StateB:
    settings: Settings
    engine: Any
    client: httpx2.AsyncClient
    staff: str  # a post_staff token in B
    agency: str  # an agency token in B
    people: dict[str, str]


@pytest.fixture
async def state_b(server_url) -> AsyncIterator[StateB]:
    """A second, fresh registry: Maryland's. It already knows two of Virginia's people: one
    by the Virginia certificate it recorded, one by name and date of birth."""
    name = f"test_md_{uuid.uuid4().hex[:12]}"
    await execute(server_url, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    settings = Settings(database_url=_database(server_url, name), state="MD")
    engine = create_engine(settings.database_url or "", settings)
    application = create_app(settings)
    try:
        people = {}
        people["whitfield"], _ = await _person(engine, settings, "D.", None, "Whitfield-Grant",
                                               None, "VA-1001", state="VA")
        people["oyelaran"], _ = await _person(engine, settings, "Marcus", None, "Oyelaran",
                                              PartialDate(1975, 11, 2), "MD-2001")
        people["namesake"], _ = await _person(engine, settings, "Lena", None, "Kowalczyk",
                                              PartialDate(1961, 1, 9), "MD-2002")
        async with session_scope(engine) as s:
            _, staff = await keys.create(session=s, actor=SYSTEM, role=Role.POST_STAFF,
                                         name="md staff")
            from registry.agencies import service as agencies
            from registry.agencies.models import AgencyType
            await agencies.create(session=s, actor=SYSTEM, agency_in=agencies.AgencyIn(
                state="MD", name="Baltimore County Police Department",
                agency_type=AgencyType.POLICE, ori="MD0030000"))
            _, agency = await keys.create(session=s, actor=SYSTEM, role=Role.AGENCY,
                                          name="md agency", agency_ori="MD0030000")
        transport = httpx2.ASGITransport(app=application)
        async with httpx2.AsyncClient(transport=transport, base_url="http://md.test") as client:
            yield StateB(settings, engine, client, staff, agency, people)
    finally:
        await application.state.engine.dispose()
        await engine.dispose()
        await execute(server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def _import(b: StateB, path: Path, rejects: Path | None = None) -> ndi.ImportResult:
    return await ndi.import_path(b.engine, actor=IMPORTER, settings=b.settings, path=path,
                                 rejects_path=rejects)


async def _external(b: StateB) -> dict[str, Any]:
    async with b.engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT x.*, o.canonical_id AS person FROM external_actions x "
            "JOIN officers o ON o.id = x.officer_id"))).all()
    return {r.last_name: r for r in rows}


async def test_round_trip_into_another_state(client, engine, settings, world, state_a, state_b,
                                             tmp_path):
    b = state_b
    exported = tmp_path / "va-1.csv"
    await _export(engine, settings, exported)
    result = await _import(b, exported)
    assert result.rejected == 0 and result.records == 4
    assert dict(result.counts) == {"new": 4, "attached_by_certificate": 1,
                                   "attached_by_name_and_birth_date": 1,
                                   "attached_by_new_person": 2, "new_people": 2}
    got = await _external(b)
    # The same actions came back.
    sent = {r["last_name"]: r for r in _read(exported)}
    for last, r in sent.items():
        x = got[last]
        assert (x.contributing_state, x.record_id, x.record_type, x.action_type,
                x.action_date.isoformat(), x.reason_category, x.certificate_number or "",
                x.first_name, x.rescinded) == (
            "VA", r["record_id"], "new", r["action_type"], r["action_date"],
            r["reason_category"], r["certificate_number"], r["first_name"], False)
        assert x.verification_contact == r["verification_contact"]
    assert (got["Oyelaran"].suspension_start, got["Oyelaran"].suspension_end) == (
        date(2024, 3, 15), date(2025, 3, 15))
    # Attached: by the Virginia certificate Maryland recorded; by name and date of birth;
    # the others (a namesake born 1961 is not Lena, born 1988) are people of their own.
    assert (got["Whitfield"].attached_by, str(got["Whitfield"].person)) == (
        "certificate", b.people["whitfield"])
    assert (got["Oyelaran"].attached_by, str(got["Oyelaran"].person)) == (
        "name_and_birth_date", b.people["oyelaran"])
    assert got["Oyelaran"].match_score >= 0.85
    for last in ("Kowalczyk", "Reyes"):
        assert got[last].attached_by == "new_person"
        assert str(got[last].person) not in b.people.values()
    async with b.engine.connect() as conn:
        source = (await conn.execute(text(
            "SELECT source, source_key FROM source_records WHERE officer_id = :o"),
            {"o": got["Kowalczyk"].officer_id})).one()
        aliases = (await conn.execute(text(
            "SELECT kind, last_name, first_name FROM officer_names WHERE officer_id = :o"),
            {"o": got["Kowalczyk"].officer_id})).all()
    assert tuple(source) == ("ndi:VA", sent["Kowalczyk"]["record_id"])
    assert [tuple(a) for a in aliases] == [("alias", "Brandt", None)]
    audit = await _count(b.engine, "SELECT after->>'file_sha256' FROM audit_events "
                                   "WHERE operation = 'ndi.import'")
    assert audit == result.file_sha256
    async with b.engine.connect() as conn:
        run = (await conn.execute(text(
            "SELECT kind, status, rows_in, rows_loaded, rows_rejected, file_sha256 "
            "FROM load_runs"))).one()
    assert tuple(run) == ("ndi", "finished", 4, 4, 0, result.file_sha256)

    # Re-importing the same file changes nothing.
    before = await row_counts(b.engine)
    again = await _import(b, exported)
    assert dict(again.counts) == {"unchanged": 4}
    after = await row_counts(b.engine)
    assert {t: n for t, n in after.items() if t not in ("load_runs", "audit_events")} == {
        t: n for t, n in before.items() if t not in ("load_runs", "audit_events")}
    assert after["load_runs"] == before["load_runs"] + 1

    # A background check in Maryland finds Lena (known only from Virginia's record) by her
    # name and date of birth, and by her maiden name with the Virginia certificate.
    by_name = (await data(b.client, CHECK, {"c": {
        "firstName": "Lena", "lastName": "Kowalczyk", "dateOfBirth": "1988-07"}},
        token=b.agency))["backgroundCheck"]["matches"]
    lena = by_name[0]["officer"]
    assert lena["flags"]["decertifiedAnywhere"] is True
    [action] = lena["externalActions"]
    assert {k: action[k] for k in ("contributingState", "recordType", "actionType",
                                   "actionDate", "reasonCategory", "rescinded",
                                   "certificateNumber", "attachedBy", "reportedDateOfBirth")
            } == {"contributingState": "VA", "recordType": "NEW", "actionType": "SURRENDER",
                  "actionDate": "2024-03-15", "reasonCategory": "misconduct",
                  "rescinded": False, "certificateNumber": "VA-1003",
                  "attachedBy": "new_person", "reportedDateOfBirth": "1988-07"}
    assert action["recordId"] == sent["Kowalczyk"]["record_id"]
    by_cert = (await data(b.client, CHECK, {"c": {
        "firstName": "Lena", "lastName": "Brandt",
        "certificateNumbers": [{"state": "VA", "number": "va 1003"}]}},
        token=b.staff))["backgroundCheck"]["matches"]
    assert by_cert[0]["officer"]["id"] == lena["id"]
    assert {"evidence": "CERTIFICATE_NUMBER", "method": "EXACT"} in by_cert[0]["reasons"]
    # Whitfield: Maryland's own record now shows Virginia's revocation.
    whitfield = (await data(b.client, """query($id: ID!) { officer(id: $id) {
        externalActions { actionType attachedBy } } }""",
        {"id": b.people["whitfield"]}, token=b.agency))["officer"]["externalActions"]
    assert whitfield == [{"actionType": "REVOCATION", "attachedBy": "certificate"}]

    # Virginia takes two records back and corrects a name; Maryland reads the changes.
    staff = world.tokens["staff"]
    appeal = (await data(client, APPEAL, {"id": state_a.cases["whitfield"], "on": "2024-04-01"},
                         token=staff))["fileAppeal"]["id"]
    await data(client, DECIDE, {"id": appeal, "d": "OVERTURNED", "on": "2024-06-03"},
               token=staff)
    await data(client, REINSTATE, {"id": state_a.certs["kowalczyk"], "on": "2024-09-02"},
               token=staff)
    await data(client, """mutation($id: ID!) { correctOfficer(id: $id, input: {
        firstName: "Marcus", middleName: "A.", lastName: "Oyelaran",
        dateOfBirth: "1975-11-02"}, reason: "middle initial") { id } }""",
               {"id": state_a.people["oyelaran"]}, token=staff)
    changes = tmp_path / "va-2.csv"
    await _export(engine, settings, changes)
    people_before = await _count(b.engine, "SELECT count(*) FROM officers")
    result = await _import(b, changes)
    assert dict(result.counts) == {"rescinded": 2, "updated": 1}
    got = await _external(b)
    assert (got["Whitfield"].rescinded, got["Whitfield"].record_type,
            got["Whitfield"].version) == (True, "rescind", 2)
    assert got["Kowalczyk"].rescinded and got["Kowalczyk"].version == 2
    assert (got["Oyelaran"].middle_name, got["Oyelaran"].version,
            got["Oyelaran"].record_type) == ("A.", 2, "update")
    assert await _count(b.engine, "SELECT count(*) FROM officers") == people_before
    assert await _count(b.engine, "SELECT count(*) FROM external_actions_history") == 3
    again = (await data(b.client, CHECK, {"c": {
        "firstName": "Lena", "lastName": "Kowalczyk", "dateOfBirth": "1988-07"}},
        token=b.agency))["backgroundCheck"]["matches"][0]["officer"]
    assert again["flags"]["decertifiedAnywhere"] is False
    assert again["externalActions"][0]["rescinded"] is True
    assert dict((await _import(b, changes)).counts) == {"unchanged": 3}


async def test_under_investigation_round_trip_into_another_state(client, engine, opted, world,
                                                                  state_b, tmp_path):
    b = state_b
    officer, _ = await _person(engine, opted, "Hugo", "L.", "Strand", PartialDate(1979, 3, 9),
                               "VA-9001")
    case = await _open(client, world, officer)
    exported = await _sent(engine, opted, tmp_path, "va-1")
    [sent] = _read(exported)
    result = await _import(b, exported)
    assert result.rejected == 0
    assert dict(result.counts) == {"new": 1, "attached_by_new_person": 1, "new_people": 1}
    got = (await _external(b))["Strand"]
    assert (got.contributing_state, got.record_id, got.record_type, got.action_type,
            got.action_date.isoformat(), got.certificate_number, got.reason_category,
            got.rescinded) == ("VA", f"VA-{case}", "new", UNDER, sent["action_date"],
                               "VA-9001", "misconduct", False)
    # Maryland's checks see the pending investigation; it is not a decertification.
    check = (await data(b.client, CHECK, {"c": {
        "firstName": "Hugo", "lastName": "Strand", "dateOfBirth": "1979-03-09"}},
        token=b.agency))["backgroundCheck"]["matches"][0]["officer"]
    assert check["flags"]["decertifiedAnywhere"] is False
    assert [(a["actionType"], a["recordId"], a["rescinded"])
            for a in check["externalActions"]] == [("UNDER_INVESTIGATION", f"VA-{case}", False)]

    # Virginia dismisses the case: Maryland reads the rescind.
    await data(client, MOVE, {"id": case, "m": "CLOSE", "r": "not sustained"},
               token=world.tokens["staff"])
    closed = await _sent(engine, opted, tmp_path, "va-2")
    assert dict((await _import(b, closed)).counts) == {"rescinded": 1}
    got = (await _external(b))["Strand"]
    assert (got.rescinded, got.record_type, got.version) == (True, "rescind", 2)
    assert dict((await _import(b, closed)).counts) == {"unchanged": 1}


# --- bad files ---------------------------------------------------------------------------------

GOOD = {"record_id": "VA-0001", "record_type": "new", "contributing_state": "VA",
        "certifying_authority": "Criminal Justice Services Board (VA)",
        "verification_contact": "DCJS certification, (804) 786-4000", "last_name": "Alvarez",
        "first_name": "Rosa", "middle_name": "", "suffix": "", "aliases": "",
        "date_of_birth": "1979-08-30", "certificate_number": "VA-7001", "post_id": "",
        "action_type": "revocation", "action_date": "2023-10-02", "suspension_start": "",
        "suspension_end": "", "reason_category": "dishonesty", "rescinded_on": "",
        "rescind_reason": ""}


def _file(tmp_path: Path, rows: list[dict[str, str]], *, header: tuple[str, ...] | None = None,
          name: str = "in.csv") -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    columns = header or LAYOUT.header
    writer.writerow(columns)
    for r in rows:
        writer.writerow([r.get(c, "") for c in columns])
    path = tmp_path / name
    path.write_bytes(buffer.getvalue().encode("utf-8"))
    return path


def _row(n: int, **changes: str) -> dict[str, str]:
    return {**GOOD, "record_id": f"VA-{n:04d}", "certificate_number": f"VA-7{n:03d}",
            "first_name": ["Rosa", "Ian", "Kemal", "Aiko", "Bram"][n % 5], **changes}


@pytest.fixture
def md(settings) -> Settings:
    return settings.model_copy(update={"state": "MD"})


async def _import_md(engine: Any, md: Settings, path: Path) -> ndi.ImportResult:
    return await ndi.import_path(engine, actor=IMPORTER, settings=md, path=path,
                                 rejects_path=path.with_name(path.name + ".rejects.csv"))


async def test_bad_records_are_rejected_and_the_good_ones_load(engine, md, tmp_path):
    rows = [
        _row(1),
        _row(2, action_date="2023-13-02"),
        _row(3, action_type="decertified"),
        _row(4, date_of_birth="30/08/1979"),
        _row(5, action_type="suspension"),  # no suspension dates
        _row(6, record_type="rescind"),  # no rescinded_on / rescind_reason
        _row(7, contributing_state="MD"),  # our own state
        _row(8, last_name=""),
        _row(9, date_of_birth="2999-01-01"),
        _row(10, suspension_start="2023-10-02", suspension_end="2024-01-01"),  # revocation
        _row(11, first_name="Mia"),
    ]
    path = _file(tmp_path, rows)
    result = await _import_md(engine, md, path)
    assert (result.records, result.rejected, result.counts["new"]) == (11, 9, 2)
    reasons = {(r.record_id, r.column): r.reason for r in result.rejects}
    assert reasons[("VA-0002", "action_date")] == "'2023-13-02' is not a calendar date"
    assert reasons[("VA-0003", "action_type")].startswith(
        "'decertified' is not a code of this column (revocation, suspension")
    assert "YYYY-MM-DD or YYYY-MM or YYYY" in reasons[("VA-0004", "date_of_birth")]
    assert reasons[("VA-0005", "suspension_start")] == "required when action_type is suspension"
    assert reasons[("VA-0006", "rescinded_on")] == "required when record_type is rescind"
    assert "this registry's own state" in reasons[("VA-0007", "contributing_state")]
    assert reasons[("VA-0008", "last_name")] == "required"
    assert "in the future" in reasons[("VA-0009", "date_of_birth")]
    assert reasons[("VA-0010", "suspension_start")] == (
        "must be empty unless action_type is suspension")
    assert all(r.line == int(r.record_id[3:]) + 1 for r in result.rejects)
    listed = _read_rejects(path.with_name("in.csv.rejects.csv"))
    assert {r["record_id"] for r in listed} == {f"VA-{n:04d}" for n in range(2, 11)}
    assert await _count(engine, "SELECT count(*) FROM external_actions") == 2
    assert await _count(engine, "SELECT rows_rejected FROM load_runs") == 9


async def test_another_states_under_investigation_records_are_read(engine, md, tmp_path):
    rows = [
        _row(1, action_type=UNDER, certificate_number=""),
        _row(2, action_type=UNDER, suspension_start="2023-10-02",
             suspension_end="2024-01-01"),
        _row(3, action_type=UNDER, record_type="rescind", rescinded_on="2023-12-01",
             rescind_reason="dismissed"),
        _row(1, action_type=UNDER, certificate_number="", record_type="rescind",
             rescinded_on="2023-11-01", rescind_reason="closed_without_action"),
        _row(4, action_type=UNDER, record_type="rescind", rescinded_on="2023-12-09",
             rescind_reason="final_order"),
    ]
    result = await _import_md(engine, md, _file(tmp_path, rows))
    assert dict(result.counts) == {"new": 1, "attached_by_new_person": 1, "new_people": 1,
                                   "rescinded": 1, "rescinds_of_unknown_records": 1}
    assert result.rejected == 2
    reasons = [(r.record_id, r.column, r.reason) for r in result.rejects]
    assert reasons[:2] == [
        ("VA-0002", "suspension_start", "must be empty unless action_type is suspension"),
        ("VA-0002", "suspension_end", "must be empty unless action_type is suspension")]
    assert reasons[2][:2] == ("VA-0003", "rescind_reason")
    assert reasons[2][2].startswith("'dismissed' is not a code of this column")
    async with engine.connect() as conn:
        row = (await conn.execute(text("SELECT action_type, rescinded, version "
                                       "FROM external_actions"))).one()
    assert tuple(row) == (UNDER, True, 2)


def _read_rejects(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.open(encoding="utf-8", newline="")))


async def test_a_missing_required_column_refuses_the_file(engine, md, tmp_path):
    header = tuple(c for c in LAYOUT.header if c != "action_type")
    path = _file(tmp_path, [_row(1)], header=header)
    before = await row_counts(engine)
    with pytest.raises(ndi.NdiFileRefused, match="lacks the column"):
        await _import_md(engine, md, path)
    after = await row_counts(engine)
    assert after["external_actions"] == before["external_actions"] == 0
    assert after["officers"] == before["officers"]
    # The refusal is on record: a failed load run and an audit event with the file's hash.
    async with engine.connect() as conn:
        run = (await conn.execute(text("SELECT status, counts->>'error' AS error "
                                       "FROM load_runs"))).one()
    assert run.status == "failed" and "action_type" in run.error
    assert after["audit_events"] == before["audit_events"] + 1


async def test_a_file_in_another_encoding_is_refused(engine, md, tmp_path):
    path = _file(tmp_path, [_row(1), _row(2, last_name="Muñoz")])
    path.write_bytes(path.read_bytes().decode("utf-8").encode("latin-1"))
    with pytest.raises(ndi.NdiFileRefused) as refused:
        await _import_md(engine, md, path)
    assert "line 3 has the byte 0xf1, which is not UTF-8" in refused.value.message
    assert await _count(engine, "SELECT count(*) FROM external_actions") == 0


async def test_a_truncated_last_line_is_rejected_and_the_rest_loads(engine, md, tmp_path):
    path = _file(tmp_path, [_row(1), _row(2), _row(3)])
    body = path.read_bytes()
    path.write_bytes(body[:-25])  # cut inside the last record
    result = await _import_md(engine, md, path)
    assert (result.records, result.counts["new"], result.rejected) == (3, 2, 1)
    [reject] = result.rejects
    assert (reject.line, reject.column) == (4, "record")
    assert "looks truncated" in reject.reason
    # A utf-8 byte-order mark, quoted fields and blank lines are fine.
    bom = tmp_path / "bom.csv"
    text_ = _file(tmp_path, [_row(4, last_name="O'Neil, Jr")]).read_text()
    bom.write_bytes(b"\xef\xbb\xbf" + (text_ + "\r\n").encode())
    assert (await _import_md(engine, md, bom)).counts["new"] == 1


async def test_the_same_record_id_twice_in_a_file_is_a_new_version(engine, md, tmp_path):
    path = _file(tmp_path, [_row(1), _row(1, record_type="update", action_date="2023-10-09")])
    result = await _import_md(engine, md, path)
    assert dict(result.counts) == {"new": 1, "attached_by_new_person": 1, "new_people": 1,
                                   "updated": 1}
    async with engine.connect() as conn:
        row = (await conn.execute(text("SELECT version, action_date, record_type "
                                       "FROM external_actions"))).one()
    assert tuple(row) == (2, date(2023, 10, 9), "update")
    # A rescind of a record never seen is counted, and creates no one.
    path = _file(tmp_path, [_row(9, record_type="rescind", rescinded_on="2024-01-01",
                                 rescind_reason="reinstated")], name="r.csv")
    assert dict((await _import_md(engine, md, path)).counts) == {
        "rescinds_of_unknown_records": 1}


async def test_two_people_fitting_a_record_equally_get_neither(engine, settings, md, tmp_path):
    for _ in range(2):
        await _person(engine, md, "Rosa", None, "Alvarez", PartialDate(1979, 8, 30), None)
    result = await _import_md(engine, md, _file(tmp_path, [_row(
        0, certificate_number="", action_type="denial")]))
    assert result.counts["attached_by_new_person"] == 1
    assert result.counts["ambiguous_matches"] == 1


# --- GraphQL --------------------------------------------------------------------------------------

async def test_submit_ndi_export_returns_the_records_and_the_file(client, engine, world,
                                                                  state_a):
    staff = world.tokens["staff"]
    got = (await data(client, SUBMIT, {"s": "SINCE_LAST"}, token=staff))["submitNdiExport"]
    assert got["columns"] == list(LAYOUT.header)
    assert got["submission"]["records"] == len(got["records"]) == 4
    assert got["submission"]["newRecords"] == 4 and got["submission"]["scope"] == "SINCE_LAST"
    assert got["submission"]["recordedBy"].startswith("test staff")
    assert got["id"] == got["submission"]["id"]
    from_csv = _read(got["csv"])
    for record, line in zip(got["records"], from_csv, strict=True):
        assert {f["column"]: f["value"] for f in record["fields"]} == line
        assert record["recordType"] == "NEW"
    assert got["submission"]["fileSha256"] == hashlib.sha256(got["csv"].encode()).hexdigest()
    again = (await data(client, SUBMIT, {"s": "SINCE_LAST"}, token=staff))["submitNdiExport"]
    assert again["records"] == [] and _read(again["csv"]) == []
    ledger = (await data(client, """{ ndiSubmissions(first: 5) { edges { node { id records
        newRecords scope } } pageInfo { hasNextPage } } }""", token=staff))["ndiSubmissions"]
    assert [e["node"]["records"] for e in ledger["edges"]] == [0, 4]
    assert ledger["edges"][1]["node"]["id"] == got["id"]


async def test_submit_ndi_export_carries_under_investigation_records(client, engine, settings,
                                                                      world):
    officer, _ = await _person(engine, settings, "Lia", None, "Novak", None, "VA-9101")
    case = await _open(client, world, officer)
    staff = world.tokens["staff"]
    off = (await data(client, SUBMIT, {"s": "SINCE_LAST"}, token=staff))["submitNdiExport"]
    assert off["records"] == []
    settings.ndi_under_investigation = True
    got = (await data(client, SUBMIT, {"s": "SINCE_LAST"}, token=staff))["submitNdiExport"]
    [record] = got["records"]
    fields = {f["column"]: f["value"] for f in record["fields"]}
    assert (record["recordId"], record["recordType"], fields["action_type"]) == (
        f"VA-{case}", "NEW", UNDER)
    assert [fields] == _read(got["csv"])
    assert got["submission"]["newRecords"] == 1
    # Closed: the rescind comes the same way.
    await data(client, MOVE, {"id": case, "m": "CLOSE", "r": "withdrawn"}, token=staff)
    got = (await data(client, SUBMIT, {"s": "SINCE_LAST"}, token=staff))["submitNdiExport"]
    assert [(r["recordId"], r["recordType"]) for r in got["records"]] == [
        (f"VA-{case}", "RESCIND")]
    assert got["submission"]["rescinds"] == 1


async def test_submit_ndi_export_refuses_records_that_do_not_fit(client, engine, settings,
                                                                 world, state_a):
    settings.ndi_contact = "line\nbreak"
    before = await row_counts(engine)
    body = (await gql(client, SUBMIT, {"s": "ALL"}, token=world.tokens["staff"])).json()
    [error] = body["errors"]
    assert error["extensions"]["code"] == "NDI_RECORDS_INVALID"
    assert error["extensions"]["failed"] == 4
    assert error["extensions"]["failures"][0]["problems"] == [
        {"column": "verification_contact", "reason": "contains a line break or control "
                                                     "character"}]
    assert await row_counts(engine) == before


async def test_submit_ndi_export_caps_what_the_api_returns(client, engine, settings, world,
                                                           state_a):
    settings.ndi_graphql_max_records = 3
    before = await row_counts(engine)
    body = (await gql(client, SUBMIT, {"s": "ALL"}, token=world.tokens["staff"])).json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "registry ndi export" in body["errors"][0]["message"]
    assert await row_counts(engine) == before


@pytest.mark.parametrize("who", ["admin", "staff", "board", "agency_a"])
async def test_the_ledger_is_for_post_staff_and_administrators(client, world, who):
    body = (await gql(client, "{ ndiSubmissions { edges { node { id } } } }",
                      token=world.tokens[who])).json()
    if who in ("admin", "staff"):
        assert body["data"]["ndiSubmissions"] == {"edges": []}, body
    else:
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


# --- the command line ----------------------------------------------------------------------------

class Cli:
    """`registry ...` in a thread: the commands start their own event loop."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    async def __call__(self, *args: str) -> Result:
        return await asyncio.to_thread(self.runner.invoke, cli_app, list(args))


@pytest.fixture
def cli(database_url, monkeypatch) -> Iterator[Cli]:
    monkeypatch.setenv("REGISTRY_DATABASE_URL", database_url)
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    yield Cli()
    get_settings.cache_clear()


async def test_cli_help(cli):
    for command in (["ndi"], ["ndi", "export"], ["ndi", "import"]):
        result = await cli(*command, "--help")
        assert result.exit_code == 0 and "Usage" in result.output, result.output
    assert "--since-last" in (await cli("ndi", "export", "--help")).output


async def test_cli_export_and_import(cli, engine, state_a, tmp_path, monkeypatch):
    out = tmp_path / "va.csv"
    exported = await cli("ndi", "export", "-o", str(out), "--by", "Jo Clerk")
    assert exported.exit_code == 0, exported.output
    assert "Exported 4 records (4 new, 0 update, 0 rescind)" in exported.output
    assert len(_read(out)) == 4
    nothing = await cli("ndi", "export", "--since-last", "-o", str(tmp_path / "none.csv"))
    assert "Exported 0 records" in nothing.output
    assert "Exported 4 records" in (await cli("ndi", "export", "--all", "-o",
                                              str(tmp_path / "all.csv"))).output
    async with engine.connect() as conn:
        by = (await conn.execute(text("SELECT recorded_by FROM ndi_submissions "
                                      "ORDER BY recorded_at LIMIT 1"))).scalar_one()
    assert by == "Jo Clerk (registry ndi export)"

    grounds = tmp_path / "grounds.toml"
    grounds.write_text('[[ground]]\ncode = "other"\ntitle = "Other"\nstatute = "x"\n'
                       'category = "other"\nrule = "pattern"\n')
    monkeypatch.setenv("REGISTRY_GROUNDS_FILE", str(grounds))
    get_settings.cache_clear()
    failed = await cli("ndi", "export", "--all", "-o", str(tmp_path / "bad.csv"))
    assert failed.exit_code == 1
    assert "4 record(s) failed; nothing was exported" in failed.output
    assert "reason_category" in failed.output and "termination_serious_misconduct" in failed.output
    assert not (tmp_path / "bad.csv").exists()
    monkeypatch.delenv("REGISTRY_GROUNDS_FILE")

    # Importing into a registry of another state (this database, as Maryland).
    monkeypatch.setenv("REGISTRY_STATE", "MD")
    get_settings.cache_clear()
    bad = _file(tmp_path, [_row(1), _row(2, action_type="decertified")], name="md.csv")
    imported = await cli("ndi", "import", str(bad))
    assert imported.exit_code == 0, imported.output
    assert "rejected" in imported.output and "'decertified' is not a code" in imported.output
    assert (tmp_path / "md.csv.rejects.csv").exists()
    refused = await cli("ndi", "import", str(_file(tmp_path, [_row(1)], header=("x",),
                                                   name="x.csv")))
    assert refused.exit_code == 1 and "lacks the column" in refused.output


async def test_external_actions_as_the_registry_held_them(client, engine, md, world, tmp_path):
    await _import_md(engine, md, _file(tmp_path, [_row(1)], name="1.csv"))
    async with engine.connect() as conn:
        first = (await conn.execute(text("SELECT recorded_at, officer_id FROM external_actions"
                                         ))).one()
    await asyncio.sleep(0.01)
    await _import_md(engine, md, _file(tmp_path, [_row(1, record_type="update",
                                                        action_date="2023-11-20")], name="2.csv"))
    query = """query($id: ID!, $at: DateTime) { officer(id: $id, asOf: $at) {
        externalActions { actionDate version recordType } } }"""
    now = await data(client, query, {"id": str(first.officer_id)}, token=world.tokens["staff"])
    assert now["officer"]["externalActions"] == [
        {"actionDate": "2023-11-20", "version": 2, "recordType": "UPDATE"}]
    then = await data(client, query, {"id": str(first.officer_id),
                                      "at": first.recorded_at.isoformat()},
                      token=world.tokens["agency_a"])
    assert then["officer"]["externalActions"] == [
        {"actionDate": "2023-10-02", "version": 1, "recordType": "NEW"}]
