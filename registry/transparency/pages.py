"""The public web pages, server-rendered (Jinja2, inline CSS and SVG, no script):

    /                       search form and results (and the latest board actions)
    /officers/{publicId}    one officer's public record with a timeline
    /decertifications       every board action, with filters; .csv streams the same list
    /statistics             board actions per year by ground (chart) and per agency

They read the same SQL as /public/graphql (registry/transparency/repository.py) through the
public pool, under the same per-address rate limit, and are cacheable by browsers and shared
caches for ``REGISTRY_PUBLIC_CACHE_SECONDS``. Every page names the state and the date the
data is current to.
"""

import csv
import hashlib
import io
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from registry.api.http import is_database_down
from registry.api.relay import decode_cursor, encode_cursor
from registry.errors import DatabaseUnavailable, InvalidInput, NotFound, RegistryError
from registry.labels import human
from registry.names import fold
from registry.referrals.grounds import NDI_CATEGORIES, load_grounds
from registry.settings import Settings
from registry.states import STATE_NAMES
from registry.transparency import charts, repository
from registry.transparency.context import (
    PublicDatabase,
    public_context_factory,
)
from registry.transparency.http import PublicGraphQLEndpoint
from registry.transparency.ratelimit import RateLimiter
from registry.transparency.schema import (
    action_key,
    agency_filter,
    cached_by_agency,
    cached_by_year,
    decode_search_cursor,
    other_names_of,
    public_schema,
    search_cursor,
    years_from,
)
from registry.transparency.search import check_public_id, parse_name

log = logging.getLogger("registry.public")

TEMPLATES = Path(__file__).parent / "templates"
SEARCH_PAGE = 25
LIST_PAGE = 50
AGENCY_ROWS = 25

STATUS_LABELS = {
    "active": "Active", "reinstated": "Reinstated", "inactive": "Inactive",
    "lapsed": "Lapsed", "suspended": "Suspended", "revoked": "Revoked",
    "surrendered": "Surrendered", "denied": "Denied",
}
STATUS_BADGES = {"active": "good", "reinstated": "good", "inactive": "neutral",
                 "lapsed": "neutral", "suspended": "warn", "revoked": "bad",
                 "surrendered": "bad", "denied": "bad"}
OUTCOME_LABELS = {"revocation": "Revocation", "suspension": "Suspension",
                  "surrender": "Voluntary surrender", "denial": "Denial"}
CATEGORY_LABELS = {
    "misconduct": "Serious misconduct", "dishonesty": "Dishonesty",
    "use_of_force": "Use of force", "sexual_misconduct": "Sexual misconduct",
    "criminal_conviction": "Criminal conviction",
    "pattern_of_misconduct": "Pattern of misconduct",
    "separation_under_investigation": "Left under investigation", "other": "Other",
    repository.NOT_RECORDED: "Not recorded",
}
CHANGE_LABELS = {
    "issued": "Issued", "reactivated": "Reactivated", "inactivated": "Inactivated",
    "lapsed": "Lapsed", "suspended": "Suspended", "suspension_ended": "Suspension ended",
    "revoked": "Revoked", "surrendered": "Surrendered", "denied": "Denied",
    "reinstated": "Reinstated", "restored_on_appeal": "Restored on appeal",
}
CSV_COLUMNS = ("effective_on", "officer", "public_id", "record_url", "action",
               "suspended_until", "ground_categories", "grounds", "agency", "agency_ori",
               "appeal_outcome", "appeal_decided_on", "reinstated_on", "vote_yes", "vote_no",
               "vote_abstain", "vote_recused", "final_order_text")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Content-Security-Policy": ("default-src 'none'; style-src 'self' 'unsafe-inline'; "
                                "img-src 'self' data:; form-action 'self'; base-uri 'none'; "
                                "frame-ancestors 'none'"),
}


