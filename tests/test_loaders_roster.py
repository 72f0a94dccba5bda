"""The roster loader over made-up files: good rows load, bad rows go to the rejects file with
their reason, a second run adds nothing, a dry run writes nothing, a run killed with SIGKILL
and run again ends as one clean run does."""

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from loaders.roster import COLUMNS, Roster
from loaders.stints import load_stints
from registry.database import execute
from tests.conftest import TEMPLATE, _database, row_counts
from tests.loader_helpers import options, rejects_of, rows, scalar, settings_for

HEADER = ",".join(COLUMNS)
GOOD = [
    "P1,John,Q,Smith,,Jones; John Roe,1980-05-01,VA,1001,active,Richmond Police Department,"
    "VA1220000,Officer,2005-01-10,2010-06-30,resigned",
    "P1,John,Q,Smith,,,1980-05-01,VA,1001,active,Henrico County Police Division,,Sergeant,"
    "2010-07-01,,",
    "P2,Mary,Lou,Jackson,,,1975,VA,1002,revoked,Norfolk Police Department,VA1310000,,"
    "2001-02-03,2019-03-04,terminated",
    ",Ann,,Lee,,,1990-02-03,VA,,,Arlington County Police Department,,,2015-01-01,2016-01-01,"
    "retired",
    ",Ann,,Lee,,,1990-02-03,VA,,,Fairfax County Police Department,,,2016-02-01,,",
]
BAD = [  # (row, the reason's start)
    ("P3,,,Nobody,,,,VA,,,Richmond Police Department,,,2001-01-01,,", "first_name is empty"),
    ("P4,Tom,,Ford,,,,VA,,,Richmond Police Department,,,2011-02-30,,",
     "start_date '2011-02-30' is not a calendar date"),
    ("P5,Tim,,Fox,,,,VA,,,Richmond Police Department,,,2001-01-01,2002-01-01,fired",
     "separation_reason 'fired' is not one of"),
    ("P6,Ida,,Wells,,,,VA,3003,expired,Richmond Police Department,,,2001-01-01,,",
     "certificate_status 'expired' is not one of"),
    ("P1,John,Q,Smith,,,1980-05-01,VA,1001,active,Richmond Police Department,VA1220000,,"
     "2008-01-01,2009-01-01,resigned", "overlaps"),
    (GOOD[2], "the same stint as"),
    ("P8,Carl,,Hart,,,,VA,1001,active,Richmond Police Department,,,2001-01-01,,",
     "certificate VA 1001"),
    ("P9,Sue,,Bird,,,,VA,4004,suspended,Richmond Police Department,,,2001-01-01,,",
     "certificate_status 'suspended' needs an end date"),
    ("P11,Al,,Green,,,2090-01-01,VA,,,Richmond Police Department,,,2001-01-01,,",
     "birth_date: Date of birth 2090-01-01 is in the future"),
    ("P12,Bo,,Gray,,,,VA,,,Richmond Police Department,VA12,,2001-01-01,,",
     "agency_ori 'VA12' is not an ORI"),
]
LATIN1 = "P7,José,,Núñez,,,,VA,,,Norfolk Police Department,,,2003-04-05,,"
TRUNCATED = "P10,Tom,,Brown,,,1970,VA"


def roster_bytes() -> bytes:
    text = "\n".join([HEADER, *GOOD, *(b for b, _ in BAD)]) + "\n"
    return text.encode() + (LATIN1 + "\n").encode("latin-1") + TRUNCATED.encode()


@pytest.fixture
def roster_file(tmp_path: Path) -> Path:
    path = tmp_path / "roster.csv"
    path.write_bytes(roster_bytes())
    return path


