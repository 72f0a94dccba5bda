"""The printable background-check report: ``GET /reports/background-checks/{check_id}``.

One HTML page, readable without JavaScript, that an investigator prints into the hiring file:
the candidate as entered, each match with the reasons behind its score, the matched person's
record (certifications with their status history, employment stints with separation reasons,
findings, convictions, decided cases with final orders, decertification actions) and a career
timeline drawn as inline SVG.

The same key that runs checks reads the report (``Authorization: Bearer``); the service decides
who may read a check (``service.get_check``) and what a check shows an agency key (findings by
``finding_visible_in_check``, cases only once decided). The matched people's records load in a
fixed number of batched queries whatever the number of matches, and viewing the report leaves
an audit event, in the same transaction as the reads it records.
"""

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from registry.actors import Actor
from registry.agencies import repository as agencies
from registry.agencies.models import Agency
from registry.api.auth import authenticated_context
from registry.api.http import RequestError, is_database_down
from registry.api.loaders import group
from registry.audit import service as audit
from registry.background_checks import matching, repository, service
from registry.background_checks.types import DECIDED
from registry.cases.models import Case, DecertificationAction, FinalOrder
from registry.certifications.models import Certification, StatusEvent
from registry.dates import PartialDate
from registry.employment.models import Stint
from registry.errors import (
    DatabaseUnavailable,
    InvalidInput,
    RegistryError,
)
from registry.findings.models import Conviction, Finding
from registry.keys.models import Role
from registry.labels import fit, human
from registry.officers.models import Officer, OfficerName
from registry.settings import Settings

log = logging.getLogger("registry.reports")

TEMPLATES = Path(__file__).parent / "templates"
OPERATION = "viewBackgroundCheckReport"

# No script, no remote resource: the page is self-contained (inline CSS and SVG).
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "Content-Security-Policy": ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                                "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
}


# --- the report as the template sees it ----------------------------------------------------


@dataclass
class CertificationView:
    row: Certification
    events: list[StatusEvent]


@dataclass
class CaseView:
    row: Case
    final_order: FinalOrder | None


@dataclass
class PersonView:
    """A matched person's record, already filtered for the key reading the report."""

    person: Officer
    record_count: int
    other_names: list[OfficerName] = field(default_factory=list)
    certifications: list[CertificationView] = field(default_factory=list)
    stints: list[Stint] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    convictions: list[Conviction] = field(default_factory=list)
    cases: list[CaseView] = field(default_factory=list)
    actions: list[DecertificationAction] = field(default_factory=list)
    flags: dict[str, bool] = field(default_factory=dict)
    # The agencies of the person's stints and findings (the report's statement reads them).
    agencies: list[Agency] = field(default_factory=list)

    @property
    def full_name(self) -> str:
        p = self.person
        return " ".join(x for x in (p.first_name, p.middle_name, p.last_name, p.suffix) if x)

    @property
    def date_of_birth(self) -> str | None:
        p = self.person
        return str(PartialDate(p.birth_year, p.birth_month, p.birth_day)) if p.birth_year else None


@dataclass
class MatchView:
    rank: int
    match: matching.Match
    reasons: list[matching.Reason]
    person: PersonView | None
    timeline: "Timeline | None"


@dataclass
class Report:
    check: Any
    candidate: dict[str, Any]
    agency: Agency | None
    matches: list[MatchView]
    agencies: dict[uuid.UUID, Agency]
    viewer: Actor
    generated_at: datetime


FLAG_LABELS = {
    "decertified": "Decertified (revoked or surrendered) in some state",
    "terminated": "Terminated, or resigned in lieu of termination",
    "under_investigation": "Resigned or retired while under investigation",
    "open_case": "A decertification case is before the board",
    "sustained_finding": "A misconduct finding was sustained",
}


# --- loading ------------------------------------------------------------------------------


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def match_of(stored: dict[str, Any]) -> matching.Match:
    """A Match rebuilt from the JSON kept with the check (``Match.as_json``)."""
    names = {f.name for f in fields(matching.Match)}
    values = {k: v for k, v in stored.items() if k in names}
    values["officer_id"] = uuid.UUID(str(values["officer_id"]))
    return matching.Match(**values)


