"""The decertification case state machine, in one table.

Each mutation of a case makes one move; a move whose target is the current status (another
hearing, another vote, a new motion) changes nothing and records no status event. Only
``review`` and ``close`` are made by hand (``moveCase``); the others come from their own
mutations (schedule a hearing, vote, issue the final order, file and decide an appeal).
"""

from enum import StrEnum

from registry.cases.models import CaseStatus as S


class CaseMove(StrEnum):
    REVIEW = "review"
    PROPOSE_OUTCOME = "propose_outcome"
    SCHEDULE_HEARING = "schedule_hearing"
    VOTE = "vote"
    ISSUE_FINAL_ORDER = "issue_final_order"
    APPEAL = "appeal"
    DECIDE_APPEAL = "decide_appeal"
    CLOSE = "close"


M = CaseMove
BY_HAND = frozenset({M.REVIEW, M.CLOSE})

TRANSITIONS: dict[S, dict[CaseMove, S]] = {
    S.OPEN: {M.REVIEW: S.UNDER_REVIEW, M.PROPOSE_OUTCOME: S.OPEN, M.CLOSE: S.CLOSED},
    S.UNDER_REVIEW: {M.PROPOSE_OUTCOME: S.UNDER_REVIEW,
                     M.SCHEDULE_HEARING: S.HEARING_SCHEDULED, M.VOTE: S.VOTED,
                     M.CLOSE: S.CLOSED},
    S.HEARING_SCHEDULED: {M.PROPOSE_OUTCOME: S.HEARING_SCHEDULED,
                          M.SCHEDULE_HEARING: S.HEARING_SCHEDULED, M.VOTE: S.VOTED,
                          M.CLOSE: S.CLOSED},
    S.VOTED: {M.VOTE: S.VOTED, M.ISSUE_FINAL_ORDER: S.FINAL_ORDER, M.CLOSE: S.CLOSED},
    # Closed after a final order: the appeal period ran out.
    S.FINAL_ORDER: {M.APPEAL: S.APPEALED, M.CLOSE: S.CLOSED},
    S.APPEALED: {M.DECIDE_APPEAL: S.CLOSED},
    S.CLOSED: {},
}


def allowed_moves(status: S) -> list[CaseMove]:
    return list(TRANSITIONS[status])