async def test_good_rows_load_and_bad_rows_are_rejected_with_reasons(
        settings, engine, roster_file, tmp_path):
    report = await load_stints(Roster(), roster_file, settings, options(tmp_path))
    rows_in = len(GOOD) + len(BAD) + 2
    assert report.rows_in == rows_in
    assert report.loaded == len(GOOD) + 1  # the Windows-1252 row loads, decoded
    assert report.rejected == len(BAD) + 1
    rejects = {int(r["row_number"]): r["reason"] for r in rejects_of(report)}
    first_bad = 2 + len(GOOD)
    for i, (_, reason) in enumerate(BAD):
        assert rejects[first_bad + i].startswith(reason), (i, rejects[first_bad + i])
    assert rejects[rows_in + 1].startswith("truncated: the file's last line has 8 of 16")
    assert report.counts["rows decoded as Windows-1252"] == 1
    # People: P1, P2, P7 and Ann Lee (no id, two rows, one person).
    assert await scalar(engine, "SELECT count(*) FROM officers") == 4
    assert await scalar(engine, "SELECT count(*) FROM stints") == len(GOOD) + 1
    assert await scalar(engine, "SELECT last_name FROM officers WHERE first_name = 'José'") \
        == "Núñez"
    lee = await rows(engine, "SELECT s.started_on FROM stints s JOIN officers o "
                             "ON o.id = s.officer_id WHERE o.last_name = 'Lee'")
    assert len(lee) == 2
    certs = await rows(engine, "SELECT number, status FROM certifications ORDER BY number")
    assert [tuple(c) for c in certs] == [("1001", "active"), ("1002", "revoked")]
    assert await scalar(engine, "SELECT count(*) FROM officer_names") == 2  # Jones, John Roe
    assert await scalar(engine, "SELECT count(*) FROM loaded_rows") == len(GOOD) + 1
    # One run, announced and closed in the audit trail with the file's hash.
    run = (await rows(engine, "SELECT status, rows_in, rows_loaded, rows_rejected, "
                              "file_sha256 FROM load_runs"))[0]
    assert tuple(run) == ("finished", rows_in, len(GOOD) + 1, len(BAD) + 1, report.sha256)
    events = await rows(engine, "SELECT operation, after->>'sha256' FROM audit_events "
                                "ORDER BY id")
    assert [tuple(e) for e in events] == [("load.roster.start", report.sha256),
                                          ("load.roster.finished", report.sha256)]


async def test_a_second_run_adds_nothing(settings, engine, roster_file, tmp_path):
    first = await load_stints(Roster(), roster_file, settings, options(tmp_path, "a.csv"))
    before = await row_counts(engine)
    again = await load_stints(Roster(), roster_file, settings, options(tmp_path, "b.csv"))
    after = await row_counts(engine)
    # The row repeated in the file was a reject the first time; now both copies are loaded.
    assert (again.loaded, again.already_loaded, again.rejected) == (
        0, first.loaded + 1, first.rejected - 1)
    changed = {t for t in after if after[t] != before[t]}
    assert changed == {"load_runs", "audit_events"}