async def load_people(session: AsyncSession, actor: Actor, ids: Sequence[uuid.UUID]
                      ) -> dict[uuid.UUID, PersonView]:
    """The records of the people behind ``ids`` (record ids stored with the check; a record
    merged since resolves to its survivor), keyed by those ids: one statement, the one the
    check's own report reads (``repository.REPORT_SQL``)."""
    if not ids:
        return {}
    views: dict[uuid.UUID, PersonView] = {}
    for r in await repository.reports_of_people(session, list(ids)):
        events = group((e.certification_id, e) for e in r.status_events)
        orders = {o.case_id: o for o in r.final_orders}
        view = PersonView(
            person=r.person, record_count=len(r.records), other_names=r.names,
            certifications=[CertificationView(c, events.get(c.id, []))
                            for c in r.certifications],
            stints=r.stints,
            findings=[f for f in r.findings if service.finding_visible_in_check(
                actor, f.agency_id, f.final_disposition)],
            # Convictions are court records: every check shows them.
            convictions=r.convictions,
            # An agency sees decided cases only (the final order is a public fact); an open
            # case shows as a flag.
            cases=[CaseView(c, orders.get(c.id)) for c in r.cases
                   if actor.role is not Role.AGENCY or c.status in DECIDED],
            actions=r.actions,
            flags={k: bool(getattr(r.flags, k)) for k in FLAG_LABELS},
            agencies=r.agencies)
        views.update({record: view for record in r.records})
    return {asked: views[asked] for asked in ids if asked in views}


async def build_report(session: AsyncSession, *, actor: Actor, check_id: uuid.UUID,
                       today: date | None = None) -> Report:
    check = await service.get_check(session=session, actor=actor, check_id=check_id)
    stored = [match_of(m) for m in _json(check.matches) or []]
    people = await load_people(session, actor, [m.officer_id for m in stored])
    named = {a.id: a for view in people.values() for a in view.agencies}
    if check.agency_id and check.agency_id not in named:
        named.update({a.id: a for a in await agencies.get_many(session, [check.agency_id])})
    run_on = check.run_at.date() if check.run_at else (today or date.today())
    views = []
    for rank, m in enumerate(stored, start=1):
        person = people.get(m.officer_id)
        views.append(MatchView(
            rank=rank, match=m, reasons=matching.explain(m), person=person,
            timeline=build_timeline(person, named, run_on, rank) if person else None))
    return Report(check=check, candidate=_json(check.candidate) or {},
                  agency=named.get(check.agency_id) if check.agency_id else None,
                  matches=views, agencies=named, viewer=actor,
                  generated_at=datetime.now(UTC))


# --- the career timeline (inline SVG) ---------------------------------------------------------

# The viewBox is about as wide as a printed page's text at 96 px/in, so 11px text stays
# legible on paper.
WIDTH = 880
PLOT_X0 = 112  # lane labels to the left of this
PLOT_X1 = 866
BAR_H = 20
BAR_GAP = 6
MARKER_LANE_H = 46
CHAR_W = 6.1  # average width of an 11px sans-serif character, for fitting labels

STINT_CLASSES = {
    "terminated": "stint-terminated", "resigned_in_lieu_of_termination": "stint-terminated",
    "resigned_under_investigation": "stint-investigation",
    "retired_under_investigation": "stint-investigation",
}
STATUS_CLASSES = {
    "active": "cert-good", "reinstated": "cert-good", "inactive": "cert-neutral",
    "lapsed": "cert-neutral", "suspended": "cert-warn", "revoked": "cert-bad",
    "surrendered": "cert-bad", "denied": "cert-bad",
}
FINDING_CLASSES = {"sustained": "finding-sustained", "pending": "finding-pending"}

LEGEND = {
    "stint": ("bar", "Employment stint"),
    "stint-open": ("bar", "Stint still open at the check"),
    "stint-terminated": ("bar", "Terminated / resigned in lieu"),
    "stint-investigation": ("bar", "Left under investigation"),
    "cert-good": ("circle", "Certified: active, reinstated"),
    "cert-neutral": ("circle", "Inactive or lapsed"),
    "cert-warn": ("circle", "Suspended"),
    "cert-bad": ("circle", "Revoked, surrendered, denied"),
    "finding-sustained": ("triangle", "Finding sustained"),
    "finding-pending": ("triangle", "Finding pending"),
    "finding-other": ("triangle", "Finding: other disposition"),
    "order": ("diamond", "Final order"),
    "action": ("square", "Appeal outcome / reinstatement"),
    "check": ("line", "Date the check was run"),
}


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    css: str
    label: str
    label_x: float
    label_at: str  # inside | right | left (of the bar)
    title: str


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    shape: str  # circle | triangle | diamond | square
    points: str  # polygon points (not for circles)
    css: str
    title: str
    label: str
    label_x: float
    label_y: float | None


