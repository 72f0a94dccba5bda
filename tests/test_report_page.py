"""The printable background-check report (``GET /reports/background-checks/{checkId}``): who may
read it, what it shows an agency, that it is audited and never cached, and, in headless
Chromium against the real app under uvicorn, that it renders with its SVG timeline."""

import shutil
import socket
import struct
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import text

from registry.agencies.models import Agency
from registry.app import create_app
from registry.background_checks import matching
from registry.background_checks.report import CHAR_W, PersonView, build_timeline, match_of
from registry.database import observe_statements, session_scope
from registry.dates import PartialDate
from registry.employment.models import Stint
from registry.findings.models import Finding
from registry.officers import service as officers
from registry.officers.models import Officer
from registry.settings import Settings
from tests.case_helpers import ISSUE, case_to, seat_board
from tests.conftest import SYSTEM, data

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

REGISTER = """mutation($in: OfficerInput!) { registerOfficer(input: $in) { id } }"""
HIRE = """mutation($o: ID!, $a: ID!, $on: Date!, $r: String) { reportHire(input: {officerId: $o,
  agencyId: $a, startedOn: $on, rank: $r}) { id } }"""
SEPARATE = """mutation($s: ID!, $on: Date!, $why: SeparationReason!, $note: String) {
  reportSeparation(stintId: $s, input: {endedOn: $on, reason: $why, note: $note}) { id } }"""
MOVE = """mutation($id: ID!, $m: CertificationMove!, $on: Date!, $r: String!) {
  moveCertificationStatus(id: $id, move: $m, effectiveOn: $on, reason: $r) { id status } }"""
FINDING = """mutation($i: FindingInput!) { reportFinding(input: $i) { id } }"""
CHECK = """query($c: CandidateInput!) { backgroundCheck(candidate: $c, purpose: HIRING) {
  checkId reportUrl threshold matches { rank score reasons { detail } officer { id } } } }"""

HIDDEN_SUMMARY = "Allegation of rudeness not sustained"  # agency B's, not sustained
STRANGER_DOB = "1971-02-03"


@dataclass
class Checked:
    check_id: str
    url: str
    officer: str
    detail: list[str]  # the reasons' details of the first match


async def _finding(client, staff: str, officer: str, agency: str, on: str, category: str,
                   disposition: str, summary: str, **more) -> None:
    await data(client, FINDING, {"i": {
        "officerId": officer, "agencyId": agency, "incidentOn": on, "reportedOn": on,
        "category": category, "recommendedDisposition": disposition,
        "finalDisposition": disposition, "summary": summary, **more}}, token=staff)


