"""The public pages' pictures, computed here and drawn by the templates as inline SVG (no
script): an officer's timeline and the decertifications-per-year chart. Every picture has
a title and a description for screen readers, and the page beside it lists the same data
in tables."""

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from registry.labels import fit, human

WIDTH = 880
CHAR_W = 6.4  # average width of a 12px sans-serif character, for fitting labels

STATUS_CSS = {
    "active": "st-good", "reinstated": "st-good", "inactive": "st-neutral",
    "lapsed": "st-neutral", "suspended": "st-warn", "revoked": "st-bad",
    "surrendered": "st-bad", "denied": "st-bad",
}
# One colour per ground category (colour-blind-safe order), the same on every chart.
CATEGORY_COLORS = {
    "misconduct": "#1f3a5f", "dishonesty": "#c4620a", "use_of_force": "#b42318",
    "sexual_misconduct": "#6941c6", "criminal_conviction": "#117a65",
    "pattern_of_misconduct": "#8a6d0b", "separation_under_investigation": "#3b6ea8",
    "other": "#5b6675", "not_recorded": "#a7b0bd",
}


# --- an officer's timeline --------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    x: float
    y: float
    width: float
    height: float
    css: str
    label: str
    title: str


@dataclass(frozen=True)
class Mark:
    x: float
    y: float
    shape: str  # diamond | triangle
    points: str
    css: str
    label: str
    label_y: float
    title: str
    label_x: float = 0.0
    anchor: str = "middle"  # start | middle | end


@dataclass(frozen=True)
class Lane:
    label: str
    y: float
    height: float


@dataclass
class Timeline:
    width: int
    height: float
    title: str
    description: str
    lanes: list[Lane]
    segments: list[Segment]
    marks: list[Mark]
    ticks: list[tuple[float, str]]
    axis_y: float
    today_x: float
    plot_x0: float
    plot_x1: float
    legend: list[tuple[float, float, str, str, str]] = field(default_factory=list)


def _diamond(x: float, y: float, r: float = 7) -> str:
    return f"{x:.1f},{y - r:.1f} {x + r:.1f},{y:.1f} {x:.1f},{y + r:.1f} {x - r:.1f},{y:.1f}"


def _triangle(x: float, y: float, r: float = 7) -> str:
    return f"{x:.1f},{y - r:.1f} {x + r:.1f},{y + r * 0.8:.1f} {x - r:.1f},{y + r * 0.8:.1f}"


