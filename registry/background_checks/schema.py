"""GraphQL root fields of background checks; thin over the service."""

import uuid
from datetime import datetime
from typing import Any

import graphene
from graphql import GraphQLResolveInfo

from registry.api import enums
from registry.api.context import actor, ctx, fields_asked
from registry.api.relay import connection, decode_cursor, page_size, uuid_arg
from registry.background_checks import service
from registry.background_checks.candidate import parse_candidate
from registry.background_checks.dataloaders import ReportedPerson
from registry.background_checks.types import (
    BackgroundCheckConnection,
    BackgroundCheckResult,
    CandidateInput,
    CheckPurpose,
)


class BackgroundCheckQueries(graphene.ObjectType):
    background_check = graphene.Field(
        BackgroundCheckResult, required=True,
        candidate=graphene.Argument(CandidateInput, required=True),
        purpose=graphene.Argument(CheckPurpose, required=True),
        description="Everything the registry knows about a candidate, best match first "
                    "(agency and POST staff keys; every check is logged with its purpose).")
    background_checks = graphene.Field(
        BackgroundCheckConnection, required=True, agency_id=graphene.ID(),
        officer_id=graphene.ID(), first=graphene.Int(), after=graphene.String(),
        description="Checks run, newest first: by an agency and/or returning an officer. "
                    "POST staff see all; an agency key its own agency's.")

    @staticmethod
    async def resolve_background_check(_root: Any, info: GraphQLResolveInfo,
                                       candidate: dict[str, Any], purpose: Any) -> Any:
        c = ctx(info)
        parsed = parse_candidate(
            first_name=candidate.get("first_name"), last_name=candidate.get("last_name"),
            middle_name=candidate.get("middle_name"), suffix=candidate.get("suffix"),
            prior_names=candidate.get("prior_names"),
            date_of_birth=candidate.get("date_of_birth"),
            certificate_numbers=[dict(n) for n in candidate.get("certificate_numbers") or []])
        # A check is a write (the trail it leaves), so it runs in a transaction of its own.
        async with c.write() as session:
            async def read_report(matches: list[Any]) -> None:
                if matches and "officer" in fields_asked(info, "matches"):
                    await c.loader(ReportedPerson).prefetch(
                        session, [m.officer_id for m in matches])

            result = await service.run_check(session=session, actor=actor(info),
                                             settings=c.settings, candidate=parsed,
                                             purpose=enums.value(purpose),
                                             read_report=read_report)
        return BackgroundCheckResult(
            check_id=result.check_id, purpose=result.purpose.value, run_at=result.run_at,
            threshold=c.settings.match_threshold,
            matches=[{"rank": i, "score": m.score, "match": m}
                     for i, m in enumerate(result.matches, start=1)])

    @staticmethod
    async def resolve_background_checks(_root: Any, info: GraphQLResolveInfo,
                                        agency_id: str | None = None,
                                        officer_id: str | None = None,
                                        first: int | None = None,
                                        after: str | None = None) -> Any:
        c = ctx(info)
        limit = page_size(first, c.settings.max_page_size)
        position = decode_cursor(after, datetime.fromisoformat, uuid.UUID)
        async with c.read() as session:
            rows = await service.list_checks(
                session=session, actor=actor(info),
                agency_id=uuid_arg(agency_id, "agencyId") if agency_id else None,
                officer_id=uuid_arg(officer_id, "officerId") if officer_id else None,
                limit=limit + 1, after=position)  # type: ignore[arg-type]
        return connection(BackgroundCheckConnection, rows, limit,
                          lambda r: (r.run_at.isoformat(), r.id))