@pytest.fixture
async def checked(client, engine, world) -> Checked:
    """Dana Whitfield: Henrico 2008-2014 (terminated), Richmond 2015-2023 (resigned under
    investigation), certificate issued 2015, inactivated, revoked by final order in 2024, a
    sustained dishonesty finding, a sustained force finding and one not sustained; and a
    stranger the check must not show. Richmond (agency A) runs the check."""
    staff = world.tokens["staff"]
    a, b = str(world.agency_a.id), str(world.agency_b.id)
    board = await seat_board(engine, world)
    officer = (await data(client, REGISTER, {"in": {
        "firstName": "Dana", "middleName": "Marie", "lastName": "Whitfield",
        "dateOfBirth": "1984-06-12", "postId": "VA-P-20871",
        "otherNames": [{"kind": "MAIDEN", "lastName": "Kessler"}]}}, token=staff)
               )["registerOfficer"]["id"]
    cert = (await data(client, ISSUE, {"o": officer, "n": "VA-0001"}, token=staff)
            )["issueCertification"]["id"]
    first = (await data(client, HIRE, {"o": officer, "a": b, "on": "2008-07-01",
                                       "r": "Officer"}, token=staff))["reportHire"]["id"]
    await data(client, SEPARATE, {"s": first, "on": "2014-09-30", "why": "TERMINATED",
                                  "note": "Untruthful arrest report"}, token=staff)
    second = (await data(client, HIRE, {"o": officer, "a": a, "on": "2015-02-01",
                                        "r": "Sergeant"}, token=staff))["reportHire"]["id"]
    await data(client, SEPARATE, {"s": second, "on": "2023-11-30",
                                  "why": "RESIGNED_UNDER_INVESTIGATION"}, token=staff)
    await data(client, MOVE, {"id": cert, "m": "INACTIVATE", "on": "2023-12-01",
                              "r": "left employment"}, token=staff)
    await _finding(client, staff, officer, b, "2014-05-10", "DISHONESTY", "SUSTAINED",
                   "Falsified an arrest report", discipline="TERMINATION")
    await _finding(client, staff, officer, b, "2012-03-02", "OTHER", "NOT_SUSTAINED",
                   HIDDEN_SUMMARY)
    await _finding(client, staff, officer, a, "2022-08-14", "FORCE", "SUSTAINED",
                   "Unreasonable force during an arrest", discipline="SUSPENSION",
                   suspensionDays=10)
    await case_to(client, world, board, officer, "final_order")
    async with session_scope(engine) as s:
        await officers.register(session=s, actor=SYSTEM, officer_in=officers.OfficerIn(
            first_name="Marcus", last_name="Bellweather",
            birth_date=PartialDate.parse(STRANGER_DOB)))
    result = (await data(client, CHECK, {"c": {
        "firstName": "Dana", "lastName": "Whitfield", "dateOfBirth": "1984-06-12",
        "priorNames": ["Dana Kessler"]}}, token=world.tokens["agency_a"]))["backgroundCheck"]
    assert result["matches"] and result["matches"][0]["officer"]["id"] == officer, result
    assert result["reportUrl"] == f"/reports/background-checks/{result['checkId']}"
    return Checked(result["checkId"], result["reportUrl"], officer,
                   [r["detail"] for r in result["matches"][0]["reasons"]])


async def _audit_views(engine, check_id: str) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(text(
            "SELECT count(*) FROM audit_events WHERE operation = 'viewBackgroundCheckReport' "
            "AND entity_type = 'background_check' AND entity_id = :id"), {"id": check_id})
        ).scalar_one()


# --- over HTTP, no browser --------------------------------------------------------------------