@dataclass(frozen=True)
class Lane:
    label: str
    y: float  # top
    height: float


@dataclass(frozen=True)
class LegendItem:
    x: float
    y: float
    shape: str
    points: str
    css: str
    label: str


@dataclass
class Timeline:
    id: str
    width: int
    height: float
    title: str
    description: str
    lanes: list[Lane]
    ticks: list[tuple[float, str]]
    first_year: int  # of the first dated event
    axis_y: float
    bars: list[Bar]
    markers: list[Marker]
    legend: list[LegendItem]
    check_x: float
    plot_top: float
    plot_x0: float = PLOT_X0
    plot_x1: float = PLOT_X1


def _points(shape: str, x: float, y: float, r: float = 6.5) -> str:
    if shape == "triangle":
        pts = [(x, y - r), (x + r, y + r * 0.8), (x - r, y + r * 0.8)]
    elif shape == "diamond":
        pts = [(x, y - r - 1), (x + r + 1, y), (x, y + r + 1), (x - r - 1, y)]
    elif shape == "square":
        s = r * 0.85
        pts = [(x - s, y - s), (x + s, y - s), (x + s, y + s), (x - s, y + s)]
    else:
        return ""
    return " ".join(f"{px:.1f},{py:.1f}" for px, py in pts)


@dataclass
class _Point:
    on: date
    shape: str
    css: str
    title: str
    label: str


def _place_markers(points: list[_Point], y: float, to_x: Any) -> list[Marker]:
    """Markers on a lane's centre line; each label goes above the marker, else below, else is
    left out when it would overlap another (its <title> and the tables keep the detail)."""
    placed: list[Marker] = []
    ends = {"above": -1e9, "below": -1e9}
    for p in sorted(points, key=lambda p: p.on):
        x = to_x(p.on)
        label = fit(p.label, 150, CHAR_W)
        half = len(label) * CHAR_W / 2
        # Centred on the marker, but kept inside the picture and off the lane labels.
        label_x = min(max(x, PLOT_X0 - 4 + half), WIDTH - 8 - half)
        left = label_x - half
        slot = next((s for s in ("above", "below") if left > ends[s] + 6), None)
        label_y = None
        if slot and label:
            ends[slot] = left + 2 * half
            label_y = y - 11 if slot == "above" else y + 20
        placed.append(Marker(x, y, p.shape, _points(p.shape, x, y), p.css, p.title,
                             label if label_y is not None else "", label_x, label_y))
    return placed