def officer_timeline(name: str, record: dict[str, Any], today: date) -> Timeline | None:
    """Employment (years), each certification's status over time, board actions and public
    findings on one time axis; None when the record holds no dated entry."""
    stints = record["employment"]
    certs = record["certifications"]
    actions = record["decertifications"]
    findings = record["findings"]
    days = [date(s["from_year"], 1, 1) for s in stints]
    days += [c["issued_on"] for c in certs]
    days += [h["effective_on"] for c in certs for h in c["history"]]
    days += [a["effective_on"] for a in actions]
    days += [date(f["year"], 7, 1) for f in findings]
    if not days:
        return None
    first = min(days).year
    last = max(max(days).year, today.year)
    span_years = max(last + 1 - first, 4)
    step = 1 if span_years <= 12 else 2 if span_years <= 24 else 5
    start = date(first - first % step, 1, 1)
    end = date(max(last + 1, start.year + 4), 1, 1)
    x0, x1 = 150.0, WIDTH - 16.0

    def to_x(d: date) -> float:
        d = min(max(d, start), end)
        return x0 + (x1 - x0) * (d - start).days / (end - start).days

    lanes: list[Lane] = []
    segments: list[Segment] = []
    marks: list[Mark] = []
    y = 30.0
    bar = 22.0
    # Employment: years served, greedy sub-lanes so bars never overlap.
    if stints:
        ends: list[float] = []
        placed: list[tuple[int, dict[str, Any], float, float]] = []
        for s in sorted(stints, key=lambda s: (s["from_year"], s["to_year"] or 9999)):
            a = to_x(date(s["from_year"], 1, 1))
            b = max(to_x(date((s["to_year"] or today.year) + 1, 1, 1)
                         if s["to_year"] else today), a + 4)
            lane = next((i for i, e in enumerate(ends) if a >= e + 2), None)
            if lane is None:
                ends.append(b)
                lane = len(ends) - 1
            else:
                ends[lane] = b
            placed.append((lane, s, a, b))
        height = len(ends) * (bar + 6) + 6
        lanes.append(Lane("Employment", y, height))
        for lane, s, a, b in placed:
            years = f"{s['from_year']}–{s['to_year'] or 'present'}"
            segments.append(Segment(a, y + 6 + lane * (bar + 6), b - a, bar,
                                    "stint" if s["to_year"] else "stint-open",
                                    fit(s["agency"]["name"], b - a - 10, CHAR_W),
                                    f"{s['agency']['name']}, {years}"))
        y += height
    # One lane per certification: its status from issue to today, coloured by status.
    for c in certs:
        label = f"{human(c['level']).title()} ({_short(c['discipline'])})"
        lanes.append(Lane(fit(label, x0 - 16, CHAR_W), y, bar + 12))
        changes = [h for h in c["history"]] or [
            {"status": c["status"], "effective_on": c["issued_on"], "change": "issued"}]
        for i, h in enumerate(changes):
            a = to_x(h["effective_on"])
            until = changes[i + 1]["effective_on"] if i + 1 < len(changes) else today
            b = max(to_x(until), a + 3)
            when = f"{h['effective_on'].isoformat()} to " + (
                until.isoformat() if i + 1 < len(changes) else "today")
            segments.append(Segment(a, y + 6, b - a, bar, STATUS_CSS.get(h["status"],
                                                                          "st-neutral"),
                                    fit(human(h["status"]), b - a - 8, CHAR_W),
                                    f"{label}: {human(h['status'])}, {when}"))
        y += bar + 12
    # Board actions and public findings as marks.
    lane_h = 44.0
    if actions:
        lanes.append(Lane("Board actions", y, lane_h))
        cy = y + lane_h / 2 - 4
        for a in actions:
            x = to_x(a["effective_on"])
            text = human(a["outcome"])
            marks.append(Mark(x, cy, "diamond", _diamond(x, cy), "order", text, cy + 20,
                              f"{a['effective_on'].isoformat()}: {text} by final order"))
        y += lane_h
    if findings:
        lanes.append(Lane("Sustained findings", y, lane_h))
        cy = y + lane_h / 2 - 4
        for f in findings:
            x = to_x(date(f["year"], 7, 1))
            text = human(f["category"])
            marks.append(Mark(x, cy, "triangle", _triangle(x, cy), "finding", text, cy + 20,
                              f"{f['year']}: sustained {text} finding"
                              + (f", {human(f['discipline'])}" if f["discipline"] else "")))
        y += lane_h
    marks = _spread_labels(marks, x0)
    axis_y = y + 6
    ticks = [(to_x(date(yr, 1, 1)), str(yr)) for yr in range(start.year, end.year + 1, step)]
    used = {s.css for s in segments} | {m.css for m in marks}
    legend = []
    lx, ly = x0, axis_y + 40
    for css, text in (("stint", "Employment"), ("stint-open", "Still serving"),
                      ("st-good", "Active / reinstated"), ("st-neutral", "Inactive / lapsed"),
                      ("st-warn", "Suspended"), ("st-bad", "Revoked / surrendered / denied"),
                      ("order", "Board action"), ("finding", "Sustained finding")):
        if css not in used:
            continue
        w = 24 + len(text) * CHAR_W + 16
        if lx + w > WIDTH - 8:
            lx, ly = x0, ly + 20
        legend.append((lx, ly, css, text, "mark" if css in ("order", "finding") else "bar"))
        lx += w
    height = ly + 14
    described = [s.title for s in segments] + [m.title for m in marks]
    return Timeline(
        width=WIDTH, height=height, title=f"Timeline of {name}",
        description=f"Timeline of {name} from {start.year} to {today.year}. "
                    + "; ".join(described) + ".",
        lanes=lanes, segments=segments, marks=marks, ticks=ticks, axis_y=axis_y,
        today_x=to_x(today), plot_x0=x0, plot_x1=x1, legend=legend)


def _short(discipline: str) -> str:
    return {"law_enforcement": "law enf.", "corrections": "corrections", "jail": "jail",
            "communications": "comms", "other": "other"}.get(discipline, human(discipline))