async def test_report_shows_the_check_to_the_agency_that_ran_it(client, engine, world, checked):
    response = await client.get(checked.url, headers=world.headers("agency_a"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert "script-src" not in response.headers["content-security-policy"]
    html = response.text
    assert html.startswith("<!DOCTYPE html>")
    assert "Criminal Justice Services Board" in html and checked.check_id in html
    assert "Dana Whitfield" in html and "Kessler" in html  # as entered
    assert "Dana Marie Whitfield" in html  # as recorded
    for detail in checked.detail:  # the same reasons GraphQL gives
        assert detail in html
    assert "date of birth is the same" in html
    # The record: both stints with their separation reasons, the certificate's history, the
    # visible findings, the final order and its NDI action.
    assert "Richmond Police Department" in html and "Henrico County Police Division" in html
    assert "resigned under investigation" in html and "terminated" in html
    assert "VA-0001" in html and "inactive" in html and "revoked" in html
    assert "Falsified an arrest report" in html and "Unreasonable force" in html
    assert "2024-03-15" in html and "The board so orders." in html
    # A finding another agency reported and did not sustain is not this agency's to read.
    assert HIDDEN_SUMMARY not in html
    # Nobody else's record: the stranger's name and date of birth are not on the page.
    assert "Bellweather" not in html and STRANGER_DOB not in html
    # The timeline: accessible inline SVG with a bar per stint.
    assert html.count('role="img"') == 1 and "<title id=\"timeline-1-title\">" in html
    assert html.count('data-testid="stint-bar"') == 2
    assert "<script" not in html.lower()
    assert await _audit_views(engine, checked.check_id) == 1


async def test_report_needs_a_key(client, checked):
    response = await client.get(checked.url)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "Dana" not in response.text
    bad = await client.get(checked.url, headers={"Authorization": "Bearer reg_not_a_key"})
    assert bad.status_code == 401 and "Whitfield" not in bad.text


async def test_report_of_another_agency_is_not_found(client, engine, world, checked):
    other = await client.get(checked.url, headers=world.headers("agency_b"))
    unknown = await client.get(f"/reports/background-checks/{uuid.uuid4()}",
                               headers=world.headers("agency_a"))
    # The same answer for "not yours" and "not there".
    assert other.status_code == unknown.status_code == 404
    assert "Whitfield" not in other.text
    assert other.headers["cache-control"] == "no-store"
    board = await client.get(checked.url, headers=world.headers("board"))
    assert board.status_code == 403 and "Whitfield" not in board.text
    assert await _audit_views(engine, checked.check_id) == 0
    # POST staff read every check, and see every finding.
    staff = await client.get(checked.url, headers=world.headers("staff"))
    assert staff.status_code == 200 and HIDDEN_SUMMARY in staff.text
    assert await _audit_views(engine, checked.check_id) == 1


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "1234", "%3Cscript%3Ealert(1)%3C%5Cscript%3E"])
async def test_malformed_check_id_is_a_bad_request(client, world, bad_id):
    response = await client.get(f"/reports/background-checks/{bad_id}",
                                headers=world.headers("agency_a"))
    assert response.status_code == 400
    assert "<script>" not in response.text  # the id is echoed escaped
    assert response.headers["content-type"] == "text/html; charset=utf-8"


async def test_a_check_without_matches_says_so(client, world):
    result = (await data(client, CHECK, {"c": {"firstName": "Quinn <b>", "lastName": "Zyxwvut",
                                               "dateOfBirth": "1990-01-01"}},
                         token=world.tokens["agency_a"]))["backgroundCheck"]
    assert result["matches"] == []
    response = await client.get(result["reportUrl"], headers=world.headers("agency_a"))
    assert response.status_code == 200
    assert "No matches above the threshold" in response.text
    assert "Quinn &lt;b&gt;" in response.text and "Quinn <b>" not in response.text  # escaped
    assert "<svg" not in response.text


# --- in headless Chromium, against the app served by uvicorn -----------------------------------


def _chromium() -> str | None:
    return CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")