def build_timeline(person: PersonView, agency_names: dict[uuid.UUID, Agency], run_on: date,
                   rank: int) -> Timeline | None:
    """The person's career on one horizontal time axis: stints as bars labelled with the
    agency, certification status changes, findings and final orders as markers."""
    def agency(aid: uuid.UUID) -> str:
        a = agency_names.get(aid)
        return a.name if a else "Unknown agency"

    cert_points = []
    for c in person.certifications:
        for e in c.events:
            if e.action == "renew" and e.from_status == e.to_status:
                continue  # a renewal keeps the status: in the table, not on the picture
            label = "issued" if e.action == "issue" else human(e.to_status)
            cert_points.append(_Point(
                e.effective_on, "circle", STATUS_CLASSES.get(e.to_status, "cert-neutral"),
                f"{e.effective_on}: certificate {c.row.state} {c.row.number} "
                f"{human(e.action)} → {human(e.to_status)}"
                + (f" until {e.until_on}" if e.until_on else "")
                + (f" ({e.reason})" if e.reason else ""), label))
    finding_points = [
        _Point(f.incident_on, "triangle",
               FINDING_CLASSES.get(f.final_disposition, "finding-other"),
               f"{f.incident_on}: {human(f.category)} finding, {human(f.final_disposition)} "
               f"({agency(f.agency_id)})", f"{human(f.category)}: {human(f.final_disposition)}")
        for f in person.findings]
    board_points = []
    ordered_cases = set()
    for a in person.actions:
        if a.kind == "final_order":
            ordered_cases.add(a.case_id)
            board_points.append(_Point(a.effective_on, "diamond", "order",
                                       f"{a.effective_on}: final order, {human(a.outcome)}",
                                       f"order: {human(a.outcome)}"))
        else:
            board_points.append(_Point(a.effective_on, "square", "action",
                                       f"{a.effective_on}: {human(a.kind)}"
                                       + (f", {human(a.outcome)}" if a.outcome else ""),
                                       human(a.kind)))
    for cv in person.cases:
        o = cv.final_order
        if o is not None and cv.row.id not in ordered_cases:
            board_points.append(_Point(o.effective_on, "diamond", "order",
                                       f"{o.effective_on}: final order in case {cv.row.number}, "
                                       f"{human(o.outcome)}", f"order: {human(o.outcome)}"))

    dates = [s.started_on for s in person.stints] + [s.ended_on for s in person.stints
                                                      if s.ended_on]
    dates += [p.on for p in cert_points + finding_points + board_points]
    if not dates:
        return None
    first_year = min(dates).year
    last_year = max(max(dates).year, run_on.year)
    years = max(last_year + 1, first_year + 3) - first_year
    step = 1 if years <= 14 else 2 if years <= 28 else 5
    # The axis starts on a labelled year: a round one when the ticks are every 2 or 5 years.
    start = date(first_year - first_year % step, 1, 1)
    end = date(max(last_year + 1, first_year + 3), 1, 1)
    span = (end - start).days

    def to_x(d: date) -> float:
        clamped = min(max(d, start), end)
        return PLOT_X0 + (PLOT_X1 - PLOT_X0) * (clamped - start).days / span

    # Stints: lanes assigned greedily so bars (and labels set outside narrow bars) never
    # overlap.
    lanes_end: list[float] = []
    laid: list[tuple[int, Stint, float, float, str, str]] = []
    for s in sorted(person.stints, key=lambda s: (s.started_on, s.ended_on or run_on)):
        x0 = to_x(s.started_on)
        x1 = max(to_x(s.ended_on or max(run_on, s.started_on)), x0 + 3)
        name = agency(s.agency_id)
        # Inside the bar when it fits (or cut to fit a wide bar); else beside it, to the right
        # unless that leaves the picture.
        where = "inside" if len(name) * CHAR_W + 10 <= x1 - x0 or x1 - x0 >= 70 else "right"
        room = x1 - x0 - 10 if where == "inside" else 40 * CHAR_W
        label = fit(name, room, CHAR_W)
        lo, hi = x0, x1
        if where == "right":
            hi = x1 + 4 + len(label) * CHAR_W
            if hi > WIDTH - 2:
                where, lo, hi = "left", x0 - 4 - len(label) * CHAR_W, x1
        lane = next((i for i, e in enumerate(lanes_end) if lo > e + 3), None)
        if lane is None:
            lanes_end.append(hi)
            lane = len(lanes_end) - 1
        else:
            lanes_end[lane] = hi
        laid.append((lane, s, x0, x1, label, where))

    top = 26.0
    lanes: list[Lane] = []
    y = top
    stint_lanes = max(len(lanes_end), 1)
    lanes.append(Lane("Employment", y, stint_lanes * (BAR_H + BAR_GAP) + BAR_GAP))
    bars = []
    used = {"stint"}
    for lane, s, x0, x1, label, where in laid:
        css = STINT_CLASSES.get(s.separation_reason or "", "stint")
        if s.ended_on is None:
            css = "stint-open"
        used.add(css)
        by = y + BAR_GAP + lane * (BAR_H + BAR_GAP)
        when = f"{s.started_on} to {s.ended_on or 'present'}"
        why = f": {human(s.separation_reason)}" if s.separation_reason else ""
        rank_text = f", {s.rank}" if s.rank else ""
        label_x = {"inside": x0 + 5, "right": x1 + 4, "left": x0 - 4}[where]
        bars.append(Bar(x0, by, x1 - x0, css, label, label_x, where,
                        f"{agency(s.agency_id)}{rank_text}, {when}{why}"))
    y += lanes[-1].height
    markers: list[Marker] = []
    for name, points in (("Certification", cert_points), ("Findings", finding_points),
                         ("Board orders", board_points)):
        lanes.append(Lane(name, y, MARKER_LANE_H))
        markers += _place_markers(points, y + MARKER_LANE_H / 2 + 2, to_x)
        used |= {p.css for p in points}
        y += MARKER_LANE_H
    axis_y = y + 4
    ticks = [(to_x(date(yr, 1, 1)), str(yr))
             for yr in range(start.year, end.year + 1, step)]
    used.add("check")

    legend: list[LegendItem] = []
    lx, ly = PLOT_X0, axis_y + 38
    for css, (shape, text) in LEGEND.items():
        if css not in used:
            continue
        w = 22 + len(text) * CHAR_W + 18
        if lx + w > WIDTH - 8:
            lx, ly = PLOT_X0, ly + 20
        legend.append(LegendItem(lx, ly, shape, _points(shape, lx + 8, ly, 5.5), css, text))
        lx += w
    height = ly + 16

    counts = [f"{len(person.stints)} employment stint{'s' * (len(person.stints) != 1)}",
              f"{len(cert_points)} certification status change"
              f"{'s' * (len(cert_points) != 1)}",
              f"{len(finding_points)} finding{'s' * (len(finding_points) != 1)}",
              f"{len(board_points)} board order{'s' * (len(board_points) != 1)}"]
    description = (f"Career timeline of {person.full_name} from {first_year} to {run_on.year}: "
                   + ", ".join(counts) + ". "
                   + " ".join(f"{b.title}." for b in bars))
    return Timeline(id=f"timeline-{rank}", width=WIDTH, height=height,
                    title=f"Career timeline of {person.full_name}", description=description,
                    lanes=lanes, ticks=ticks, first_year=first_year, axis_y=axis_y, bars=bars,
                    markers=markers, legend=legend, check_x=to_x(run_on), plot_top=top)


