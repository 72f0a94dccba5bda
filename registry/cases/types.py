from typing import Any

import graphene
from graphql import GraphQLResolveInfo

from registry.api import enums
from registry.api.context import ctx
from registry.api.loaders import loaded
from registry.cases.dataloaders import (
    ActionsByCase,
    AllBoardMembers,
    AppealsByCase,
    BoardMemberById,
    CaseById,
    FinalOrdersByCase,
    HearingsByCase,
    StatusEventsByCase,
    VotesByCase,
)
from registry.cases.models import BoardMember as BoardMemberRow
from registry.cases.models import Case as CaseRow
from registry.cases.models import CaseStatus as Status
from registry.cases.service import result_of
from registry.cases.status import allowed_moves
from registry.certifications.dataloaders import CertificationById
from registry.officers.dataloaders import PersonById


class BoardMember(graphene.ObjectType):
    id = graphene.ID(required=True)
    name = graphene.String(required=True)
    seat = graphene.Field(enums.BoardSeat, required=True)
    term_start = graphene.Date(required=True)
    term_end = graphene.Date(description="The last day of the term; null while open-ended.")
    has_api_key = graphene.Boolean(required=True,
                                   description="Whether a board_member key votes as this "
                                               "member.")
    version = graphene.Int(required=True)
    recorded_at = graphene.DateTime(required=True)
    recorded_by = graphene.String(required=True)
    change_reason = graphene.String()

    @staticmethod
    def resolve_has_api_key(root: BoardMemberRow, _info: GraphQLResolveInfo) -> bool:
        return root.api_key_id is not None


class CaseStatusEvent(graphene.ObjectType):
    from_status = graphene.Field(enums.CaseStatus)
    to_status = graphene.Field(enums.CaseStatus, required=True)
    reason = graphene.String()
    recorded_at = graphene.DateTime(required=True)
    recorded_by = graphene.String(required=True)


class CaseEvidence(graphene.ObjectType):
    """A report the case rests on (from its referrals)."""

    kind = graphene.String(required=True, description="finding, stint or conviction")
    id = graphene.ID(required=True)

    @staticmethod
    def resolve_kind(root: dict, _info: GraphQLResolveInfo) -> Any:
        return root["kind"]

    @staticmethod
    def resolve_id(root: dict, _info: GraphQLResolveInfo) -> Any:
        return root["id"]


class Hearing(graphene.ObjectType):
    id = graphene.ID(required=True)
    case = graphene.Field(lambda: Case, required=True)
    scheduled_for = graphene.DateTime(required=True)
    notice_sent_on = graphene.Date(required=True, description="When the officer was notified.")
    location = graphene.String()
    recorded_at = graphene.DateTime(required=True)
    recorded_by = graphene.String(required=True)

    @staticmethod
    async def resolve_case(root: Any, info: GraphQLResolveInfo) -> Any:
        return await ctx(info).loader(CaseById).load(root.case_id)


class Vote(graphene.ObjectType):
    id = graphene.ID(required=True)
    case = graphene.Field(lambda: Case, required=True)
    member = graphene.Field(BoardMember, required=True)
    vote = graphene.Field(enums.VoteChoice, required=True)
    cast_on = graphene.Date(required=True)
    recorded_at = graphene.DateTime(required=True)

    @staticmethod
    async def resolve_case(root: Any, info: GraphQLResolveInfo) -> Any:
        return await ctx(info).loader(CaseById).load(root.case_id)

    @staticmethod
    async def resolve_member(root: Any, info: GraphQLResolveInfo) -> Any:
        return await ctx(info).loader(BoardMemberById).load(root.member_id)


class VoteTally(graphene.ObjectType):
    yes = graphene.Int(required=True)
    no = graphene.Int(required=True)
    abstain = graphene.Int(required=True)
    recused = graphene.Int(required=True)


class VoteResult(graphene.ObjectType):
    """The vote on the case's motion as the registry counts it (quorum and majority rules are
    configuration: REGISTRY_BOARD_*)."""

    motion = graphene.Field(enums.CaseOutcome)
    vote_date = graphene.Date(description="The day of the latest vote; seats count then.")
    tally = graphene.Field(VoteTally, required=True)
    seated = graphene.Int(required=True, description="Members whose term covers the vote date.")
    present = graphene.Int(required=True, description="Voted yes, no or abstain.")
    quorum_needed = graphene.Int(required=True)
    quorum_met = graphene.Boolean(required=True,
                                  description="Enough present, with the civilians required.")
    civilians_present = graphene.Int(required=True)
    civilian_present = graphene.Boolean(required=True)
    majority_basis = graphene.String(required=True, description="present or votes_cast")
    yes_needed = graphene.Int(required=True)
    passed = graphene.Boolean(required=True)
    reason = graphene.String(required=True)

    @staticmethod
    def resolve_tally(root: Any, _info: GraphQLResolveInfo) -> Any:
        return VoteTally(**root.tally)

    @staticmethod
    def resolve_majority_basis(root: Any, _info: GraphQLResolveInfo) -> Any:
        return root.basis


class DecertificationAction(graphene.ObjectType):
    """An entry for the NDI: a final order, an appeal outcome or a reinstatement."""

    id = graphene.ID(required=True)
    kind = graphene.Field(enums.DecertificationActionKind, required=True)
    outcome = graphene.Field(enums.CaseOutcome)
    effective_on = graphene.Date(required=True)
    until_on = graphene.Date(description="End of a suspension.")
    grounds = graphene.List(graphene.NonNull(graphene.String), required=True)
    officer = graphene.Field("registry.officers.types.Officer", required=True)
    case_number = graphene.String()
    certification = graphene.Field("registry.certifications.types.Certification")
    recorded_at = graphene.DateTime(required=True)

    @staticmethod
    async def resolve_officer(root: Any, info: GraphQLResolveInfo) -> Any:
        return await ctx(info).loader(PersonById).load(root.officer_id)

    @staticmethod
    def resolve_case_number(root: Any, info: GraphQLResolveInfo) -> Any:
        if root.case_id is None:
            return None
        return loaded(ctx(info).loader(CaseById), root.case_id,
                      lambda case: case.number if case else None)

    @staticmethod
    async def resolve_certification(root: Any, info: GraphQLResolveInfo) -> Any:
        if root.certification_id is None:
            return None
        return await ctx(info).loader(CertificationById).load(root.certification_id)


