"""GraphQL root fields of this domain; thin over the service."""

import uuid
from datetime import date, datetime
from typing import Any

import graphene
from graphql import GraphQLResolveInfo

from registry.api import enums
from registry.api.context import actor, ctx
from registry.api.relay import connection, decode_cursor, page_size, uuid_arg
from registry.cases import service
from registry.cases.dataloaders import AllBoardMembers
from registry.cases.types import Appeal, BoardMember, Case, CaseConnection, FinalOrder, Hearing
from registry.cases.types import Vote as VoteType
from registry.certifications.types import Certification


class CaseQueries(graphene.ObjectType):
    case = graphene.Field(Case, id=graphene.ID(required=True),
                          description="A decertification case (POST staff, board members, "
                                      "administrators).")
    cases = graphene.Field(
        CaseConnection, required=True, first=graphene.Int(), after=graphene.String(),
        status=enums.CaseStatus(), officer_id=graphene.ID(description="Any record id of the "
                                                                      "person."),
        description="Cases in the order they were opened, a page at a time.")
    board_members = graphene.List(graphene.NonNull(BoardMember), required=True,
                                  description="Every member, past and present, by term start.")

    @staticmethod
    async def resolve_case(_root: Any, info: GraphQLResolveInfo, id: str) -> Any:
        async with ctx(info).read() as session:
            return await service.get_case(session=session, actor=actor(info),
                                          case_id=uuid_arg(id, "id"))

    @staticmethod
    async def resolve_cases(_root: Any, info: GraphQLResolveInfo, first: int | None = None,
                            after: str | None = None, status: Any = None,
                            officer_id: str | None = None) -> Any:
        c = ctx(info)
        limit = page_size(first, c.settings.max_page_size)
        position = decode_cursor(after, datetime.fromisoformat, uuid.UUID)
        async with c.read() as session:
            rows = await service.page(
                session=session, actor=actor(info), limit=limit + 1,
                after=position,  # type: ignore[arg-type]
                status=enums.value(status) if status else None,
                officer_id=uuid_arg(officer_id, "officerId") if officer_id else None)
        return connection(CaseConnection, rows, limit, lambda r: (r.opened_at.isoformat(), r.id))

    @staticmethod
    async def resolve_board_members(_root: Any, info: GraphQLResolveInfo) -> Any:
        service.require_reader(actor(info))
        return await ctx(info).loader(AllBoardMembers).load("all")


class OpenCase(graphene.Mutation):
    """Open a case from referrals (grounds and evidence copied) or on grounds listed."""

    class Arguments:
        officer_id = graphene.ID(required=True)
        referral_ids = graphene.List(graphene.NonNull(graphene.ID))
        grounds = graphene.List(graphene.NonNull(graphene.String),
                                description="Codes of statutory grounds (see `grounds`).")
        summary = graphene.String()

    Output = Case

    @staticmethod
    async def mutate(_root: Any, info: GraphQLResolveInfo, officer_id: str,
                     referral_ids: list[str] | None = None, grounds: list[str] | None = None,
                     summary: str | None = None) -> Any:
        c = ctx(info)
        async with c.write() as session:
            return await service.open_case(
                session=session, actor=actor(info), settings=c.settings,
                officer_id=uuid_arg(officer_id, "officerId"),
                referral_ids=[uuid_arg(r, "referralIds") for r in referral_ids or []],
                grounds=grounds or [], summary=summary)


class MoveCase(graphene.Mutation):
    """Review an open case, or close one (dismissed, or its appeal period ran out)."""

    class Arguments:
        id = graphene.ID(required=True)
        move = enums.CaseMove(required=True, description="review or close")
        reason = graphene.String(required=True)
        expected_version = graphene.Int()

    Output = Case

    @staticmethod
    async def mutate(_root: Any, info: GraphQLResolveInfo, id: str, move: Any, reason: str,
                     expected_version: int | None = None) -> Any:
        async with ctx(info).write() as session:
            return await service.move_case(
                session=session, actor=actor(info), case_id=uuid_arg(id, "id"),
                move=enums.value(move), reason=reason, expected_version=expected_version)


class ProposeOutcome(graphene.Mutation):
    """Set the motion the board will vote on (before the first vote)."""

    class Arguments:
        case_id = graphene.ID(required=True)
        outcome = enums.CaseOutcome(required=True)
        suspended_until = graphene.Date(description="A suspension's end date.")
        expected_version = graphene.Int()

    Output = Case

    @staticmethod
    async def mutate(_root: Any, info: GraphQLResolveInfo, case_id: str, outcome: Any,
                     suspended_until: date | None = None,
                     expected_version: int | None = None) -> Any:
        async with ctx(info).write() as session:
            return await service.propose_outcome(
                session=session, actor=actor(info), case_id=uuid_arg(case_id, "caseId"),
                outcome=enums.value(outcome), suspended_until=suspended_until,
                expected_version=expected_version)


class ScheduleHearing(graphene.Mutation):
    class Arguments:
        case_id = graphene.ID(required=True)
        scheduled_for = graphene.DateTime(required=True)
        notice_sent_on = graphene.Date(required=True,
                                       description="On or before the hearing's date.")
        location = graphene.String()

    Output = Hearing

    @staticmethod
    async def mutate(_root: Any, info: GraphQLResolveInfo, case_id: str,
                     scheduled_for: datetime, notice_sent_on: date,
                     location: str | None = None) -> Any:
        async with ctx(info).write() as session:
            return await service.schedule_hearing(
                session=session, actor=actor(info), case_id=uuid_arg(case_id, "caseId"),
                scheduled_for=scheduled_for, notice_sent_on=notice_sent_on, location=location)


