"""The Virginia DCJS loader over the released workbook (read from ../shared/data), with the
expected figures worked out from the workbook itself with openpyxl, and over made-up
workbooks with bad rows."""

import warnings
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from loaders.base import LoadError
from loaders.roster import COLUMNS, Roster
from loaders.stints import load_stints
from loaders.va_dcjs import AgencyDirectory, clauses, grounds_for, load_va_dcjs, split_last
from tests.conftest import row_counts
from tests.loader_helpers import VA, options, rejects_of, rows, scalar

WORKBOOK = VA / "DCJS_Decertification_List_Apr25.xlsx"
DIRECTORY = VA / "certified_directory.csv"
pytestmark = pytest.mark.skipif(not WORKBOOK.exists(),
                                reason="../shared/data is not beside the repo")


def expected(path: Path, today: date) -> dict:
    """Counts from the workbook: data rows are those under a tab's header with a last and a
    first name; a finalized or prior row is refused when its date is not an Excel date or
    lies in the future, or its status says withdrawn."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        book = load_workbook(path, read_only=True, data_only=True)
    found = {"rows": 0, "refused": 0, "orders": 0, "denials": 0, "reinstatements": 0,
             "cases": 0}
    for sheet in book.worksheets:
        title = sheet.title.lower()
        header = False
        for row in sheet.iter_rows(values_only=True, max_col=8):
            if not header:
                header = row[0] == "Last Name"
                continue
            if not isinstance(row[0], str) or not row[1]:
                continue
            found["rows"] += 1
            decert, status, reason = row[5], row[6], row[7]
            if "pending" in title:
                found["cases"] += 1
            elif "reinstated" in title:
                found["reinstatements"] += 1
            elif (not isinstance(decert, datetime) or decert.date() > today
                  or "withdrawn" in str(status).lower()):
                found["refused"] += 1
            else:
                found["orders"] += 1
                found["denials"] += str(reason).startswith("Ineligible")
                found["reinstatements"] += isinstance(status, datetime)
    book.close()
    return found


async def test_the_released_workbook_loads_as_it_says(settings, engine, tmp_path):
    want = expected(WORKBOOK, date.today())
    report = await load_va_dcjs(WORKBOOK, settings, options(tmp_path, chunk_size=100))
    assert report.rows_in == want["rows"]
    assert report.rejected == want["refused"]
    assert report.loaded == want["rows"] - want["refused"]
    actions = dict(await rows(engine, "SELECT kind || coalesce(':' || outcome, ''), count(*) "
                                      "FROM decertification_actions GROUP BY 1"))
    assert actions == {"final_order:revocation": want["orders"] - want["denials"],
                       "final_order:denial": want["denials"],
                       "reinstatement": want["reinstatements"]}
    assert await scalar(engine, "SELECT count(*) FROM cases WHERE status = 'open'") \
        == want["cases"]
    assert await scalar(engine, "SELECT count(*) FROM decertification_actions "
                                "WHERE case_id IS NOT NULL") == 0
    # No name appears twice in the list: one person per loaded row, all new here.
    assert await scalar(engine, "SELECT count(*) FROM officers") == report.loaded
    reasons = {r["reason"] for r in rejects_of(report)}
    assert any("withdrawn" in r for r in reasons)
    assert any("in the future" in r for r in reasons)
    # The reason text is kept whole, beside its action.
    kept = await scalar(engine, "SELECT r.payload->>'reason' FROM source_records r "
                                "JOIN loaded_rows l ON l.row_key = r.source_key "
                                "JOIN decertification_actions a ON a.id = l.entity_id "
                                "WHERE r.source = 'va-dcjs:row' AND r.payload->>'last_name' "
                                "= 'Freeman'")
    assert kept.startswith("Felony:  Conspiracy to possess")
    # Agency names: typos matched to the directory, the rest listed.
    fuzzy = {m["written"]: m["directory"] for m in report.lists["agencies matched fuzzily"]}
    assert fuzzy["Albemarle- Charlottseville Regional Jail"] \
        == "Albemarle - Charlottesville Regional Jail"
    assert fuzzy["Westmorland County Sheriff's Office"] == "Westmoreland County Sheriff`s Office"
    unmatched = {m["written"] for m in report.lists["agencies not matched"]}
    assert "Waverly Police Department" in unmatched
    assert ("Longwood University Police Department & Drakes Branch Police Department"
            in unmatched)
    directory = set(DIRECTORY.read_text(encoding="utf-8").splitlines())
    assert not any(f'"{name}"' in line for name in unmatched for line in directory)
    # Every load is announced and closed in the audit trail with the file's hash.
    assert await scalar(engine, "SELECT count(*) FROM audit_events WHERE after->>'sha256' = "
                                ":h", h=report.sha256) == 2


async def test_a_second_run_and_a_dry_run_add_nothing(settings, engine, tmp_path):
    before = await row_counts(engine)
    dry = await load_va_dcjs(WORKBOOK, settings, options(tmp_path, "dry.csv", dry_run=True))
    assert await row_counts(engine) == before
    first = await load_va_dcjs(WORKBOOK, settings, options(tmp_path, "a.csv", chunk_size=200))
    assert (dry.loaded, dry.rejected) == (first.loaded, first.rejected)
    middle = await row_counts(engine)
    again = await load_va_dcjs(WORKBOOK, settings, options(tmp_path, "b.csv", chunk_size=200))
    assert (again.loaded, again.already_loaded) == (0, first.loaded)
    after = await row_counts(engine)
    assert {t for t in after if after[t] != middle[t]} == {"load_runs", "audit_events"}


async def test_people_already_in_the_registry_are_matched_with_their_agency(
        settings, engine, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text(
        ",".join(COLUMNS) + "\n"
        "H1,Deangelo,M.,Freeman,,,1990-01-01,VA,H-1,active,Hampton Police Division,,,"
        "2015-01-01,2020-12-01,terminated\n"
        # A namesake of the second row, never at the Albemarle jail: not the same person.
        "Z1,Anthony,T.,Shifflett,,,1980-01-01,VA,Z-1,active,Norfolk Police Department,,,"
        "2010-01-01,,\n")
    await load_stints(Roster(), roster, settings, options(tmp_path, "r.csv"))
    freeman = await scalar(engine, "SELECT id FROM officers WHERE last_name = 'Freeman'")
    report = await load_va_dcjs(WORKBOOK, settings, options(tmp_path, chunk_size=600))
    assert report.counts["people: matched"] == 1
    matched = report.lists["people matched to the registry"]
    assert [m["officer"] for m in matched] == [str(freeman)]
    assert matched[0]["agency_corroborated"] is True
    order = await rows(engine, "SELECT kind, outcome, effective_on, grounds FROM "
                               "decertification_actions WHERE officer_id = :o", o=freeman)
    assert [tuple(o) for o in order] == [("final_order", "revocation", date(2021, 1, 4),
                                          ["criminal_conviction"])]
    assert await scalar(engine, "SELECT count(*) FROM officers WHERE last_name = 'Shifflett' "
                                "AND first_name = 'Anthony'") == 2
    # The registry does not move the matched person's certificate; the report says so.
    assert report.lists["matched people whose Virginia certificate is not revoked"] == [
        {"officer": str(freeman), "number": "H-1", "status": "active"}]


def _workbook(path: Path, rows_by_tab: dict[str, list[list]]) -> Path:
    book = Workbook()
    book.remove(book.active)
    header = ["Last Name", "First Name", "Middle Initial", "Agency", "Function", "Decert Date",
              "STATUS", "Reason"]
    for title, data in rows_by_tab.items():
        sheet = book.create_sheet(title)
        sheet.append([f"TAB - {title}"])
        sheet.append(header)
        sheet.append([2021])
        for row in data:
            sheet.append(row)
    book.save(path)
    return path


async def test_bad_rows_of_a_made_up_workbook_are_rejected(settings, engine, tmp_path):
    path = _workbook(tmp_path / "list.xlsx", {
        "1) Finalized - 2021 to Present": [
            ["Doe", "John", "A.", "Hampton Police Department", "LEO", 44200, "Finalized",
             "Decertification Cause: 15.2-1707(B)(v)- Resigned during an IA"],
            [None, "Jane", None, "Hampton Police Department", "LEO",
             datetime(2022, 1, 1), "Finalized", "x"],
            ["Roe", "Rick", None, "Hampton Police Department", "LEO", "02/30/2022",
             "Finalized", "x"],
            ["Poe", "Pat", None, "Nowhere Police Department", "LEO", datetime(2022, 2, 2),
             "Finalized-Withdrawn", "x"],
        ],
        "4) Reinstated - 2021 to Present": [
            ["Moe", "Max", None, "Hampton Police Department", "LEO", "N/A",
             "REINSTATED, 13/45/2023"],
            ["Low", "Lea", None, "Hampton Police Department", "LEO", "N/A",
             "REINSTATED, 03/16/2023"],
        ],
    })
    report = await load_va_dcjs(path, settings, options(tmp_path), directory=DIRECTORY)
    reasons = {r["row_number"].split("!")[1]: r["reason"] for r in rejects_of(report)}
    assert reasons == {
        "5": "Last Name is empty",
        "6": "Decert Date '02/30/2022' is not a calendar date",
        "7": "STATUS 'Finalized-Withdrawn': the decertification was withdrawn, so no order "
             "is in force; nothing to record",
        "4": "STATUS (reinstatement date) 'REINSTATED, 13/45/2023' is not a calendar date",
    }
    got = await rows(engine, "SELECT kind, effective_on, grounds FROM decertification_actions "
                             "ORDER BY effective_on")
    # 44200 is an Excel serial number without its date format: 2021-01-04.
    assert [tuple(g) for g in got] == [
        ("final_order", date(2021, 1, 4), ["separation_in_lieu_of_termination"]),
        ("reinstatement", date(2023, 3, 16), [])]


async def test_a_truncated_workbook_is_refused_clearly(settings, tmp_path):
    good = _workbook(tmp_path / "good.xlsx", {"1) Finalized": [
        ["Doe", "John", None, "Hampton Police Department", "LEO", datetime(2021, 1, 4),
         "Finalized", "x"]]})
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(LoadError, match="not a readable .xlsx workbook"):
        await load_va_dcjs(cut, settings, options(tmp_path), directory=DIRECTORY)


def test_the_statute_clauses_and_the_grounds_they_map_to():
    assert clauses("Decertification Cause: 15.2-1707(B)(iii& vi)- Arrested") == [
        "B(iii)", "B(vi)"]
    assert clauses("15.2-1707(A)(vi),(B)(iii & vi) -Drug test") == ["A(vi)", "B(iii)", "B(vi)"]
    assert clauses("Decertification Cause: 15.2-1707.B(i, iv,v, & vi),-in Advance") == [
        "B(i)", "B(iv)", "B(v)", "B(vi)"]
    assert clauses("Ineligible Cause: 15.2-1707(B)(vi) & (C)- Recruit") == ["B(vi)", "C"]
    assert grounds_for("15.2-1707(A)(i)- (1) Felony Count") == ["criminal_conviction"]
    assert grounds_for("15.2-1707(B)(iv & v)- Serious Misconduct & Resigning") == [
        "separation_in_lieu_of_termination", "termination_serious_misconduct"]
    assert grounds_for("15.2-1707(B)(vi)- Untruthful statements during IA") == []
    assert grounds_for("Petit larceny conviction, Chesterfield County Circuit Court") == [
        "criminal_conviction"]
    assert grounds_for("15.2-1707(B)(i & iii)- In advance of being convicted of Multiple "
                       "Felony Charges") == []
    assert grounds_for("Tested positive on drug screening §15.2-1707") == []


def test_last_names_give_up_their_suffixes_and_other_surnames():
    assert split_last("Claiborne, III") == ("Claiborne", "III", None)
    assert split_last("Allen Jr., ") == ("Allen", "Jr.", None)
    assert split_last("Bates   V") == ("Bates", "V", None)
    assert split_last("Jones(Spriggs)") == ("Jones", None, "Spriggs")
    assert split_last("Mann- Smith") == ("Mann-Smith", None, None)
    assert split_last("Land, ") == ("Land", None, None)


def test_agency_names_match_the_directory_or_are_listed():
    directory = AgencyDirectory.from_csv(DIRECTORY)
    assert directory.match("Department of State Police").name == "Virginia State Police"
    assert directory.match("Hampton Police Department").name == "Hampton Police Division"
    typo = directory.match("Faquier County Sheriff's Officer")
    assert (typo.name, typo.method) == ("Fauquier County Sheriff's Office", "fuzzy")
    assert directory.match("Waverly Police Department").name is None
