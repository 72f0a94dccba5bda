"""The public transparency schema (``/public/graphql``, no key).

Resolvers parse the arguments, run one statement of registry/transparency/repository.py on
the request's asyncpg connection and return plain dicts; nested fields batch through the
loaders of registry/transparency/types.py.
"""

import json
import re
import uuid
from datetime import date
from typing import Any

import graphene
from graphql import GraphQLResolveInfo

from registry.api.context import fields_asked
from registry.api.relay import decode_cursor, encode_cursor, page_size
from registry.api.validation import BAD_TEXT, BAD_TEXT_MESSAGE
from registry.errors import InvalidInput, NotFound
from registry.names import fold
from registry.referrals.grounds import load_grounds
from registry.settings import Settings
from registry.states import check_state
from registry.transparency import repository
from registry.transparency.context import PublicContext
from registry.transparency.search import check_public_id, parse_name
from registry.transparency.types import (
    AgencyCount,
    CertificationStatus,
    DecertificationConnection,
    DecertificationOutcome,
    DecertificationYear,
    GroundCategory,
    OfficerSearchConnection,
    PublicAgencyConnection,
    PublicOfficer,
    PublicOfficerConnection,
    RegistryInfo,
)

MAX_PAGE = 100
MAX_AGENCY_ROWS = 1000
FIRST_YEAR = 1900


def _ctx(info: GraphQLResolveInfo) -> PublicContext:
    return info.context


def _page(first: int | None, c: PublicContext) -> int:
    return page_size(first, min(c.settings.max_page_size, MAX_PAGE))


def _value(enum_value: Any) -> str | None:
    """A graphene enum argument as its domain string."""
    if enum_value is None:
        return None
    return str(getattr(enum_value, "value", enum_value))


def _page_info(edges: list[dict[str, Any]], has_next: bool) -> dict[str, Any]:
    return {"has_next_page": has_next, "has_previous_page": False,
            "start_cursor": edges[0]["cursor"] if edges else None,
            "end_cursor": edges[-1]["cursor"] if edges else None}


def _year(value: int | None, field: str = "year") -> int | None:
    if value is not None and not FIRST_YEAR <= value <= date.today().year + 1:
        raise InvalidInput(f"'{field}' must be a year between {FIRST_YEAR} and "
                           f"{date.today().year + 1}.", field=field)
    return value


async def agency_filter(settings: Settings, conn: Any, agency: str | None
                        ) -> tuple[uuid.UUID, ...] | None:
    """The agencies an ``agency`` argument names (ORI, words of the name, or an alias)."""
    if agency is None:
        return None
    if not settings.public_employment:
        raise InvalidInput(f"{settings.state} does not make officers' employment public, "
                           "so results cannot be filtered by agency.", field="agency")
    if BAD_TEXT.search(agency):
        raise InvalidInput(BAD_TEXT_MESSAGE, field="agency")
    text = " ".join(agency.split())
    key = fold(text)
    if not key or len(text) > 200:
        raise InvalidInput("Enter 1 to 200 characters of an agency's name or its ORI.",
                           field="agency")
    ids = await repository.agency_ids(conn, text, key)
    if len(ids) > repository.MAX_AGENCY_MATCHES:
        raise InvalidInput(f"'{text}' names more than {repository.MAX_AGENCY_MATCHES} "
                           "agencies; enter more of the agency's name.", field="agency")
    return tuple(ids)


def node_fields(info: GraphQLResolveInfo) -> set[str]:
    """The fields asked for on ``edges { node { ... } }`` of this connection field."""
    return fields_asked(info, "edges", "node")


def search_extras(info: GraphQLResolveInfo) -> frozenset[str]:
    """What the search statement must carry for the fields asked for: the headline status,
    the other names (the latest agency is the pages' only). Left out, a field still
    resolves (through its loader)."""
    asked = node_fields(info)
    return frozenset({"status"} & asked | ({"other_names"} if "otherNames" in asked
                                             else set()))


def search_cursor(row: Any) -> str:
    return encode_cursor(row["score"], row["last_key"], row["first_key"], row["middle_key"],
                         row["public_id"])