@contextmanager
def served(settings: Settings) -> Iterator[str]:
    """The real app under uvicorn on a free local port, in a thread with its own event loop
    (and its own engine, created by create_app)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


def png_pixels(png: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and pixels of an 8-bit RGB(A), non-interlaced PNG (what Chromium writes),
    decoded with the standard library."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        body = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert header is not None
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, header
    bpp = 3 if color == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up, corner = previous[i], previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc
                                      else corner)) & 255
        rows.append(bytes(line))
        previous = line
    pixels = [row[x * bpp:x * bpp + 3] for row in rows for x in range(width)]
    return width, height, pixels


async def test_report_renders_in_headless_chromium(settings, world, checked):
    executable = _chromium()
    if executable is None:
        pytest.skip("Chromium is not installed (/usr/bin/chromium); scripts/test installs it "
                    "with apt-get, or run `apt-get install -y chromium`")
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    shot, timeline_shot = ARTIFACTS / "report-page.png", ARTIFACTS / "report-timeline.png"
    pdf, printed = ARTIFACTS / "report-page.pdf", ARTIFACTS / "report-print.png"
    for old in (shot, timeline_shot, pdf, printed):
        old.unlink(missing_ok=True)
    with served(settings) as base:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS,
                                               headless=True)
            try:
                # No JavaScript: the page must read without it.
                context = await browser.new_context(
                    extra_http_headers=world.headers("agency_a"), java_script_enabled=False,
                    viewport={"width": 1200, "height": 900})
                page = await context.new_page()
                response = await page.goto(base + checked.url, wait_until="load")
                assert response is not None and response.status == 200
                assert response.headers["cache-control"] == "no-store"
                body = await page.inner_text("body")
                assert "Dana Whitfield" in body and "date of birth is the same" in body
                for detail in checked.detail:
                    assert detail in body
                svg = page.locator("figure.timeline svg[role=img]")
                assert await svg.count() == 1
                assert await svg.get_attribute("aria-label") == \
                    "Career timeline of Dana Marie Whitfield"
                box = await svg.bounding_box()
                assert box is not None and box["width"] > 600 and box["height"] > 150
                bars = page.locator("[data-testid=stint-bar] rect")
                assert await bars.count() == 2
                for i in range(2):
                    bar = await bars.nth(i).bounding_box()
                    assert bar is not None and bar["width"] > 20 and bar["height"] > 5
                labels = await page.locator("[data-testid=stint-bar] text").all_text_contents()
                assert any(t.startswith("Henrico") for t in labels), labels
                await page.screenshot(path=str(shot), full_page=True)
                await svg.screenshot(path=str(timeline_shot))
                await page.emulate_media(media="print")
                await page.pdf(path=str(pdf), format="Letter", print_background=True)
                # How the print styles lay it out, at the width of a Letter page's text.
                await page.set_viewport_size({"width": 750, "height": 900})
                await page.screenshot(path=str(printed), full_page=True)
            finally:
                await browser.close()

    png = shot.read_bytes()
    width, height = struct.unpack(">II", png[16:24])
    assert len(png) > 30_000 and width >= 1200 and height > 900  # the whole page, not a blank
    w, h, pixels = png_pixels(timeline_shot.read_bytes())
    distinct = set(pixels)
    coloured = sum(1 for p in pixels if p != b"\xff\xff\xff")
    assert w > 600 and h > 150 and len(distinct) > 8, (w, h, len(distinct))
    assert coloured > len(pixels) // 20, "the timeline is (nearly) blank"
    assert bytes.fromhex("3b6ea8") in distinct or bytes.fromhex("b42318") in distinct
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 10_000


# --- batching and the timeline's layout ----------------------------------------------------------


async def test_report_loads_many_matches_in_a_few_queries(app, client, engine, world):
    """Five namesakes, each with a certificate, a stint and a finding: the report's queries do
    not grow with the number of matches."""
    staff = world.tokens["staff"]
    for i in range(5):
        officer = (await data(client, REGISTER, {"in": {
            "firstName": "Lee", "lastName": "Park", "dateOfBirth": "1990-01-01"}},
            token=staff))["registerOfficer"]["id"]
        await data(client, ISSUE, {"o": officer, "n": f"VA-PARK-{i}"}, token=staff)
        await data(client, HIRE, {"o": officer, "a": str(world.agency_b.id),
                                  "on": f"201{i}-01-01"}, token=staff)
        await _finding(client, staff, officer, str(world.agency_b.id), f"201{i}-06-01",
                       "FORCE", "SUSTAINED", f"Finding {i}")
    check = (await data(client, CHECK, {"c": {"firstName": "Lee", "lastName": "Park",
                                              "dateOfBirth": "1990-01-01"}},
                        token=world.tokens["agency_a"]))["backgroundCheck"]
    assert len(check["matches"]) == 5
    statements: list[str] = []
    with observe_statements(app.state.engine, lambda sql, _args: statements.append(sql)):
        response = await client.get(check["reportUrl"], headers=world.headers("agency_a"))
    assert response.status_code == 200
    assert response.text.count('data-testid="match"') == 5
    assert response.text.count('data-testid="stint-bar"') == 5
    assert all(f"Finding {i}" in response.text for i in range(5))
    # Key lookup, the check, a dozen batched reads of the records, the audit event.
    assert len(statements) <= 20, statements


def _agency(name: str) -> Agency:
    return Agency(id=uuid.uuid4(), state="VA", name=name, name_key=name.lower(),
                  agency_type="police", recorded_by="tests")


def test_timeline_lays_out_overlapping_short_and_open_stints():
    person_id = uuid.uuid4()
    fairfax, herndon, state = (_agency("Fairfax County Police Department"),
                               _agency("Town of Herndon Police"), _agency("Virginia State Police"))

    def stint(agency: Agency, start: date, end: date | None, why: str | None = None) -> Stint:
        return Stint(officer_id=person_id, agency_id=agency.id, started_on=start, ended_on=end,
                     separation_reason=why, recorded_by="tests")

    person = PersonView(
        person=Officer(id=person_id, canonical_id=person_id, first_name="Robin",
                       last_name="Hale", name_key="robin hale", sort_key="hale robin",
                       recorded_by="tests"),
        record_count=1,
        stints=[stint(fairfax, date(1999, 5, 1), date(2006, 2, 1), "resigned"),
                stint(herndon, date(2005, 6, 1), date(2006, 1, 10), "terminated"),  # overlaps
                stint(state, date(2006, 3, 1), None),  # still open at the check
                stint(herndon, date(2025, 8, 1), date(2025, 10, 1),
                      "resigned_under_investigation")],  # short, at the right edge
        findings=[Finding(officer_id=person_id, agency_id=herndon.id,
                          incident_on=date(2025, 9, 1), reported_on=date(2025, 9, 5),
                          category="dishonesty", recommended_disposition="sustained",
                          final_disposition="sustained", recorded_by="tests")])
    names = {a.id: a for a in (fairfax, herndon, state)}
    t = build_timeline(person, names, date(2026, 11, 23), 1)
    assert t is not None
    assert [label for _, label in t.ticks][:2] == ["1998", "2000"] and t.first_year == 1999
    by_css = {b.css for b in t.bars}
    assert by_css == {"stint", "stint-terminated", "stint-open", "stint-investigation"}
    extents: dict[float, list[tuple[float, float]]] = {}
    for b in t.bars:  # every label (inside, or beside a narrow bar) stays in the picture
        width = len(b.label) * CHAR_W
        start = b.label_x - width if b.label_at == "left" else b.label_x
        assert 0 <= start and start + width <= t.width, b
        extents.setdefault(b.y, []).append((min(b.x, start), max(b.x + b.width, start + width)))
    assert len(extents) >= 2  # the overlapping stint got a lane of its own
    for lane in extents.values():  # and nothing overlaps within a lane, labels included
        lane.sort()
        assert all(a[1] < b[0] for a, b in zip(lane, lane[1:], strict=False)), lane
    last = max(t.bars, key=lambda b: b.x)
    assert last.label_at == "left" and last.label == "Town of Herndon Police"
    assert [m.css for m in t.markers] == ["finding-sustained"]
    assert all(0 <= m.label_x - len(m.label) * CHAR_W / 2 for m in t.markers)
    assert all(m.label_x + len(m.label) * CHAR_W / 2 <= t.width for m in t.markers)
    assert "Career timeline of Robin Hale from 1999 to 2026: 4 employment stints" in \
        t.description
    legend = {item.label for item in t.legend}
    assert "Stint still open at the check" in legend and "Final order" not in legend
    person.stints, person.findings = [], []
    assert build_timeline(person, names, date(2026, 11, 23), 1) is None


def test_a_match_is_rebuilt_from_the_stored_json():
    m = matching.Match(officer_id=uuid.uuid4(), score=0.83, probe="prior",
                       record_name_kind="maiden", record_name="dana kessler", first="exact",
                       last="exact", middle_conflict=True, suffix_conflict=False, birth="month",
                       certificate=False)
    assert match_of({**m.as_json(), "added_later": 1}) == m
    details = [r.detail for r in matching.explain(match_of(m.as_json()))]
    assert "middle initials differ" in details