# --- rendering ------------------------------------------------------------------------------


def _date(value: date | datetime | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["d"] = _date
    env.filters["human"] = human
    env.globals["FLAG_LABELS"] = FLAG_LABELS
    return env


def render_report(report: Report, settings: Settings) -> str:
    return environment().get_template("report.html").render(
        r=report, board_name=settings.board_name, state=settings.state)


def _error_page(settings: Settings, status: int, message: str, request_id: str,
                headers: dict[str, str] | None = None) -> HTMLResponse:
    titles = {400: "Bad request", 401: "Sign-in required", 403: "Not allowed",
              404: "Report not found", 503: "Service unavailable"}
    html = environment().get_template("error.html").render(
        status=status, title=titles.get(status, "Error"), message=message,
        request_id=request_id, board_name=settings.board_name, state=settings.state)
    return HTMLResponse(html, status_code=status, headers={
        **SECURITY_HEADERS, "X-Request-ID": request_id, **(headers or {})})


def _request_id(request: Request) -> str:
    given = request.headers.get("x-request-id", "")
    if 0 < len(given) <= 64 and all(c.isalnum() or c in "._-" for c in given) and given.isascii():
        return given
    return uuid.uuid4().hex


def _check_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidInput(f"'{value[:80]}' is not a background check id; the id is the UUID "
                           "a check returns as checkId.", field="checkId") from None


async def report_page(request: Request) -> Response:
    """The report of one check, as HTML; 401 without a key, 400 for an id that is not a UUID,
    404 for a check that is not there or not this key's to read, 403 for a role that reads no
    checks, 503 when the database does not answer."""
    settings: Settings = request.app.state.settings
    request_id = _request_id(request)
    try:
        context = await authenticated_context(request, request_id,
                                              engine=request.app.state.engine,
                                              settings=settings)
    except RequestError as err:
        return _error_page(settings, err.status, err.message, request_id, err.headers)
    actor = context.actor
    assert actor is not None
    try:
        check_id = _check_id(request.path_params["check_id"])
        async with context.write() as session:
            report = await build_report(session, actor=actor, check_id=check_id)
            await audit.record(session, actor=actor, operation=OPERATION,
                               entity_type="background_check", entity_id=check_id,
                               after={"agency_id": report.check.agency_id,
                                      "officer_ids": [m.match.officer_id
                                                      for m in report.matches]})
            # Rendered before the commit: an audit event stands for a page actually served.
            html = render_report(report, settings)
    except RegistryError as err:
        return _error_page(settings, err.status, err.message, request_id, err.headers)
    except Exception as err:
        if is_database_down(err):
            outage = DatabaseUnavailable()
            return _error_page(settings, outage.status, outage.message, request_id,
                               outage.headers)
        log.exception("report %s failed (request %s)", request.url.path, request_id)
        return _error_page(settings, 500, "The report could not be produced; quote the request "
                                          f"id {request_id} when reporting it.", request_id)
    finally:
        await context.close()
    return HTMLResponse(html, headers={**SECURITY_HEADERS, "X-Request-ID": request_id})
