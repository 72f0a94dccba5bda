"""Shared setup for the case tests: a seated board with a key per member, an officer with a
certification, and GraphQL operations that walk a case to any point of its life."""

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import text

from registry.actors import Actor
from registry.cases import service as cases
from registry.database import session_scope
from registry.keys import service as keys
from registry.keys.models import Role
from tests.conftest import SYSTEM, data

STAFF = Actor(name="test staff", role=Role.POST_STAFF)
GROUND = "termination_serious_misconduct"
TERM_START = date(2020, 1, 1)
VOTE_DAY = "2024-03-01"
ORDER_DAY = "2024-03-15"


@dataclass
class Board:
    tokens: dict[str, str] = field(default_factory=dict)  # member name -> key token
    ids: dict[str, str] = field(default_factory=dict)  # member name -> member id


async def key_id(engine: Any, name: str) -> uuid.UUID:
    async with engine.connect() as conn:
        return (await conn.execute(text("SELECT id FROM api_keys WHERE name = :n"),
                                   {"n": name})).scalar_one()


async def seat_board(engine: Any, world: Any,
                     members: tuple[tuple[str, str, date, date | None], ...] = (
                         ("Civ", "civilian", TERM_START, None),
                         ("Law1", "law_enforcement", TERM_START, None),
                         ("Law2", "law_enforcement", TERM_START, None))) -> Board:
    """Members (name, seat, term start, term end); the first votes with the world's board key,
    the others with keys of their own."""
    board = Board()
    linked = await key_id(engine, "test board")
    async with session_scope(engine) as s:
        for i, (name, seat, start, end) in enumerate(members):
            if i == 0:
                kid, token = linked, world.tokens["board"]
            else:
                key, token = await keys.create(session=s, actor=SYSTEM, role=Role.BOARD_MEMBER,
                                               name=f"board {name}")
                kid = key.id
            m = await cases.add_board_member(session=s, actor=SYSTEM, name=name, seat=seat,
                                             term_start=start, term_end=end, api_key_id=kid)
            board.tokens[name], board.ids[name] = token, str(m.id)
    return board


REGISTER = """mutation($f: String!, $l: String!) { registerOfficer(input: {firstName: $f,
    lastName: $l}) { id } }"""
ISSUE = """mutation($o: ID!, $n: String!) { issueCertification(input: {officerId: $o,
    number: $n, discipline: LAW_ENFORCEMENT, level: BASIC, issuedOn: "2015-01-05"}) { id } }"""
CASE_FIELDS = """id number status allowedMoves grounds evidence { kind id } summary
    proposedOutcome proposedUntil version officer { id }
    history { fromStatus toStatus reason }
    hearings { scheduledFor noticeSentOn location }
    votes { vote castOn member { name seat } }
    voteResult { motion voteDate tally { yes no abstain recused } seated present quorumNeeded
                 quorumMet civiliansPresent civilianPresent majorityBasis yesNeeded passed
                 reason }
    finalOrder { outcome effectiveOn suspendedUntil publicText tally }
    appeals { id status filedOn decidedOn }
    actions { kind outcome effectiveOn untilOn grounds caseNumber certification { id } }"""
CASE = f"query($id: ID!) {{ case(id: $id) {{ {CASE_FIELDS} }} }}"
OPEN = f"""mutation($o: ID!, $g: [String!], $r: [ID!], $s: String) {{
    openCase(officerId: $o, grounds: $g, referralIds: $r, summary: $s) {{ {CASE_FIELDS} }} }}"""
MOVE = """mutation($id: ID!, $m: CaseMove!, $r: String!) { moveCase(id: $id, move: $m,
    reason: $r) { id status } }"""
PROPOSE = """mutation($id: ID!, $o: CaseOutcome!, $u: Date) { proposeOutcome(caseId: $id,
    outcome: $o, suspendedUntil: $u) { id proposedOutcome proposedUntil status } }"""
HEARING = """mutation($id: ID!, $at: DateTime!, $n: Date!) { scheduleHearing(caseId: $id,
    scheduledFor: $at, noticeSentOn: $n, location: "Board room") { id case { status } } }"""