def _long_date(value: date | datetime | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(UTC).date()
    return f"{value.day} {value:%B %Y}"


@lru_cache(maxsize=1)
def stylesheet() -> tuple[bytes, str]:
    """The pages' CSS and a version of it (a hash) for its URL."""
    css = (TEMPLATES / "site.css").read_bytes()
    return css, hashlib.blake2b(css, digest_size=6).hexdigest()


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["human"] = human
    env.filters["long_date"] = _long_date
    env.filters["status"] = lambda s: STATUS_LABELS.get(s or "", "Not certified")
    env.filters["badge"] = lambda s: STATUS_BADGES.get(s or "", "neutral")
    env.filters["outcome"] = lambda o: OUTCOME_LABELS.get(o, human(o).capitalize())
    env.filters["category"] = lambda c: CATEGORY_LABELS.get(c, human(c).capitalize())
    env.filters["change"] = lambda c: CHANGE_LABELS.get(c, human(c).capitalize())
    env.filters["num"] = lambda n: f"{n:,}"
    env.globals["CATEGORY_COLORS"] = charts.CATEGORY_COLORS
    env.globals["css_version"] = stylesheet()[1]
    return env


def _full_name(row: Any) -> str:
    return " ".join(p for p in (row["first_name"], row["middle_name"], row["last_name"],
                                row["suffix"]) if p)


class PageError(Exception):
    headers: dict[str, str] = {}

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _choice(request: Request, name: str, allowed: Any) -> str | None:
    value = request.query_params.get(name, "").strip()
    if not value:
        return None
    if value not in allowed:
        raise PageError(400, f"'{value[:40]}' is not a {name} this page knows; pick one "
                             "from the list.")
    return value


def _year(request: Request) -> int | None:
    value = request.query_params.get("year", "").strip()
    if not value:
        return None
    if not value.isdigit() or not 1900 <= int(value) <= date.today().year + 1:
        raise PageError(400, f"'{value[:20]}' is not a year.")
    return int(value)


class PublicSite:
    """The public side of one app: its pool, rate limiter, GraphQL endpoint and pages."""

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self.settings = settings
        self.database = PublicDatabase(engine.url.render_as_string(hide_password=False),
                                       settings)
        self.limiter = RateLimiter(settings.public_rate_limit)
        self.graphql = PublicGraphQLEndpoint(
            public_schema.graphql_schema, settings=settings,
            make_context=public_context_factory(engine, settings, self.database),
            title="Officer registry (public)", limiter=self.limiter)
        self.cache_control = (f"public, max-age={settings.public_cache_seconds}"
                              if settings.public_cache_seconds else "no-cache")
        self.state_name = STATE_NAMES.get(settings.state, settings.state)

    def routes(self) -> list[Route]:
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        return [
            Route("/public/graphql", self.graphql.handle, methods=methods),
            Route("/", self._page(self.search), methods=["GET", "HEAD"]),
            Route("/officers/{public_id:path}", self._page(self.officer), methods=["GET", "HEAD"]),
            Route("/decertifications", self._page(self.decertifications),
                  methods=["GET", "HEAD"]),
            Route("/decertifications.csv", self.csv, methods=["GET", "HEAD"]),
            Route("/statistics", self._page(self.statistics), methods=["GET", "HEAD"]),
            Route("/assets/site.css", self.css_file, methods=["GET", "HEAD"]),
        ]

    async def css_file(self, _request: Request) -> Response:
        css, version = stylesheet()
        return Response(css, media_type="text/css; charset=utf-8", headers={
            "Cache-Control": "public, max-age=86400", "ETag": f'"{version}"',
            "X-Content-Type-Options": "nosniff"})

    async def close(self) -> None:
        await self.database.close()

    # --- the frame every page shares -----------------------------------------------------

    def _page(self, build: Callable[[Request, asyncpg.Connection],
                                    Awaitable[tuple[str, dict[str, Any]] | Response]]
              ) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            request_id = _request_id(request)
            refusal = await self.limiter.check(request)
            if refusal is not None:
                return self._error(429, f"Too many requests from your address (the limit is "
                                        f"{refusal.limit}). Please wait {refusal.retry_after} "
                                        "seconds and try again.", request_id, None,
                                   {"Retry-After": str(refusal.retry_after)})
            as_of = None
            try:
                async with self.database.connection() as conn:
                    as_of = await self.database.as_of(conn)
                    built = await build(request, conn)
            except (PageError, RegistryError) as err:
                return self._refused(err, request_id, as_of)
            except Exception as err:
                if is_database_down(err):
                    return self._refused(DatabaseUnavailable(), request_id, as_of)
                log.exception("page %s failed (request %s)", request.url.path, request_id)
                return self._error(500, "This page could not be produced. Please quote "
                                        f"reference {request_id} if you report it.",
                                   request_id, as_of)
            if isinstance(built, Response):
                built.headers.update({"X-Request-ID": request_id, **SECURITY_HEADERS})
                return built
            template, values = built
            status = values.pop("status_code", 200)
            html = self.render(template, as_of=as_of, path=request.url.path, **values)
            if status != 200:  # the page again, with what to correct
                return HTMLResponse(html, status_code=status, headers={
                    **SECURITY_HEADERS, "Cache-Control": "no-store",
                    "X-Request-ID": request_id})
            return self._cached(request, html, request_id)

        return handle

    def render(self, template: str, **values: Any) -> str:
        return environment().get_template(template).render(
            state=self.settings.state, state_name=self.state_name,
            board_name=self.settings.board_name,
            employment_public=self.settings.public_employment, **values)

    def _cached(self, request: Request, html: str, request_id: str) -> Response:
        body = html.encode()
        etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        headers = {**SECURITY_HEADERS, "Cache-Control": self.cache_control, "ETag": etag,
                   "X-Request-ID": request_id}
        given = request.headers.get("if-none-match", "")
        if etag in [t.strip().removeprefix("W/") for t in given.split(",")]:
            return Response(status_code=304, headers=headers)
        return HTMLResponse(body, headers=headers)

    def _error(self, status: int, message: str, request_id: str, as_of: Any,
               headers: dict[str, str] | None = None) -> Response:
        titles = {400: "Please check your request", 404: "Not found",
                  429: "Too many requests", 500: "Something went wrong",
                  503: "Temporarily unavailable"}
        html = self.render("error.html", status=status, title=titles.get(status, "Error"),
                           message=message, request_id=request_id, as_of=as_of, path="")
        return HTMLResponse(html, status_code=status, headers={
            **SECURITY_HEADERS, "Cache-Control": "no-store", "X-Request-ID": request_id,
            **(headers or {})})

    def _refused(self, err: PageError | RegistryError, request_id: str, as_of: Any
                 ) -> Response:
        return self._error(err.status, err.message, request_id, as_of, err.headers)

    # --- pages ---------------------------------------------------------------------------------

    async def search(self, request: Request, conn: asyncpg.Connection
                     ) -> tuple[str, dict[str, Any]]:
        params = request.query_params
        name = params.get("name", "")
        agency = params.get("agency", "").strip() or None
        status = _choice(request, "status", STATUS_LABELS)
        values: dict[str, Any] = {"name": name, "agency": agency or "", "status": status or "",
                                  "statuses": STATUS_LABELS, "results": None, "next_url": None,
                                  "first_url": None, "recent": [], "query_error": None,
                                  "spellings": False}
        if not name.strip() and not agency and not status:
            async def latest() -> list[dict[str, Any]]:
                rows = await repository.actions_page(
                    conn, state=self.settings.state, grounds=self._grounds(),
                    where=repository.ActionFilter(), limit=5, after=None)
                return [repository.action_row(r) for r in rows]

            values["recent"] = await self.database.cached(("latest actions",), latest)
            return "search.html", values
        try:
            query = parse_name(name)
        except InvalidInput as err:
            values["query_error"] = err.message
            values["status_code"] = 400
            return "search.html", values
        position = decode_search_cursor(params.get("after"))
        agencies = await agency_filter(self.settings, conn, agency)
        where = repository.SearchFilter(status=status, agency_ids=agencies)
        rows = await repository.search(conn, query, today=date.today(),
                                       state=self.settings.state, limit=SEARCH_PAGE + 1,
                                       where=where, after=position)
        values["spellings"] = False
        if not rows and position is None:
            rows = await repository.search_spellings(
                conn, fold(query.text), today=date.today(), state=self.settings.state,
                limit=SEARCH_PAGE, where=where)
            values["spellings"] = bool(rows)
        values["results"] = [self._result(r) for r in rows[:SEARCH_PAGE]]
        base = {k: v for k, v in (("name", name), ("agency", agency or ""),
                                  ("status", status or "")) if v}
        if len(rows) > SEARCH_PAGE:
            values["next_url"] = "/?" + urlencode({**base, "after": search_cursor(
                rows[SEARCH_PAGE - 1])})
        if params.get("after"):
            values["first_url"] = "/?" + urlencode(base)
        return "search.html", values

    def _result(self, r: Any) -> dict[str, Any]:
        """A search row as the results list shows it (worked out here, not in the template:
        the page renders 25 of them)."""
        served = None
        if self.settings.public_employment and r["agency_name"]:
            served = (f"Last served at {r['agency_name']} (until {r['ended_on'].year})"
                      if r["ended_on"] else
                      f"Serves at {r['agency_name']} (since {r['started_on'].year})")
        matched = r["matched"]
        if r["score"] == repository.SCALE:
            match = "Same name" if matched == "current" else f"Same as a {matched} name"
        else:
            match = "Similar name" + ("" if matched == "current" else f" ({matched} name)")
        return {
            "public_id": r["public_id"], "full_name": repository.full_name(r),
            "aka": ", ".join(f"{n['full_name']} ({n['kind']} name)"
                             for n in other_names_of(r)),
            "served": served, "badge": STATUS_BADGES.get(r["status"] or "", "neutral"),
            "status_label": STATUS_LABELS.get(r["status"] or "", "Not certified"),
            "match": match}

    async def officer(self, request: Request, conn: asyncpg.Connection
                      ) -> tuple[str, dict[str, Any]] | Response:
        wanted = check_public_id(request.path_params["public_id"])
        person, survivor = await repository.person_by_public_id(conn, wanted)
        if person is None and survivor is not None:
            # A record merged into another: its old address leads to the person.
            return RedirectResponse(f"/officers/{survivor}", status_code=301)
        if person is None:
            raise NotFound(f"No officer has the public id {wanted}. The record may have "
                           "been removed from public view, or the address mistyped.")
        record = await load_record(conn, person["id"], self.settings, self._grounds())
        name = _full_name(person)
        timeline = charts.officer_timeline(name, record, date.today())
        return "officer.html", {"person": person, "full_name": name, "record": record,
                                "timeline": timeline, "grounds": load_grounds(self.settings)}

    async def decertifications(self, request: Request, conn: asyncpg.Connection
                               ) -> tuple[str, dict[str, Any]]:
        where, values = await self._list_filter(request, conn)
        position = decode_cursor(request.query_params.get("after"), date.fromisoformat,
                                 action_key)
        rows = await repository.actions_page(conn, state=self.settings.state,
                                             grounds=self._grounds(), where=where,
                                             limit=LIST_PAGE + 1,
                                             after=position)  # type: ignore[arg-type]
        values["actions"] = [repository.action_row(r) for r in rows[:LIST_PAGE]]
        values["years"] = sorted({r["year"] for r in await cached_by_year(
            self.database, conn, self.settings, self._grounds(), None)}, reverse=True)
        values["next_url"] = None
        if len(rows) > LIST_PAGE:
            last = rows[LIST_PAGE - 1]
            values["next_url"] = "/decertifications?" + urlencode({
                **values["query"], "after": encode_cursor(last["effective_on"].isoformat(),
                                                          last["key"])})
        values["first_url"] = ("/decertifications?" + urlencode(values["query"])
                               if request.query_params.get("after") else None)
        values["csv_url"] = "/decertifications.csv" + (
            "?" + urlencode(values["query"]) if values["query"] else "")
        return "decertifications.html", values

    async def _list_filter(self, request: Request, conn: asyncpg.Connection
                           ) -> tuple[repository.ActionFilter, dict[str, Any]]:
        year = _year(request)
        outcome = _choice(request, "outcome", OUTCOME_LABELS)
        category = _choice(request, "ground", CATEGORY_LABELS)
        agency = request.query_params.get("agency", "").strip() or None
        where = repository.ActionFilter(
            year=year, outcome=outcome, category=category,
            agency_ids=await agency_filter(self.settings, conn, agency))
        query = {k: str(v) for k, v in (("year", year), ("outcome", outcome),
                                        ("ground", category), ("agency", agency)) if v}
        return where, {"year": year, "outcome": outcome or "", "ground": category or "",
                       "agency": agency or "", "query": query, "outcomes": OUTCOME_LABELS,
                       "categories": {c: CATEGORY_LABELS[c] for c in
                                      (*NDI_CATEGORIES, repository.NOT_RECORDED)}}

    async def statistics(self, request: Request, conn: asyncpg.Connection
                         ) -> tuple[str, dict[str, Any]]:
        outcome = _choice(request, "outcome", OUTCOME_LABELS)
        rows = await cached_by_year(self.database, conn, self.settings, self._grounds(),
                                    outcome)
        years = years_from(rows)
        what = OUTCOME_LABELS[outcome] + "s" if outcome else "Decertifications"
        chart = charts.year_chart(years, CATEGORY_LABELS, what)
        agencies: list[Any] = []
        if self.settings.public_employment:
            agencies = await cached_by_agency(self.database, conn, self.settings,
                                              self._grounds(), None, AGENCY_ROWS)
        categories = [c for c in charts.CATEGORY_COLORS
                      if any(g["category"] == c for y in years for g in y["by_ground"])]
        return "statistics.html", {
            "chart": chart, "years": years, "categories": categories, "agencies": agencies,
            "outcome": outcome or "", "outcomes": OUTCOME_LABELS, "what": what,
            "total": sum(y["total"] for y in years), "grounds": load_grounds(self.settings)}

    # --- the CSV download ------------------------------------------------------------------------

    async def csv(self, request: Request) -> Response:
        """Every action the filters select, streamed from a server-side cursor: memory stays
        flat however long the list."""
        request_id = _request_id(request)
        refusal = await self.limiter.check(request)
        if refusal is not None:
            return self._error(429, f"Too many requests; wait {refusal.retry_after} seconds.",
                               request_id, None, {"Retry-After": str(refusal.retry_after)})
        try:
            conn = await self.database.acquire()
        except Exception as err:
            if is_database_down(err):
                return self._refused(DatabaseUnavailable(), request_id, None)
            raise
        try:
            where, _ = await self._list_filter(request, conn)
        except (PageError, RegistryError) as err:
            await self.database.release(conn)
            return self._refused(err, request_id, None)
        except BaseException as err:
            await self.database.release(conn, broken=is_database_down(err))
            raise
        base = str(request.base_url).rstrip("/")
        filename = f"{self.settings.state.lower()}-decertifications-{date.today()}.csv"
        headers = {**SECURITY_HEADERS, "Cache-Control": self.cache_control,
                   "Content-Disposition": f'attachment; filename="{filename}"',
                   "X-Request-ID": request_id}
        if request.method == "HEAD":
            await self.database.release(conn)
            return Response(media_type="text/csv; charset=utf-8", headers=headers)
        return StreamingResponse(self._rows(conn, where, base),
                                 media_type="text/csv; charset=utf-8", headers=headers)

    async def _rows(self, conn: asyncpg.Connection, where: repository.ActionFilter, base: str
                    ) -> AsyncIterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        grounds = load_grounds(self.settings)
        broken = False
        try:
            async with conn.transaction(readonly=True):
                cursor = await repository.stream_actions(
                    conn, state=self.settings.state, grounds=self._grounds(), where=where)
                async for r in cursor:
                    a = repository.action_row(r)
                    tally = a["tally"] or {}
                    titles = [g.title for g in (grounds.get(c) for c in a["grounds"]) if g]
                    agency = a["agency"] if self.settings.public_employment else None
                    writer.writerow([
                        a["effective_on"].isoformat(), _full_name(a["officer"]),
                        a["officer"]["public_id"],
                        f"{base}/officers/{a['officer']['public_id']}", a["outcome"],
                        a["until_on"].isoformat() if a["outcome"] == "suspension"
                        and a["until_on"] else "",
                        ";".join(a["categories"]), ";".join(titles),
                        agency["name"] if agency else "", (agency or {}).get("ori") or "",
                        a["appeal"] or "",
                        a["appeal_decided_on"].isoformat() if a["appeal_decided_on"] else "",
                        a["reinstated_on"].isoformat() if a["reinstated_on"] else "",
                        *(tally.get(k, "") for k in ("yes", "no", "abstain", "recused")),
                        _csv_safe(a["public_text"] or "")])
                    if buffer.tell() > 32_768:
                        yield buffer.getvalue().encode()
                        buffer.seek(0)
                        buffer.truncate()
            yield buffer.getvalue().encode()
        except BaseException as err:
            broken = is_database_down(err)
            raise
        finally:
            await self.database.release(conn, broken=broken)

    def _grounds(self) -> dict[str, str]:
        return {g.code: g.category for g in load_grounds(self.settings).grounds}


def _csv_safe(text: str) -> str:
    """Text that a spreadsheet will not run as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _request_id(request: Request) -> str:
    given = request.headers.get("x-request-id", "")
    if 0 < len(given) <= 64 and given.isascii() and all(c.isalnum() or c in "._-"
                                                         for c in given):
        return given
    return uuid.uuid4().hex


async def load_record(conn: asyncpg.Connection, person_id: uuid.UUID, settings: Settings,
                      grounds: dict[str, str], today: date | None = None) -> dict[str, Any]:
    """One person's public record: what /officers/{publicId} shows."""
    today = today or date.today()
    ids = [person_id]
    certs = (await repository.certifications(conn, ids, today=today, state=settings.state)
             ).get(person_id, [])
    histories = await repository.status_histories(conn, [c["id"] for c in certs], today=today)
    for c in certs:
        c["history"] = histories.get(c["id"], [])
    employment = ((await repository.employment(conn, ids)).get(person_id, [])
                  if settings.public_employment else [])
    actions = (await repository.actions_of_people(conn, ids, state=settings.state,
                                                  grounds=grounds)).get(person_id, [])
    statuses = [c["status"] for c in certs]
    headline = next((s for s in repository.SEVERITY if s in statuses), None)
    return {
        "other_names": (await repository.other_names(conn, ids)).get(person_id, []),
        "certifications": certs, "employment": employment, "decertifications": actions,
        "findings": (await repository.findings(conn, ids)).get(person_id, []),
        "status": headline,
    }