async def test_a_row_whose_separation_changed_is_reported_not_loaded(
        settings, engine, tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(HEADER + "\n" + GOOD[1] + "\n")
    await load_stints(Roster(), path, settings, options(tmp_path, "a.csv"))
    path.write_text(HEADER + "\n" + GOOD[1].replace("2010-07-01,,", "2010-07-01,2020-01-01,"
                                                    "retired") + "\n")
    report = await load_stints(Roster(), path, settings, options(tmp_path, "b.csv"))
    assert report.loaded == 0 and report.rejected == 1
    assert "this row says ended 2020-01-01, retired" in rejects_of(report)[0]["reason"]
    assert await scalar(engine, "SELECT count(*) FROM stints") == 1


async def test_dry_run_writes_nothing(settings, engine, roster_file, tmp_path):
    before = await row_counts(engine)
    report = await load_stints(Roster(), roster_file, settings,
                               options(tmp_path, dry_run=True))
    assert await row_counts(engine) == before
    assert report.dry_run and report.run_id is None
    assert report.loaded == len(GOOD) + 1 and report.rejected == len(BAD) + 1
    assert report.counts["people created"] == 4
    assert Path(report.rejects_file or "").exists()


async def test_a_row_without_id_is_matched_to_the_person_with_that_certificate(
        settings, engine, tmp_path):
    first = tmp_path / "first.csv"
    first.write_text(HEADER + "\n" + GOOD[0] + "\n")
    await load_stints(Roster(), first, settings, options(tmp_path, "a.csv"))
    other = tmp_path / "other.csv"
    other.write_text(HEADER + "\n,Johnny,,Smith,,,,VA,1001,active,Arlington County Police "
                     "Department,,,2012-01-01,,\n,Ann,,Lee,,,1990-02-03,VA,,,Arlington "
                     "County Police Department,,,2015-01-01,2016-01-01,retired\n")
    report = await load_stints(Roster(), other, settings, options(tmp_path, "b.csv"))
    assert report.loaded == 2
    assert report.counts["people without an id: matched"] == 1
    assert report.counts["people without an id: new"] == 1
    assert await scalar(engine, "SELECT count(*) FROM officers") == 2
    smith = await scalar(engine, "SELECT count(*) FROM stints s JOIN officers o "
                                 "ON o.id = s.officer_id WHERE o.last_name = 'Smith'")
    assert smith == 2


def _big_roster(path: Path, people: int = 24) -> None:
    lines = [HEADER]
    for p in range(people):
        for k in range(3):
            start, end = 2000 + 5 * k, 2004 + 5 * k
            lines.append(f"R{p},First{p},,Last{p},,,1970,VA,C{p},active,Agency {k % 2} Police "
                         f"Department,,,{start}-01-01,{end}-06-30,transferred")
    path.write_text("\n".join(lines) + "\n")


async def _clean_database(server_url: str) -> str:
    name = f"test_{uuid.uuid4().hex[:16]}"
    await execute(server_url, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    return name


STINTS = ("SELECT r.source_key, a.name, s.started_on, s.ended_on, s.separation_reason "
          "FROM stints s JOIN source_records r ON r.officer_id = s.officer_id "
          "JOIN agencies a ON a.id = s.agency_id ORDER BY 1, 3")


async def test_a_run_killed_half_way_resumes_to_the_state_of_one_clean_run(
        settings, engine, server_url, tmp_path):
    path = tmp_path / "big.csv"
    _big_roster(path)
    env = {**os.environ, "REGISTRY_DATABASE_URL": settings.database_url,
           "REGISTRY_LOAD_CHUNK_DELAY": "0.4"}
    process = subprocess.Popen(
        [sys.executable, "-m", "registry.cli", "load", "roster", str(path), "--chunk-size",
         "4", "--quiet", "--rejects", str(tmp_path / "killed.csv")], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while await scalar(engine, "SELECT count(*) FROM loaded_rows") < 8:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the load never committed two chunks"
            await asyncio.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    half = await scalar(engine, "SELECT count(*) FROM loaded_rows")
    assert 8 <= half < 72 and half % 4 == 0  # whole chunks only
    assert await scalar(engine, "SELECT status FROM load_runs") == "running"

    resumed = await load_stints(Roster(), path, settings, options(tmp_path, chunk_size=4))
    assert resumed.already_loaded == half and resumed.loaded == 72 - half
    assert await scalar(engine, "SELECT string_agg(status, ',' ORDER BY started_at) "
                                "FROM load_runs") == "failed,finished"

    clean_name = await _clean_database(server_url)
    try:
        clean = settings_for(settings, _database(server_url, clean_name))
        await load_stints(Roster(), path, clean, options(tmp_path, "clean.csv", chunk_size=4))
        from registry.database import create_engine

        clean_engine = create_engine(clean.database_url or "", clean)
        try:
            assert await rows(engine, STINTS) == await rows(clean_engine, STINTS)
            for table in ("officers", "certifications", "stints", "source_records",
                          "loaded_rows", "agencies", "certification_status_events"):
                sql = f"SELECT count(*) FROM {table}"
                assert await scalar(engine, sql) == await scalar(clean_engine, sql), table
        finally:
            await clean_engine.dispose()
    finally:
        await execute(server_url, f"DROP DATABASE IF EXISTS {clean_name} WITH (FORCE)")


async def test_a_file_without_the_columns_is_refused(settings, tmp_path):
    from loaders.base import LoadError

    path = tmp_path / "wrong.csv"
    path.write_text("name,agency\nJohn,Richmond\n")
    with pytest.raises(LoadError, match="no column first_name, last_name, state"):
        await load_stints(Roster(), path, settings, options(tmp_path))
