"""The Florida POST loader over the real sample (read from ../shared/data, never copied), with
the expected figures worked out from the file itself, and over a made-up file of bad rows."""

import csv
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from loaders.fl_post import SEPARATION_CODES, FloridaPost
from loaders.stints import load_stints
from registry.names import fold
from tests.conftest import row_counts
from tests.loader_helpers import FL, options, rejects_of, rows, scalar

pytestmark = pytest.mark.skipif(not FL.exists(), reason="../shared/data is not beside the repo")


def _day(text: str) -> datetime | None:
    return datetime.strptime(text.split()[0], "%m/%d/%Y") if text.strip() else None


def expected(path: Path) -> dict:
    """What loading the file into an empty registry must give, from the file alone: rows
    with a known code (or none) are read; of those, a record overlapping (both days count)
    a record of the same person at the same agency that started before it is refused."""
    with path.open(encoding="utf-8", newline="") as f:
        data = list(csv.DictReader(f))
    unknown = [r for r in data if r["separation_code"]
               and r["separation_code"].upper() not in SEPARATION_CODES]
    readable = [(i, r) for i, r in enumerate(data) if r not in unknown]

    def span(r: dict) -> tuple[datetime, datetime]:
        return _day(r["employ_start_date"]), _day(r["separation_date"]) or datetime.max

    overlapping = set()
    for i, r in readable:
        start, end = span(r)
        for j, e in readable:
            if (e["person_nbr"], fold(e["agcy_name"])) != (r["person_nbr"], fold(r["agcy_name"])):
                continue
            e_start, e_end = span(e)
            if (e_start, j) < (start, i) and e_start <= end and start <= e_end:
                overlapping.add(i)
    loaded = [r for i, r in readable if i not in overlapping]
    return {
        "rows": len(data), "unknown": len(unknown), "overlapping": len(overlapping),
        "loaded": len(loaded), "people": len({r["person_nbr"] for r in loaded}),
        "agencies": len({fold(r["agcy_name"]) for _, r in readable}),
        "reasons": Counter(SEPARATION_CODES[r["separation_code"].upper()][0]
                           for r in loaded if r["separation_code"]),
        "open": sum(1 for r in loaded if not r["separation_code"]),
    }


@pytest.mark.parametrize("name", ["fl-post.csv", "fl-post-review.csv"])
async def test_the_florida_sample_loads_as_the_file_says(settings, engine, tmp_path, name):
    path = FL / name
    want = expected(path)
    report = await load_stints(FloridaPost(), path, settings,
                               options(tmp_path, chunk_size=1000))
    assert report.rows_in == want["rows"]
    assert report.loaded == want["loaded"]
    assert report.rejected == want["unknown"] + want["overlapping"]
    reasons = Counter(r["reason"].split(" ")[0] for r in rejects_of(report))
    assert reasons["unknown"] == want["unknown"]
    assert reasons["overlaps"] == want["overlapping"]
    assert await scalar(engine, "SELECT count(*) FROM officers") == want["people"]
    assert await scalar(engine, "SELECT count(*) FROM agencies WHERE state = 'FL'") \
        == want["agencies"]
    got = Counter(dict(await rows(engine, "SELECT separation_reason, count(*) FROM stints "
                                          "WHERE separation_reason IS NOT NULL GROUP BY 1")))
    assert got == want["reasons"]
    assert await scalar(engine, "SELECT count(*) FROM stints WHERE ended_on IS NULL") \
        == want["open"]
    note = await scalar(engine, "SELECT separation_note FROM stints "
                                "WHERE separation_reason = 'resigned_in_lieu_of_termination' "
                                "ORDER BY started_on LIMIT 1")
    assert note.startswith("FL POST separation code VS-VAP: voluntary separation, violation")


