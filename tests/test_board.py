"""Quorum and majority: the default rules, each configuration knob, and seats by term."""

from datetime import date
from fractions import Fraction

import httpx2
import pytest

from registry.app import create_app
from registry.cases.board import Rules, count, more_than, seated_on
from registry.cases.models import Seat, VoteChoice
from registry.settings import Settings
from tests.case_helpers import CASE, ORDER, ORDER_DAY, case_to, officer_with_cert, seat_board
from tests.conftest import data, gql

Y, N, A, R = VoteChoice.YES, VoteChoice.NO, VoteChoice.ABSTAIN, VoteChoice.RECUSED
C, L, OT = Seat.CIVILIAN, Seat.LAW_ENFORCEMENT, Seat.OTHER
DEFAULT = Rules()


def result(votes, seated, rules=DEFAULT):
    return count(votes, seated, rules, date(2024, 3, 1), "revocation")


@pytest.mark.parametrize(("fraction", "of", "needed"), [
    (Fraction(1, 2), 0, 1), (Fraction(1, 2), 1, 1), (Fraction(1, 2), 4, 3),
    (Fraction(1, 2), 5, 3), (Fraction(2, 3), 6, 5), (Fraction(2, 3), 7, 5)])
def test_more_than(fraction, of, needed):
    assert more_than(fraction, of) == needed


def test_default_quorum_is_more_than_half_of_seated_with_a_civilian():
    r = result([(Y, C), (Y, L), (N, L)], 5)
    assert (r.present, r.quorum_needed, r.quorum_met, r.passed) == (3, 3, True, True)
    r = result([(Y, C), (Y, L)], 5)
    assert not r.quorum_met and not r.passed
    assert r.reason == ("No quorum: 2 of 5 seated members present (voting yes, no or "
                        "abstain); 3 needed.")
    r = result([(Y, C), (Y, L)], 4)
    assert (r.quorum_needed, r.quorum_met) == (3, False)  # half is not more than half


def test_recused_members_are_not_present():
    r = result([(Y, C), (Y, L), (R, L), (R, OT)], 5)
    assert r.tally == {"yes": 2, "no": 0, "abstain": 0, "recused": 2}
    assert r.present == 2 and not r.quorum_met


def test_no_civilian_present_means_no_quorum():
    r = result([(Y, L), (Y, L), (N, OT), (R, C)], 5)
    assert r.present == 3 and not r.civilian_present and not r.quorum_met
    assert "civilian" in r.reason
    r = result([(Y, L), (Y, L), (N, OT)], 5, Rules(min_civilians=0))
    assert r.quorum_met and r.passed


def test_abstentions_count_against_when_the_basis_is_those_present():
    votes = [(Y, C), (Y, L), (N, L), (A, OT), (A, OT)]
    present = result(votes, 5)
    assert (present.basis_count, present.yes_needed, present.passed) == (5, 3, False)
    assert present.reason == "The motion (revocation) failed: 2 yes of 5 present; 3 needed."
    cast = result(votes, 5, Rules(basis="votes_cast"))
    assert (cast.basis_count, cast.yes_needed, cast.passed) == (3, 2, True)
    assert "votes cast (yes and no)" in cast.reason


def test_a_tie_fails():
    r = result([(Y, C), (Y, L), (N, L), (N, OT)], 5)
    assert r.quorum_met and not r.passed


def test_stricter_quorum_and_majority_from_settings(monkeypatch):
    monkeypatch.setenv("REGISTRY_BOARD_QUORUM_FRACTION", "0.66")
    monkeypatch.setenv("REGISTRY_BOARD_MAJORITY_FRACTION", "0.66")
    monkeypatch.setenv("REGISTRY_BOARD_QUORUM_MIN_CIVILIANS", "2")
    monkeypatch.setenv("REGISTRY_BOARD_MAJORITY_BASIS", "votes_cast")
    rules = Rules.from_settings(Settings())
    assert rules == Rules(Fraction(33, 50), 2, "votes_cast", Fraction(33, 50))
    votes = [(Y, C), (Y, C), (Y, L), (N, L)]
    assert result(votes, 6).passed  # default: 4 > 3 present, 3 of 4 yes
    r = result(votes, 6, rules)
    assert (r.quorum_needed, r.quorum_met) == (4, True)
    assert (r.yes_needed, r.passed) == (3, True)
    r = result([(Y, C), (Y, L), (Y, L), (N, L)], 6, rules)
    assert not r.quorum_met  # one civilian, two required


def test_bad_settings_are_refused(monkeypatch):
    monkeypatch.setenv("REGISTRY_BOARD_MAJORITY_BASIS", "everyone")
    with pytest.raises(ValueError):
        Settings()
    monkeypatch.setenv("REGISTRY_BOARD_MAJORITY_BASIS", "present")
    monkeypatch.setenv("REGISTRY_BOARD_QUORUM_FRACTION", "1")
    with pytest.raises(ValueError):
        Settings()


def test_a_term_covers_its_first_and_last_day():
    start, end = date(2020, 1, 1), date(2023, 12, 31)
    assert not seated_on(start, end, date(2019, 12, 31))
    assert seated_on(start, end, start) and seated_on(start, end, end)
    assert not seated_on(start, end, date(2024, 1, 1))
    assert seated_on(start, None, date(2099, 1, 1))


async def test_seated_counts_only_members_whose_term_covers_the_vote_date(
        client, engine, world):
    board = await seat_board(engine, world, (
        ("Civ", "civilian", date(2020, 1, 1), None),
        ("Law1", "law_enforcement", date(2020, 1, 1), None),
        ("Gone", "law_enforcement", date(2015, 1, 1), date(2023, 12, 31)),
        ("Later", "other", date(2025, 1, 1), None)))
    officer, _ = await officer_with_cert(client, world)
    case = await case_to(client, world, board, officer, "voted", votes=("YES", "NO"))
    got = (await data(client, CASE, {"id": case}, token=world.tokens["staff"]))["case"]
    r = got["voteResult"]
    assert (r["seated"], r["present"], r["quorumNeeded"], r["quorumMet"]) == (2, 2, 2, True)
    assert (r["yesNeeded"], r["passed"]) == (2, False)


async def test_the_majority_basis_configured_for_the_service(client, engine, world, settings):
    """The same votes fail under the default basis and pass when abstentions do not count."""
    board = await seat_board(engine, world)
    officer, cert = await officer_with_cert(client, world)
    case = await case_to(client, world, board, officer, "voted",
                         votes=("YES", "ABSTAIN", "ABSTAIN"))
    staff = world.tokens["staff"]
    got = (await data(client, CASE, {"id": case}, token=staff))["case"]["voteResult"]
    assert got["quorumMet"] and not got["passed"]

    configured = Settings(database_url=settings.database_url, board_majority_basis="votes_cast")
    app = create_app(configured)
    try:
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://registry.test") as c:
            got = (await data(c, CASE, {"id": case}, token=staff))["case"]["voteResult"]
            assert got["majorityBasis"] == "votes_cast"
            assert (got["yesNeeded"], got["passed"]) == (1, True)
            order = (await data(c, ORDER, {"id": case, "on": ORDER_DAY}, token=staff)
                     )["issueFinalOrder"]
            assert order["outcome"] == "REVOCATION"
    finally:
        await app.state.engine.dispose()
    body = (await gql(client, CASE, {"id": case}, token=staff)).json()
    assert body["data"]["case"]["finalOrder"]["outcome"] == "REVOCATION"
    assert cert
