"""The public pages in headless Chromium (Debian's, never a downloaded browser), against the
real app under uvicorn, on a synthetic state with board orders: search a name from the data,
open the officer, download the CSV, view the chart, at desktop and phone widths, with and
without JavaScript. Screenshots go to tests/artifacts/ (gitignored)."""

import csv
import io
import struct
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from registry.database import asyncpg_url
from registry.synthetic import generate
from tests.case_helpers import seat_board
from tests.conftest import data
from tests.test_report_page import ARTIFACTS, CHROMIUM_ARGS, _chromium, png_pixels, served

OPEN = """mutation($o: ID!, $g: [String!]) { openCase(officerId: $o, grounds: $g) { id } }"""
REVIEW = """mutation($id: ID!) { moveCase(id: $id, move: REVIEW, reason: "complete") { id } }"""
PROPOSE = """mutation($id: ID!, $o: CaseOutcome!, $u: Date) { proposeOutcome(caseId: $id,
  outcome: $o, suspendedUntil: $u) { id } }"""
HEARING = """mutation($id: ID!, $at: DateTime!, $n: Date!) { scheduleHearing(caseId: $id,
  scheduledFor: $at, noticeSentOn: $n, location: "Board room") { id } }"""
VOTE = """mutation($id: ID!, $v: VoteChoice!, $on: Date!) { castVote(caseId: $id, vote: $v,
  castOn: $on) { id } }"""
ORDER = """mutation($id: ID!, $on: Date!, $t: String!) { issueFinalOrder(caseId: $id,
  effectiveOn: $on, publicText: $t) { id } }"""
OFFICER_ID = """query($n: String!) { officers(name: $n, first: 1) { edges { node { id } } } }"""

# (ground, outcome, year of the order): the chart gets several categories and years.
ORDERS = [
    ("termination_serious_misconduct", "REVOCATION", 2021),
    ("criminal_conviction", "REVOCATION", 2022),
    ("separation_in_lieu_of_termination", "SURRENDER", 2022),
    ("pattern_of_misconduct", "REVOCATION", 2023),
    ("serious_discipline", "SUSPENSION", 2024),
    ("termination_serious_misconduct", "REVOCATION", 2024),
    ("criminal_conviction", "REVOCATION", 2025),
]


@dataclass
class State:
    name: str  # an officer with a revocation, as the public would type it
    public_id: str
    ordered: int


@pytest.fixture
async def synthetic(database_url) -> None:
    """A small synthetic state (agencies, officers, careers, certifications, board moves)."""
    conn = await asyncpg.connect(asyncpg_url(database_url))
    try:
        await generate(conn, officers=600, agencies=24, state="VA", seed=11)
    finally:
        await conn.close()


@pytest.fixture
async def state(synthetic, world, client, engine) -> State:
    """Final orders, through the board's whole procedure, for officers of the synthetic
    state whose certification was active before the order."""
    staff = world.tokens["staff"]
    board = await seat_board(engine, world)
    async with engine.connect() as conn:
        from sqlalchemy import text

        rows = (await conn.execute(text("""
            SELECT DISTINCT ON (o.id) o.id, o.first_name, o.last_name, o.public_id
            FROM officers o JOIN certifications c ON c.officer_id = o.id
            WHERE c.state = 'VA' AND c.status = 'active' AND c.status_since < '2020-06-01'
              AND o.middle_name IS NULL AND o.suffix IS NULL
            ORDER BY o.id LIMIT :n"""), {"n": len(ORDERS)})).all()
    assert len(rows) == len(ORDERS)
    for (ground, outcome, year), row in zip(ORDERS, rows, strict=True):
        case = (await data(client, OPEN, {"o": str(row.id), "g": [ground]}, token=staff)
                )["openCase"]["id"]
        await data(client, REVIEW, {"id": case}, token=staff)
        await data(client, PROPOSE, {"id": case, "o": outcome,
                                     "u": f"{year + 3}-06-01" if outcome == "SUSPENSION"
                                     else None}, token=staff)
        await data(client, HEARING, {"id": case, "at": f"{year}-02-20T10:00:00-05:00",
                                     "n": f"{year}-01-15"}, token=staff)
        for member, vote in zip(board.tokens, ("YES", "YES", "NO"), strict=True):
            await data(client, VOTE, {"id": case, "v": vote, "on": f"{year}-03-01"},
                       token=board.tokens[member])
        await data(client, ORDER, {"id": case, "on": f"{year}-03-15", "t": (
            f"The Board, having found the ground '{ground}' established after notice and "
            "hearing, orders the action stated. The officer may petition for "
            "reinstatement as the law provides.")}, token=staff)
    first = rows[0]
    return State(f"{first.first_name} {first.last_name}", first.public_id, len(ORDERS))


def _png_size(path: Path) -> tuple[int, int]:
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


