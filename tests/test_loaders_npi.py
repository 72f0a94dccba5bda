"""The National Police Index loader over a made-up file (the NPI has no file in
../shared/data): people by the state's person number, the state's wording of separations
mapped by rule, unknown wording and statuses refused, bad rows rejected with reasons."""

from pathlib import Path

import pytest

from loaders.npi import COLUMNS, NationalPoliceIndex, separation
from loaders.stints import load_stints
from tests.conftest import row_counts
from tests.loader_helpers import options, rejects_of, rows, scalar

HEADER = ",".join(COLUMNS)
GOOD = [
    "100,Maria,,Lopez,Dallas Police Department,2001-03-01,2008-06-30,Resigned - Personal,"
    "Officer,Active,Peace Officer,Full Time",
    "100,Maria,,Lopez,Plano Police Department,7/1/2008,,,Sergeant,Active,Peace Officer,"
    "Full Time",
    "200,Dan,R,Kim,Dallas Police Department,1999-01-01,2004-02-02,Terminated for cause,,"
    "Decertified,Peace Officer,Full Time",
    "300,Joe,,Park,Harris County Sheriff's Office,2010-05-05,2012-05-05,,,Lapsed,Jailer,"
    "Part Time",
    "400,Ann,,Cho,Austin Police Department,2011-01-01,2015-01-01,Resigned while under "
    "investigation,,Inactive,Peace Officer,Full Time",
]
BAD = [
    ("500,,,Nobody,Dallas Police Department,2001-01-01,,,,,,", "first_name is empty"),
    ("600,Al,,Ray,Dallas Police Department,2001-13-01,,,,,,",
     "start_date '2001-13-01' is not a calendar date"),
    ("700,Bo,,Fry,Dallas Police Department,2001-01-01,2003-01-01,Sabbatical,,,,",
     "separation_reason 'Sabbatical' matches no rule"),
    ("800,Cy,,Ng,Dallas Police Department,2001-01-01,,,,Pending review,,",
     "current_certificate_status 'Pending review' is not one of"),
    ("900,Di,,Su,Dallas Police Department,2005-01-01,2004-01-01,Retired,,,,",
     "end_date 2004-01-01 is before start_date 2005-01-01"),
]


def npi_file(tmp_path: Path) -> Path:
    path = tmp_path / "npi-tx.csv"
    text = "\n".join([HEADER, *GOOD, *(b for b, _ in BAD)]) + "\n"
    path.write_bytes(text.encode() + "1000,René,,Côté,Dallas Police Department,2002-02-02,,"
                     ",,,,\n".encode("cp1252") + b"1100,Eve,,Ma,Dallas Pol")
    return path


async def test_npi_rows_load_and_bad_rows_are_rejected(settings, engine, tmp_path):
    path = npi_file(tmp_path)
    report = await load_stints(NationalPoliceIndex("TX"), path, settings, options(tmp_path))
    assert report.rows_in == len(GOOD) + len(BAD) + 2
    assert report.loaded == len(GOOD) + 1
    reasons = {int(r["row_number"]): r["reason"] for r in rejects_of(report)}
    for i, (_, reason) in enumerate(BAD):
        assert reasons[2 + len(GOOD) + i].startswith(reason), reasons
    assert reasons[2 + len(GOOD) + len(BAD) + 1].startswith("truncated")
    got = dict(await rows(engine, "SELECT o.last_name || ':' || a.name, "
                                  "coalesce(s.separation_reason, 'open') FROM stints s "
                                  "JOIN officers o ON o.id = s.officer_id "
                                  "JOIN agencies a ON a.id = s.agency_id"))
    assert got == {"Lopez:Dallas Police Department": "resigned",
                   "Lopez:Plano Police Department": "open",
                   "Kim:Dallas Police Department": "terminated",
                   "Park:Harris County Sheriff's Office": "other",
                   "Cho:Austin Police Department": "resigned_under_investigation",
                   "Côté:Dallas Police Department": "open"}
    assert await scalar(engine, "SELECT separation_note FROM stints WHERE separation_reason "
                                "= 'other'") == "the NPI gives no separation reason"
    # No certificate number in the NPI: the status is kept in the source record.
    assert await scalar(engine, "SELECT count(*) FROM certifications") == 0
    assert await scalar(engine, "SELECT payload->>'current_certificate_status' FROM "
                                "source_records WHERE source = 'npi:TX' AND source_key = "
                                "'200'") == "revoked"
    assert await scalar(engine, "SELECT count(DISTINCT state) FROM agencies") == 1


async def test_npi_rerun_and_dry_run_add_nothing(settings, engine, tmp_path):
    path = npi_file(tmp_path)
    before = await row_counts(engine)
    await load_stints(NationalPoliceIndex("TX"), path, settings,
                      options(tmp_path, "dry.csv", dry_run=True))
    assert await row_counts(engine) == before
    first = await load_stints(NationalPoliceIndex("TX"), path, settings,
                              options(tmp_path, "a.csv"))
    again = await load_stints(NationalPoliceIndex("TX"), path, settings,
                              options(tmp_path, "b.csv"))
    assert (again.loaded, again.already_loaded) == (0, first.loaded)


def test_npi_wording_rules():
    assert separation("Retired under investigation") == "retired_under_investigation"
    assert separation("Resigned in lieu of termination") == "resigned_in_lieu_of_termination"
    assert separation("DISCHARGED") == "terminated"
    assert separation("Deceased") == "deceased"
    assert separation("Transfer to another agency") == "transferred"
    with pytest.raises(ValueError, match="matches no rule"):
        separation("Promoted")
    with pytest.raises(ValueError, match="not a US state code"):
        NationalPoliceIndex("XX")