async def test_the_review_file_after_the_first_adds_only_its_new_records(
        settings, engine, tmp_path):
    base = await load_stints(FloridaPost(), FL / "fl-post.csv", settings,
                             options(tmp_path, "a.csv", chunk_size=1000))
    review = await load_stints(FloridaPost(), FL / "fl-post-review.csv", settings,
                               options(tmp_path, "b.csv", chunk_size=7))
    with (FL / "fl-post.csv").open(encoding="utf-8", newline="") as f:
        shared = {r["employment_nbr"] for r in csv.DictReader(f)}
    assert review.already_loaded == base.loaded
    assert review.rows_in == review.loaded + review.already_loaded + review.rejected
    want = expected(FL / "fl-post-review.csv")
    assert await scalar(engine, "SELECT count(*) FROM stints") == want["loaded"]
    assert await scalar(engine, "SELECT count(*) FROM loaded_rows WHERE row_key = ANY(:k)",
                        k=list(shared)) == base.loaded


async def test_a_second_run_and_a_dry_run_write_nothing(settings, engine, tmp_path):
    await load_stints(FloridaPost(), FL / "fl-post.csv", settings, options(tmp_path, "a.csv"))
    before = await row_counts(engine)
    dry = await load_stints(FloridaPost(), FL / "fl-post-review.csv", settings,
                            options(tmp_path, "b.csv", dry_run=True))
    assert await row_counts(engine) == before
    assert dry.loaded > 0
    again = await load_stints(FloridaPost(), FL / "fl-post.csv", settings,
                              options(tmp_path, "c.csv"))
    assert again.loaded == 0
    after = await row_counts(engine)
    assert {t for t in after if after[t] != before[t]} == {"load_runs", "audit_events"}


HEADER = ("employment_nbr,person_nbr,agcy_nbr,employ_type,employ_class,employ_start_date,"
          "separation_date,separation_code,employ_comments,last_name,first_name,middle_name,"
          "sex_code,race_code,birth_year,agcy_name")


async def test_bad_florida_rows_are_rejected_with_their_reasons(settings, engine, tmp_path):
    lines = [
        HEADER,
        "1,10,5,FT,LE,1/2/2001 0:00:00,,,,Doe,Jane,,F,Wh,1970.0,Miami Police Department",
        "2,11,5,FT,LE,1/2/2001 0:00:00,3/4/2005 0:00:00,XYZ,,Roe,Ray,,M,Wh,1971.0,Miami "
        "Police Department",
        "3,12,5,FT,LE,2/30/2001 0:00:00,,,,Poe,Pam,,F,Wh,,Miami Police Department",
        "4,13,5,FT,LE,1/2/2001 0:00:00,,,,,Lee,,M,Wh,,Miami Police Department",
        "5,14,5,FT,LE,1/2/2001 0:00:00,3/4/2005 0:00:00,,,Kay,Kim,,F,Wh,,Miami Police "
        "Department",
        "6,15,5,PT,Corr,1/2/2001 0:00:00,3/4/2005 0:00:00,Ret,,Fox,Fay,,F,Wh,1890.0,Miami "
        "Police Department",
    ]
    latin = "7,16,5,FT,LE,1/2/2001 0:00:00,,,,Peña,Iñigo,,M,His,1980.0,Miami Police Department"
    truncated = "8,17,5,FT,LE,1/2/2001 0:00:00,,,,Cruz"
    path = tmp_path / "fl.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode() + (latin + "\n").encode("latin-1")
                     + truncated.encode())
    report = await load_stints(FloridaPost(), path, settings, options(tmp_path))
    reasons = {int(r["row_number"]): r["reason"] for r in rejects_of(report)}
    assert reasons[3].startswith("unknown separation_code 'XYZ'; known codes: DEC, MR")
    assert reasons[4] == "employ_start_date '2/30/2001 0:00:00' is not a calendar date"
    assert reasons[5] == "last_name is empty"
    assert reasons[6] == "separation_date is given without a separation_code"
    assert reasons[7] == "birth_year 1890 is not a plausible year of birth"
    assert reasons[9].startswith("truncated")
    assert report.loaded == 2 and report.rejected == 6
    assert await scalar(engine, "SELECT first_name FROM officers WHERE last_name = 'Peña'") \
        == "Iñigo"