class AddBoardMember(graphene.Mutation):
    class Arguments:
        name = graphene.String(required=True)
        seat = enums.BoardSeat(required=True)
        term_start = graphene.Date(required=True)
        term_end = graphene.Date(description="The last day of the term, when known.")
        api_key_id = graphene.ID(description="The board_member key this member votes with.")

    Output = BoardMember

    @staticmethod
    async def mutate(_root: Any, info: GraphQLResolveInfo, name: str, seat: Any,
                     term_start: date, term_end: date | None = None,
                     api_key_id: str | None = None) -> Any:
        async with ctx(info).write() as session:
            return await service.add_board_member(
                session=session, actor=actor(info), name=name, seat=enums.value(seat),
                term_start=term_start, term_end=term_end,
                api_key_id=uuid_arg(api_key_id, "apiKeyId") if api_key_id else None)


class EndBoardMemberTerm(graphene.Mutation):
    class Arguments:
        member_id = graphene.ID(required=True)
        term_end = graphene.Date(required=True, description="The term's last day.")
        reason = graphene.String(required=True)
        expected_version = graphene.Int()

    Output = BoardMember

    @staticmethod
    async def mutate(_root: Any, info: GraphQLResolveInfo, member_id: str, term_end: date,
                     reason: str, expected_version: int | None = None) -> Any:
        async with ctx(info).write() as session:
            return await service.end_board_member_term(
                session=session, actor=actor(info), member_id=uuid_arg(member_id, "memberId"),
                term_end=term_end, reason=reason, expected_version=expected_version)


class CastVote(graphene.Mutation):
    """A board member's vote on a case's motion, as the member linked to the key."""

    class Arguments:
        case_id = graphene.ID(required=True)
        vote = enums.VoteChoice(required=True)
        cast_on = graphene.Date(required=True)

    Output = VoteType

    @staticmethod
    async def mutate(_root: Any, info: GraphQLResolveInfo, case_id: str, vote: Any,
                     cast_on: date) -> Any:
        async with ctx(info).write() as session:
            return await service.cast_vote(
                session=session, actor=actor(info), case_id=uuid_arg(case_id, "caseId"),
                vote=enums.value(vote), cast_on=cast_on)


class IssueFinalOrder(graphene.Mutation):
    """The board's order after a valid vote; changes the officer's certifications."""

    class Arguments:
        case_id = graphene.ID(required=True)
        effective_on = graphene.Date(required=True)
        public_text = graphene.String(required=True)
        outcome = enums.CaseOutcome(description="Defaults to the motion when it passed, or "
                                                "no_action when it failed with a quorum.")

    Output = FinalOrder

    @staticmethod
    async def mutate(_root: Any, info: GraphQLResolveInfo, case_id: str, effective_on: date,
                     public_text: str, outcome: Any = None) -> Any:
        c = ctx(info)
        async with c.write() as session:
            return await service.issue_final_order(
                session=session, actor=actor(info), settings=c.settings,
                case_id=uuid_arg(case_id, "caseId"), effective_on=effective_on,
                public_text=public_text, outcome=enums.value(outcome) if outcome else None)


class FileAppeal(graphene.Mutation):
    class Arguments:
        case_id = graphene.ID(required=True)
        filed_on = graphene.Date(required=True)
        court = graphene.String()

    Output = Appeal

    @staticmethod
    async def mutate(_root: Any, info: GraphQLResolveInfo, case_id: str, filed_on: date,
                     court: str | None = None) -> Any:
        async with ctx(info).write() as session:
            return await service.file_appeal(
                session=session, actor=actor(info), case_id=uuid_arg(case_id, "caseId"),
                filed_on=filed_on, court=court)


class DecideAppeal(graphene.Mutation):
    """Upheld closes the case; overturned restores each certification's prior status."""

    class Arguments:
        id = graphene.ID(required=True, description="The appeal.")
        decision = enums.AppealStatus(required=True, description="upheld or overturned")
        decided_on = graphene.Date(required=True)
        note = graphene.String()
        expected_version = graphene.Int()

    Output = Appeal

    @staticmethod
    async def mutate(_root: Any, info: GraphQLResolveInfo, id: str, decision: Any,
                     decided_on: date, note: str | None = None,
                     expected_version: int | None = None) -> Any:
        c = ctx(info)
        async with c.write() as session:
            return await service.decide_appeal(
                session=session, actor=actor(info), settings=c.settings,
                appeal_id=uuid_arg(id, "id"), decision=enums.value(decision),
                decided_on=decided_on, note=note, expected_version=expected_version)


class ReinstateCertification(graphene.Mutation):
    """Reinstate a revoked, surrendered or denied certification by the board's order."""

    class Arguments:
        certification_id = graphene.ID(required=True)
        effective_on = graphene.Date(required=True)
        reason = graphene.String(required=True)
        expected_version = graphene.Int()

    Output = Certification

    @staticmethod
    async def mutate(_root: Any, info: GraphQLResolveInfo, certification_id: str,
                     effective_on: date, reason: str,
                     expected_version: int | None = None) -> Any:
        async with ctx(info).write() as session:
            return await service.reinstate(
                session=session, actor=actor(info),
                certification_id=uuid_arg(certification_id, "certificationId"),
                effective_on=effective_on, reason=reason, expected_version=expected_version)


class CaseMutations(graphene.ObjectType):
    open_case = OpenCase.Field()
    move_case = MoveCase.Field()
    propose_outcome = ProposeOutcome.Field()
    schedule_hearing = ScheduleHearing.Field()
    add_board_member = AddBoardMember.Field()
    end_board_member_term = EndBoardMemberTerm.Field()
    cast_vote = CastVote.Field()
    issue_final_order = IssueFinalOrder.Field()
    file_appeal = FileAppeal.Field()
    decide_appeal = DecideAppeal.Field()
    reinstate_certification = ReinstateCertification.Field()