VOTE = """mutation($id: ID!, $v: VoteChoice!, $on: Date!) { castVote(caseId: $id, vote: $v,
    castOn: $on) { id vote member { name } case { status } } }"""
ORDER = """mutation($id: ID!, $on: Date!, $o: CaseOutcome) { issueFinalOrder(caseId: $id,
    effectiveOn: $on, publicText: "The board so orders.", outcome: $o) {
    id outcome effectiveOn suspendedUntil tally case { status }
    actions { kind outcome effectiveOn untilOn certification { id status } } } }"""
APPEAL = """mutation($id: ID!, $on: Date!) { fileAppeal(caseId: $id, filedOn: $on,
    court: "Circuit Court") { id status case { status } } }"""
DECIDE = """mutation($id: ID!, $d: AppealStatus!, $on: Date!) { decideAppeal(id: $id,
    decision: $d, decidedOn: $on, note: "decided") { id status decidedOn case { status } } }"""
REINSTATE = """mutation($id: ID!, $on: Date!) { reinstateCertification(certificationId: $id,
    effectiveOn: $on, reason: "petition granted") { id status } }"""
CERT = """query($id: ID!) { certification(id: $id) { id status statusSince suspendedUntil
    allowedMoves history { action fromStatus toStatus effectiveOn untilOn reason } } }"""


async def officer_with_cert(client: Any, world: Any, last: str = "Whitfield",
                            number: str | None = "VA-0001") -> tuple[str, str | None]:
    staff = world.tokens["staff"]
    officer = (await data(client, REGISTER, {"f": "Dana", "l": last}, token=staff)
               )["registerOfficer"]["id"]
    if number is None:
        return officer, None
    cert = (await data(client, ISSUE, {"o": officer, "n": number}, token=staff)
            )["issueCertification"]["id"]
    return officer, cert


STAGES = ("open", "under_review", "motion", "hearing", "voted", "final_order", "appealed")


async def case_to(client: Any, world: Any, board: Board, officer: str, stage: str,
                  outcome: str = "REVOCATION", until: str | None = None,
                  votes: tuple[str, ...] = ("YES", "YES", "NO")) -> str:
    """A case on ``officer`` walked to ``stage``: open, under_review, motion, hearing, voted,
    final_order, appealed. ``votes`` go to the board's members in order."""
    case = (await data(client, OPEN, {"o": officer, "g": [GROUND]}, token=world.tokens["staff"])
            )["openCase"]["id"]
    await advance(client, world, board, case, "open", stage, outcome, until, votes)
    return case


async def advance(client: Any, world: Any, board: Board, case: str, at: str, stage: str,
                  outcome: str = "REVOCATION", until: str | None = None,
                  votes: tuple[str, ...] = ("YES", "YES", "NO"), order: str | None = None
                  ) -> None:
    """Walk a case that is at the stage ``at`` on to ``stage`` (see case_to); ``order``: the
    final order's outcome when it is not the motion's (NO_ACTION after a failed vote)."""
    staff = world.tokens["staff"]
    steps = STAGES[STAGES.index(at) + 1:STAGES.index(stage) + 1]
    if "under_review" in steps:
        await data(client, MOVE, {"id": case, "m": "REVIEW", "r": "complete"}, token=staff)
    if "motion" in steps:
        await data(client, PROPOSE, {"id": case, "o": outcome, "u": until}, token=staff)
    if "hearing" in steps:
        await data(client, HEARING, {"id": case, "at": "2024-02-20T10:00:00-05:00",
                                     "n": "2024-01-15"}, token=staff)
    if "voted" in steps:
        for name, vote in zip(board.tokens, votes, strict=False):
            await data(client, VOTE, {"id": case, "v": vote, "on": VOTE_DAY},
                       token=board.tokens[name])
    if "final_order" in steps:
        await data(client, ORDER, {"id": case, "on": ORDER_DAY, "o": order}, token=staff)
    if "appealed" in steps:
        await data(client, APPEAL, {"id": case, "on": "2024-04-01"}, token=staff)