def _spread_labels(marks: list[Mark], x0: float) -> list[Mark]:
    """Centre each mark's label under it, or align it to the mark near an edge; drop it
    where it would overlap the previous one on its lane (its <title> and the tables keep the
    detail)."""
    out: list[Mark] = []
    last_end: dict[float, float] = {}
    for m in sorted(marks, key=lambda m: (m.y, m.x)):
        width = len(m.label) * CHAR_W
        anchor, label_x, left = "middle", m.x, m.x - width / 2
        if m.x + width / 2 > WIDTH - 4:
            anchor, label_x = "end", min(m.x + 8, WIDTH - 4)
            left = label_x - width
        elif left < x0 - 60:
            anchor, label_x, left = "start", m.x - 8, m.x - 8
        label = m.label if left > last_end.get(m.y, -1e9) + 4 else ""
        if label:
            last_end[m.y] = left + width
        out.append(Mark(m.x, m.y, m.shape, m.points, m.css, label, m.label_y, m.title,
                        label_x, anchor))
    return out


# --- decertifications per year by ground ------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    color: str
    title: str


@dataclass
class YearChart:
    width: int
    height: float
    title: str
    description: str
    bars: list[Bar]
    totals: list[tuple[float, float, str]]  # x, y, label above each year's stack
    x_labels: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    plot: tuple[float, float, float, float]  # x0, y0 (top), x1, y1 (baseline)
    legend: list[tuple[float, float, str, str]]  # x, y, colour, text


def _nice_max(value: int) -> tuple[int, int]:
    """An axis maximum at or above ``value`` and its tick step."""
    if value <= 5:
        return 5, 1
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if value / step <= 8:
            return -(-value // step) * step, step
    step = 10 ** (len(str(value)) - 1)
    return -(-value // step) * step, step


def year_chart(years: list[dict[str, Any]], labels: dict[str, str], what: str
               ) -> YearChart | None:
    """A stacked bar per year, one colour per ground category present."""
    if not years:
        return None
    first, last = years[0]["year"], years[-1]["year"]
    by_year = {y["year"]: y for y in years}
    span = list(range(first, last + 1))
    categories = [c for c in CATEGORY_COLORS if any(
        g["category"] == c for y in years for g in y["by_ground"])]
    stacked_max = max(sum(g["count"] for g in y["by_ground"]) for y in years)
    top, step = _nice_max(max(stacked_max, 1))
    x0, x1, y0 = 56.0, WIDTH - 12.0, 24.0
    legend_rows = 1
    lx = x0
    for c in categories:
        w = 22 + len(labels.get(c, human(c))) * CHAR_W + 18
        if lx + w > WIDTH - 8:
            legend_rows += 1
            lx = x0
        lx += w
    y1 = 300.0
    height = y1 + 40 + legend_rows * 20 + 8
    slot = (x1 - x0) / len(span)
    bar_w = max(min(slot * 0.72, 48), 2)
    bars: list[Bar] = []
    totals: list[tuple[float, float, str]] = []

    def to_y(v: float) -> float:
        return y1 - (y1 - y0) * v / top

    for i, yr in enumerate(span):
        x = x0 + i * slot + (slot - bar_w) / 2
        base = 0
        entry = by_year.get(yr)
        counts = {g["category"]: g["count"] for g in entry["by_ground"]} if entry else {}
        for c in categories:
            n = counts.get(c, 0)
            if not n:
                continue
            bars.append(Bar(x, to_y(base + n), bar_w, to_y(base) - to_y(base + n),
                            CATEGORY_COLORS[c], f"{yr}, {labels.get(c, human(c))}: {n}"))
            base += n
        if entry and slot >= 22:
            totals.append((x + bar_w / 2, to_y(base) - 5, str(entry["total"])))
    every = 1 if slot >= 34 else 2 if slot >= 17 else 5 if slot >= 7 else 10
    x_labels = [(x0 + i * slot + slot / 2, str(yr)) for i, yr in enumerate(span)
                if (yr - first) % every == 0]
    y_ticks = [(to_y(v), str(v)) for v in range(0, top + 1, step)]
    legend = []
    lx, ly = x0, y1 + 40
    for c in categories:
        text = labels.get(c, human(c))
        w = 22 + len(text) * CHAR_W + 18
        if lx + w > WIDTH - 8:
            lx, ly = x0, ly + 20
        legend.append((lx, ly, CATEGORY_COLORS[c], text))
        lx += w
    total = sum(y["total"] for y in years)
    peak = max(years, key=lambda y: y["total"])
    return YearChart(
        width=WIDTH, height=height, title=f"{what} per year by ground, {first}–{last}",
        description=(f"Stacked bar chart of {total:,} {what.lower()} from {first} to {last}; "
                     f"the most in one year: {peak['total']:,} in {peak['year']}. "
                     "The table below the chart lists every number."),
        bars=bars, totals=totals, x_labels=x_labels, y_ticks=y_ticks, plot=(x0, y0, x1, y1),
        legend=legend)