def cursor_text(value: str) -> str:
    """A text part of a cursor: what the registry issued is short and holds no NUL."""
    if len(value) > 400 or BAD_TEXT.search(value):
        raise ValueError(value[:20])
    return value


def action_key(value: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{12}", value):
        raise ValueError(value[:20])
    return value


def decode_search_cursor(after: str | None) -> tuple[int, str, str, str, str] | None:
    decoded = decode_cursor(after, int, cursor_text, cursor_text, cursor_text, cursor_text)
    if decoded is None:
        return None
    score, last, first, middle, public_id = decoded
    if not 0 <= score <= repository.SCALE:
        raise InvalidInput("The 'after' cursor is not one this API issued; use "
                           "pageInfo.endCursor from the previous page.", field="after")
    return score, last, first, middle, check_public_id(public_id, "after")


def _search_edge(row: Any, extras: frozenset[str] = repository.RESULT_EXTRAS
                 ) -> dict[str, Any]:
    return {"node": search_node(row, extras), "row": row,
            "score": row["score"] / repository.SCALE, "matched_name": row["matched"]}


def search_node(row: Any, extras: frozenset[str] = repository.RESULT_EXTRAS
                ) -> dict[str, Any]:
    """A search row as an Officer: its headline status and public other names come with it
    when the statement carried them (no second query for a page of results)."""
    node = {k: row[k] for k in ("id", "public_id", "first_name", "middle_name", "last_name",
                                "suffix")}
    node["full_name"] = repository.full_name(node)
    if "status" in extras:
        node["status"] = row["status"]
    if "other_names" in extras:
        node["other_names"] = other_names_of(row)
    return node


def other_names_of(row: Any) -> list[dict[str, Any]]:
    names = row["other_names"]
    names = json.loads(names) if isinstance(names, str) else names or []
    return [repository.named(n) for n in names]


class PublicQuery(graphene.ObjectType):
    class Meta:
        name = "Query"

    registry = graphene.Field(RegistryInfo, required=True,
                              description="Whose registry this is and how current it is.")
    search_officers = graphene.Field(
        OfficerSearchConnection, required=True,
        name=graphene.String(required=True, description="A name as you know it: first and "
                                                        "last name, or a surname alone."),
        agency=graphene.String(description="Served at this agency: its ORI or words of its "
                                           "name."),
        status=graphene.Argument(CertificationStatus,
                                 description="Only officers whose status is this."),
        first=graphene.Int(description="Page size, 1 to 100 (default 25)."),
        after=graphene.String(),
        description="Officers whose current, maiden or prior name sounds like or is spelt "
                    "like the name given (nicknames, initials, accents and hyphenated "
                    "surnames included), best matches first.")
    officer = graphene.Field(PublicOfficer, required=True, public_id=graphene.ID(required=True),
                             description="The public record of one officer. The public id "
                                         "of a record since merged into another person's "
                                         "gives that person's record.")
    officers = graphene.Field(
        PublicOfficerConnection, required=True, first=graphene.Int(), after=graphene.String(),
        name=graphene.String(description="Words of the officer's name."),
        description="Every officer in roster order (surname, first name).")
    agencies = graphene.Field(
        PublicAgencyConnection, required=True, first=graphene.Int(), after=graphene.String(),
        state=graphene.String(), name=graphene.String())
    decertifications = graphene.Field(
        DecertificationConnection, required=True, first=graphene.Int(), after=graphene.String(),
        year=graphene.Int(description="Took effect in this year."),
        outcome=graphene.Argument(DecertificationOutcome),
        ground_category=graphene.Argument(GroundCategory),
        agency=graphene.String(description="The officer served at this agency when the order "
                                           "took effect: its ORI or words of its name."),
        description="Every board action of this state, latest first.")
    decertifications_by_year = graphene.List(
        graphene.NonNull(DecertificationYear), required=True,
        outcome=graphene.Argument(DecertificationOutcome),
        description="Board actions in force per year, by ground category.")
    decertifications_by_agency = graphene.List(
        graphene.NonNull(AgencyCount), required=True, year=graphene.Int(),
        first=graphene.Int(description="How many agencies, 1 to 1000 (default 25)."),
        description="Board actions in force per agency where the officer served when the "
                    "order took effect, most first (empty where employment is not public).")

    @staticmethod
    async def resolve_registry(_root: Any, info: GraphQLResolveInfo) -> Any:
        c = _ctx(info)
        async with c.db() as conn:
            as_of = await c.database.as_of(conn) if c.database else None
        return {"state": c.settings.state, "board_name": c.settings.board_name,
                "data_as_of": as_of, "employment_public": c.settings.public_employment,
                "grounds": list(load_grounds(c.settings).grounds)}

    @staticmethod
    async def resolve_search_officers(_root: Any, info: GraphQLResolveInfo, name: str,
                                      agency: str | None = None, status: Any = None,
                                      first: int | None = None, after: str | None = None
                                      ) -> Any:
        c = _ctx(info)
        query = parse_name(name)
        limit = _page(first, c)
        position = decode_search_cursor(after)
        async with c.db() as conn:
            agencies = await agency_filter(c.settings, conn, agency)
            where = repository.SearchFilter(status=_value(status), agency_ids=agencies)
            extras = search_extras(info)
            rows = await repository.search(conn, query, today=c.today, state=c.settings.state,
                                           limit=limit + 1, where=where, after=position,
                                           extras=extras)
            if not rows and position is None:
                # Nothing sounds like it: names spelt like it, one page (no cursors).
                rows = await repository.search_spellings(
                    conn, fold(query.text), today=c.today, state=c.settings.state,
                    limit=limit, where=where)
                return {"edges": [_search_edge(r) for r in rows], "page_info": {
                    "has_next_page": False, "has_previous_page": False,
                    "start_cursor": None, "end_cursor": None}}
        page = rows[:limit]
        # Cursors are computed when asked for (OfficerSearchEdge.resolve_cursor): most
        # clients read pageInfo.endCursor only.
        edges = [_search_edge(r, extras) for r in page]
        return {"edges": edges, "page_info": {
            "has_next_page": len(rows) > limit, "has_previous_page": False,
            "start_cursor": search_cursor(page[0]) if page else None,
            "end_cursor": search_cursor(page[-1]) if page else None}}

    @staticmethod
    async def resolve_officer(_root: Any, info: GraphQLResolveInfo, public_id: str) -> Any:
        c = _ctx(info)
        wanted = check_public_id(public_id)
        async with c.db() as conn:
            person, survivor = await repository.person_by_public_id(conn, wanted)
            if person is None and survivor is not None:
                person, _ = await repository.person_by_public_id(conn, survivor)
        if person is None:
            raise NotFound(f"No officer has the public id {wanted}.", field="publicId")
        return repository.named(person)

    @staticmethod
    async def resolve_officers(_root: Any, info: GraphQLResolveInfo, first: int | None = None,
                               after: str | None = None, name: str | None = None) -> Any:
        c = _ctx(info)
        limit = _page(first, c)
        position = decode_cursor(after, cursor_text, str)
        if position is not None:
            position = (position[0], check_public_id(position[1], "after"))
        if name is not None and len(name) > 200:
            raise InvalidInput("'name' is longer than 200 characters.", field="name")
        async with c.db() as conn:
            rows = await repository.roster(conn, name_key=fold(name) or None, limit=limit + 1,
                                           after=position)  # type: ignore[arg-type]
        edges = [{"node": repository.named(r),
                  "cursor": encode_cursor(r["sort_key"], r["public_id"])}
                 for r in rows[:limit]]
        return {"edges": edges, "page_info": _page_info(edges, len(rows) > limit)}

    @staticmethod
    async def resolve_agencies(_root: Any, info: GraphQLResolveInfo, first: int | None = None,
                               after: str | None = None, state: str | None = None,
                               name: str | None = None) -> Any:
        c = _ctx(info)
        limit = _page(first, c)
        position = decode_cursor(after, cursor_text, cursor_text)
        if name is not None and len(name) > 200:
            raise InvalidInput("'name' is longer than 200 characters.", field="name")
        async with c.db() as conn:
            rows = await repository.agencies_page(
                conn, state=check_state(state) if state else None, name_key=fold(name) or None,
                limit=limit + 1, after=position)  # type: ignore[arg-type]
        edges = [{"node": dict(r), "cursor": encode_cursor(r["state"], r["name_key"])}
                 for r in rows[:limit]]
        return {"edges": edges, "page_info": _page_info(edges, len(rows) > limit)}

    @staticmethod
    async def resolve_decertifications(
        _root: Any, info: GraphQLResolveInfo, first: int | None = None, after: str | None = None,
        year: int | None = None, outcome: Any = None, ground_category: Any = None,
        agency: str | None = None,
    ) -> Any:
        c = _ctx(info)
        limit = _page(first, c)
        position = decode_cursor(after, date.fromisoformat, action_key)
        async with c.db() as conn:
            where = repository.ActionFilter(
                year=_year(year), outcome=_value(outcome), category=_value(ground_category),
                agency_ids=await agency_filter(c.settings, conn, agency))
            rows = await repository.actions_page(conn, state=c.settings.state,
                                                 grounds=c.grounds(), where=where,
                                                 limit=limit + 1,
                                                 after=position)  # type: ignore[arg-type]
        edges = [{"node": repository.action_row(r),
                  "cursor": encode_cursor(r["effective_on"].isoformat(), r["key"])}
                 for r in rows[:limit]]
        return {"edges": edges, "page_info": _page_info(edges, len(rows) > limit)}

    @staticmethod
    async def resolve_decertifications_by_year(_root: Any, info: GraphQLResolveInfo,
                                               outcome: Any = None) -> Any:
        c = _ctx(info)
        async with c.db() as conn:
            rows = await cached_by_year(c.database, conn, c.settings, c.grounds(),
                                        _value(outcome))
        return years_from(rows)

    @staticmethod
    async def resolve_decertifications_by_agency(_root: Any, info: GraphQLResolveInfo,
                                                 year: int | None = None,
                                                 first: int | None = None) -> Any:
        c = _ctx(info)
        limit = page_size(first, MAX_AGENCY_ROWS)
        if not c.settings.public_employment:
            return []
        year = _year(year)
        async with c.db() as conn:
            rows = await cached_by_agency(c.database, conn, c.settings, c.grounds(), year,
                                          limit)
        return [agency_count(r) for r in rows]


async def cached_by_year(database: Any, conn: Any, settings: Settings,
                         grounds: dict[str, str], outcome: str | None) -> list[Any]:
    async def make() -> list[Any]:
        return list(await repository.by_year(conn, state=settings.state, grounds=grounds,
                                             outcome=outcome))

    if database is None:
        return await make()
    return await database.cached(("by_year", outcome, tuple(grounds.items())), make)


async def cached_by_agency(database: Any, conn: Any, settings: Settings,
                           grounds: dict[str, str], year: int | None, limit: int) -> list[Any]:
    async def make() -> list[Any]:
        return list(await repository.by_agency(conn, state=settings.state, grounds=grounds,
                                               year=year, limit=limit))

    if database is None:
        return await make()
    return await database.cached(("by_agency", year, limit, tuple(grounds.items())), make)


def years_from(rows: list[Any]) -> list[dict[str, Any]]:
    """The by-year rows (totals and per-category counts) as DecertificationYear values."""
    years: dict[int, dict[str, Any]] = {}
    for r in rows:
        year = years.setdefault(r["year"], {"year": r["year"], "total": 0, "by_ground": []})
        if r["category"] is None:
            year["total"] = r["n"]
        else:
            year["by_ground"].append({"category": r["category"], "count": r["n"]})
    return [years[y] for y in sorted(years)]


def agency_count(r: Any) -> dict[str, Any]:
    agency = ({"state": r["agency_state"], "ori": r["agency_ori"], "name": r["agency_name"],
               "agency_type": r["agency_type"]} if r["agency_name"] else None)
    return {"agency": agency, "count": r["n"]}


public_schema = graphene.Schema(query=PublicQuery)