async def test_public_pages_in_headless_chromium(settings, state):
    executable = _chromium()
    if executable is None:
        pytest.skip("Chromium is not installed (/usr/bin/chromium); scripts/test installs it "
                    "with apt-get, or run `apt-get install -y chromium`")
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    shots = {name: ARTIFACTS / f"public-{name}.png" for name in (
        "search", "results", "officer", "timeline", "decertifications", "statistics", "chart",
        "results-phone", "officer-phone", "statistics-phone")}
    csv_path = ARTIFACTS / "public-decertifications.csv"
    for old in [*shots.values(), csv_path]:
        old.unlink(missing_ok=True)
    with served(settings) as base:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS,
                                               headless=True)
            try:
                # Without JavaScript: every page must work as plain HTML.
                context = await browser.new_context(java_script_enabled=False,
                                                    viewport={"width": 1280, "height": 900},
                                                    accept_downloads=True)
                page = await context.new_page()
                response = await page.goto(base + "/")
                assert response is not None and response.status == 200
                assert response.headers["cache-control"].startswith("public")
                await page.screenshot(path=str(shots["search"]), full_page=True)
                assert "Virginia" in await page.inner_text("header")
                assert "Data as of" in await page.inner_text("body")
                # Search a name from the data: type it and press Enter.
                await page.get_by_label("Officer's name").fill(state.name)
                async with page.expect_navigation():
                    await page.get_by_label("Officer's name").press("Enter")
                assert "/?name=" in page.url
                results = page.locator("[data-testid=result]")
                assert await results.count() >= 1
                await page.screenshot(path=str(shots["results"]), full_page=True)
                link = page.locator(f"a[href='/officers/{state.public_id}']")
                assert await link.count() == 1, f"{state.name} is not among the results"
                async with page.expect_navigation():
                    await link.click()
                assert page.url.endswith(f"/officers/{state.public_id}")
                assert state.name.split()[-1] in await page.inner_text("h1")
                assert "Revoked" in await page.inner_text("[data-testid=status]")
                assert "Board vote" in await page.inner_text("main")
                assert "orders the action stated" in await page.inner_text("main")
                timeline = page.locator("svg[data-testid=timeline]")
                assert await timeline.count() == 1
                box = await timeline.bounding_box()
                assert box is not None and box["width"] > 600 and box["height"] > 120
                assert await page.locator("[data-testid=segment] rect").count() >= 2
                await page.screenshot(path=str(shots["officer"]), full_page=True)
                await timeline.screenshot(path=str(shots["timeline"]))
                # The list and its CSV download.
                await page.get_by_role("link", name="Decertifications", exact=True).click()
                assert page.url.endswith("/decertifications")
                table_rows = page.locator("[data-testid=decertifications] tbody tr")
                assert await table_rows.count() >= state.ordered
                await page.screenshot(path=str(shots["decertifications"]), full_page=True)
                async with page.expect_download() as download_info:
                    await page.locator("[data-testid=csv-link]").click()
                download = await download_info.value
                assert download.suggested_filename.startswith("va-decertifications-")
                await download.save_as(csv_path)
                rows = list(csv.DictReader(io.StringIO(csv_path.read_text())))
                assert len(rows) >= state.ordered
                assert state.public_id in {r["public_id"] for r in rows}
                assert {r["action"] for r in rows} >= {"revocation", "surrender", "suspension"}
                # The chart.
                await page.get_by_role("link", name="Statistics", exact=True).first.click()
                chart = page.locator("svg[data-testid=year-chart]")
                assert await chart.count() == 1
                assert await page.locator("[data-testid=bar]").count() >= 5
                assert await chart.get_attribute("role") == "img"
                await page.screenshot(path=str(shots["statistics"]), full_page=True)
                await chart.screenshot(path=str(shots["chart"]))
                await context.close()

                # At a phone's width, with JavaScript (to measure the layout): no page is
                # wider than the screen, and the keyboard reaches the search form.
                phone = await browser.new_context(viewport={"width": 390, "height": 844},
                                                  is_mobile=True, device_scale_factor=2)
                page = await phone.new_page()
                await page.goto(base + "/")
                await page.keyboard.press("Tab")
                assert await page.evaluate("document.activeElement.textContent.trim()") == \
                    "Skip to main content"
                await page.keyboard.press("Enter")
                assert await page.evaluate("document.activeElement.id") == "main"
                await page.keyboard.press("Tab")
                assert await page.evaluate("document.activeElement.id") == "name"
                await page.keyboard.type(state.name)
                async with page.expect_navigation():
                    await page.keyboard.press("Enter")
                for path, shot in ((page.url, "results-phone"),
                                   (f"{base}/officers/{state.public_id}", "officer-phone"),
                                   (f"{base}/statistics", "statistics-phone")):
                    await page.goto(path)
                    width = await page.evaluate("document.documentElement.scrollWidth")
                    assert width <= 390, (path, width)
                    unlabelled = await page.evaluate("""[...document.querySelectorAll(
                        'input, select')].filter(e => e.type !== 'hidden' && !e.labels.length)
                        .length""")
                    assert unlabelled == 0, path
                    headings = await page.evaluate(
                        "[...document.querySelectorAll('h1')].length")
                    assert headings == 1, path
                    landmarks = await page.evaluate("""['header', 'nav', 'main', 'footer']
                        .every(s => document.querySelector(s))""")
                    assert landmarks, path
                    await page.screenshot(path=str(shots[shot]), full_page=True)
                await phone.close()
            finally:
                await browser.close()

    for name, path in shots.items():
        assert path.exists() and path.stat().st_size > 5_000, name
    width, height = _png_size(shots["officer"])
    assert width >= 1280 and height > 900
    w, h, pixels = png_pixels(shots["chart"].read_bytes())
    coloured = sum(1 for p in pixels if p != b"\xff\xff\xff")
    assert w > 600 and h > 200 and coloured > len(pixels) // 30, "the chart is (nearly) blank"
    # Several ground categories drawn: at least three of the chart's colours are present.
    colours = {bytes.fromhex(c) for c in ("1f3a5f", "117a65", "3b6ea8", "8a6d0b",
                                              "a7b0bd")}
    assert len(colours & set(pixels)) >= 3