class FinalOrder(graphene.ObjectType):
    id = graphene.ID(required=True)
    case = graphene.Field(lambda: Case, required=True)
    outcome = graphene.Field(enums.CaseOutcome, required=True)
    effective_on = graphene.Date(required=True)
    suspended_until = graphene.Date()
    public_text = graphene.String(required=True)
    tally = graphene.JSONString(required=True, description="The vote as counted when the "
                                                           "order was entered.")
    actions = graphene.List(graphene.NonNull(DecertificationAction), required=True)
    recorded_at = graphene.DateTime(required=True)
    recorded_by = graphene.String(required=True)

    @staticmethod
    async def resolve_case(root: Any, info: GraphQLResolveInfo) -> Any:
        return await ctx(info).loader(CaseById).load(root.case_id)

    @staticmethod
    async def resolve_actions(root: Any, info: GraphQLResolveInfo) -> Any:
        actions = await ctx(info).loader(ActionsByCase).load(root.case_id)
        return [a for a in actions if a.kind == "final_order"]


class Appeal(graphene.ObjectType):
    id = graphene.ID(required=True)
    case = graphene.Field(lambda: Case, required=True)
    filed_on = graphene.Date(required=True)
    court = graphene.String()
    status = graphene.Field(enums.AppealStatus, required=True)
    decided_on = graphene.Date()
    decision_note = graphene.String()
    version = graphene.Int(required=True)
    recorded_at = graphene.DateTime(required=True)

    @staticmethod
    async def resolve_case(root: Any, info: GraphQLResolveInfo) -> Any:
        return await ctx(info).loader(CaseById).load(root.case_id)


class Case(graphene.ObjectType):
    """A decertification case before the board."""

    id = graphene.ID(required=True)
    number = graphene.String(required=True, description='e.g. "2026-0001"')
    officer = graphene.Field("registry.officers.types.Officer", required=True)
    status = graphene.Field(enums.CaseStatus, required=True)
    allowed_moves = graphene.List(graphene.NonNull(enums.CaseMove), required=True)
    grounds = graphene.List(graphene.NonNull(graphene.String), required=True,
                            description="Codes of the statutory grounds.")
    evidence = graphene.List(graphene.NonNull(CaseEvidence), required=True)
    summary = graphene.String()
    proposed_outcome = graphene.Field(enums.CaseOutcome, description="The motion voted on.")
    proposed_until = graphene.Date(description="End of a proposed suspension.")
    opened_at = graphene.DateTime(required=True)
    opened_by = graphene.String(required=True)
    history = graphene.List(graphene.NonNull(CaseStatusEvent), required=True)
    hearings = graphene.List(graphene.NonNull(Hearing), required=True)
    votes = graphene.List(graphene.NonNull(Vote), required=True)
    vote_result = graphene.Field(VoteResult, required=True)
    final_order = graphene.Field(FinalOrder)
    appeals = graphene.List(graphene.NonNull(Appeal), required=True)
    actions = graphene.List(graphene.NonNull(DecertificationAction), required=True,
                            description="What this case sent to the NDI export.")
    version = graphene.Int(required=True)
    recorded_at = graphene.DateTime(required=True)
    recorded_by = graphene.String(required=True)
    change_reason = graphene.String()

    @staticmethod
    async def resolve_officer(root: CaseRow, info: GraphQLResolveInfo) -> Any:
        return await ctx(info).loader(PersonById).load(root.officer_id)

    @staticmethod
    def resolve_allowed_moves(root: CaseRow, _info: GraphQLResolveInfo) -> Any:
        return allowed_moves(Status(root.status))

    @staticmethod
    async def resolve_history(root: CaseRow, info: GraphQLResolveInfo) -> Any:
        return await ctx(info).loader(StatusEventsByCase).load(root.id)

    @staticmethod
    async def resolve_hearings(root: CaseRow, info: GraphQLResolveInfo) -> Any:
        return await ctx(info).loader(HearingsByCase).load(root.id)

    @staticmethod
    async def resolve_votes(root: CaseRow, info: GraphQLResolveInfo) -> Any:
        return await ctx(info).loader(VotesByCase).load(root.id)

    @staticmethod
    async def resolve_vote_result(root: CaseRow, info: GraphQLResolveInfo) -> Any:
        votes = await ctx(info).loader(VotesByCase).load(root.id)
        members = await ctx(info).loader(AllBoardMembers).load("all")
        return result_of(root, votes, members, ctx(info).settings)

    @staticmethod
    def resolve_final_order(root: CaseRow, info: GraphQLResolveInfo) -> Any:
        return loaded(ctx(info).loader(FinalOrdersByCase), root.id,
                      lambda orders: orders[0] if orders else None)

    @staticmethod
    async def resolve_appeals(root: CaseRow, info: GraphQLResolveInfo) -> Any:
        return await ctx(info).loader(AppealsByCase).load(root.id)

    @staticmethod
    async def resolve_actions(root: CaseRow, info: GraphQLResolveInfo) -> Any:
        return await ctx(info).loader(ActionsByCase).load(root.id)


class CaseConnection(graphene.relay.Connection):
    class Meta:
        node = Case
