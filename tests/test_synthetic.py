"""The synthetic state behind ``registry serve --demo`` and the benchmarks: a newcomer's first
look at the registry, so its rows must obey every rule the services enforce, and each demo key
must work at once."""

import io
import re
from collections import defaultdict
from datetime import date

import asyncpg
import pytest
from rich.console import Console

from registry.certifications.models import CertificationStatus
from registry.certifications.status import TRANSITIONS, Move
from registry.database import asyncpg_url
from registry.demo import load_demo
from registry.employment.models import SeparationReason
from registry.keys.models import Role
from registry.names import name_key, sort_key
from registry.synthetic import AS_OF, MISCONDUCT_SEPARATIONS, generate
from tests.conftest import ROOT, data, gql

OFFICERS = 1_500
AGENCIES = 40
REFERRALS = (ROOT / "graphql" / "operations" / "Referrals.graphql").read_text()


async def _generated(owner_url: str, **options: object) -> tuple[asyncpg.Connection, dict]:
    # As the tables' owner, like `registry serve --demo` (fast mode turns triggers off).
    conn = await asyncpg.connect(asyncpg_url(owner_url))
    counts = await generate(conn, officers=OFFICERS, agencies=AGENCIES, **options)
    return conn, counts


async def test_counts_match_the_rows_and_every_person_has_a_career(owner_url: str) -> None:
    conn, counts = await _generated(owner_url)
    try:
        for table, n in counts.items():
            assert await conn.fetchval(f"SELECT count(*) FROM {table}") == n
        assert counts["officers"] == OFFICERS and counts["agencies"] == AGENCIES
        assert await conn.fetchval(
            "SELECT count(*) FROM officers o WHERE NOT EXISTS "
            "(SELECT 1 FROM stints s WHERE s.officer_id = o.id)") == 0
        assert await conn.fetchval(
            "SELECT count(*) FROM officers o WHERE NOT EXISTS "
            "(SELECT 1 FROM certifications c WHERE c.officer_id = o.id)") == 0
        # Each officer is their own person until someone merges records.
        assert await conn.fetchval(
            "SELECT count(*) FROM officers WHERE canonical_id <> id") == 0
    finally:
        await conn.close()


async def test_names_carry_the_keys_the_services_would_compute(owner_url: str) -> None:
    conn, _ = await _generated(owner_url)
    try:
        rows = await conn.fetch("SELECT first_name, middle_name, last_name, suffix, name_key, "
                                "sort_key FROM officers")
        for r in rows:
            assert r["name_key"] == name_key(r["first_name"], r["middle_name"], r["last_name"],
                                             r["suffix"])
            assert r["sort_key"] == sort_key(r["first_name"], r["middle_name"], r["last_name"])
        # Realistic crowding: common surnames repeat, as the background check must expect.
        assert await conn.fetchval(
            "SELECT max(n) FROM (SELECT count(*) n FROM officers GROUP BY last_name) t") >= 5
    finally:
        await conn.close()


async def test_stints_close_with_a_known_reason_and_never_overlap(owner_url: str) -> None:
    conn, _ = await _generated(owner_url)
    try:
        reasons = {r.value for r in SeparationReason}
        rows = await conn.fetch("SELECT officer_id, started_on, ended_on, separation_reason "
                                "FROM stints ORDER BY officer_id, started_on")
        careers: dict = defaultdict(list)
        for r in rows:
            assert (r["ended_on"] is None) == (r["separation_reason"] is None)
            if r["ended_on"] is not None:
                assert r["separation_reason"] in reasons
                assert r["started_on"] <= r["ended_on"] <= date(2026, 10, 31)
            careers[r["officer_id"]].append(r)
        for stints in careers.values():
            for before, after in zip(stints, stints[1:], strict=False):
                assert before["ended_on"] is not None and before["ended_on"] <= after["started_on"]
        assert {r["separation_reason"] for r in rows} >= {"resigned", "terminated", "retired"}
    finally:
        await conn.close()


async def test_certification_history_follows_the_state_machine(owner_url: str) -> None:
    conn, _ = await _generated(owner_url)
    try:
        events = await conn.fetch(
            "SELECT e.certification_id, e.action, e.from_status, e.to_status, e.effective_on, "
            "c.status FROM certification_status_events e "
            "JOIN certifications c ON c.id = e.certification_id "
            "ORDER BY e.certification_id, e.effective_on, e.recorded_at, e.id")
        history: dict = defaultdict(list)
        for e in events:
            history[e["certification_id"]].append(e)
        seen: set[str] = set()
        for moves in history.values():
            assert moves[0]["action"] == "issue" and moves[0]["from_status"] is None
            current = moves[0]["to_status"]
            for e in moves[1:]:
                assert e["from_status"] == current
                if e["action"] != "renew":
                    allowed = TRANSITIONS[CertificationStatus(current)]
                    assert allowed.get(Move(e["action"])) == CertificationStatus(e["to_status"])
                    seen.add(e["action"])
                current = e["to_status"]
            assert moves[-1]["status"] == current
        # The demo shows the board's work too, not only clerks' moves.
        assert {"inactivate", "reactivate", "revoke"} <= seen
    finally:
        await conn.close()


async def test_findings_follow_the_careers_and_the_rules(owner_url: str) -> None:
    conn, counts = await _generated(owner_url)
    try:
        assert counts["findings"] > 0 and counts["convictions"] > 0
        # Each finding comes from an agency that employed the officer on the incident date.
        assert await conn.fetchval(
            "SELECT count(*) FROM findings f WHERE NOT EXISTS (SELECT 1 FROM stints s "
            "WHERE s.officer_id = f.officer_id AND s.agency_id = f.agency_id "
            "AND s.started_on <= f.incident_on "
            "AND (s.ended_on IS NULL OR f.incident_on <= s.ended_on))") == 0
        assert await conn.fetchval(
            "SELECT count(*) FROM findings WHERE NOT (incident_on <= reported_on "
            "AND reported_on <= $1)", AS_OF) == 0
        assert await conn.fetchval(
            "SELECT count(*) FROM findings WHERE (discipline = 'suspension') "
            "<> (suspension_days IS NOT NULL)") == 0
        # What the services refuse: discipline on a pending finding, or a finding completed
        # after a separation that had not happened by the report date.
        assert await conn.fetchval(
            "SELECT count(*) FROM findings WHERE final_disposition = 'pending' "
            "AND discipline IS NOT NULL AND discipline <> 'none'") == 0
        assert await conn.fetchval(
            "SELECT count(*) FROM findings f WHERE f.completed_after_separation AND NOT EXISTS "
            "(SELECT 1 FROM stints s WHERE s.officer_id = f.officer_id "
            "AND s.agency_id = f.agency_id AND s.ended_on <= f.reported_on)") == 0
        # Every career that ended in a misconduct separation has the agency's finding behind
        # it: a termination for the terminated, completed after the separation for the rest
        # (or still pending).
        ends = await conn.fetch(
            "SELECT DISTINCT ON (s.officer_id) s.officer_id, s.agency_id, s.ended_on, "
            "s.separation_reason FROM stints s ORDER BY s.officer_id, s.started_on DESC")
        misconduct = [e for e in ends if e["separation_reason"] in MISCONDUCT_SEPARATIONS]
        assert misconduct
        for e in misconduct:
            found = await conn.fetch(
                "SELECT final_disposition, discipline, completed_after_separation, category "
                "FROM findings WHERE officer_id = $1 AND agency_id = $2 AND incident_on <= $3",
                e["officer_id"], e["agency_id"], e["ended_on"])
            if e["separation_reason"] == "terminated":
                assert any(f["final_disposition"] == "sustained" and f["discipline"] ==
                           "termination" and f["category"] != "other" for f in found), e
            else:
                assert any(f["final_disposition"] == "pending" or (
                    f["final_disposition"] == "sustained" and f["completed_after_separation"])
                    for f in found), e
        # A background of complaints, most not sustained, for a few percent of officers.
        background = await conn.fetch(
            "SELECT final_disposition, discipline FROM findings WHERE discipline IS NULL "
            "OR discipline NOT IN ('termination', 'none')")
        sustained = sum(f["final_disposition"] == "sustained" for f in background)
        assert 0 < sustained < len(background) / 2
        assert {f["discipline"] for f in background} >= {"reprimand", "suspension"}
        with_findings = await conn.fetchval("SELECT count(DISTINCT officer_id) FROM findings")
        assert 0.02 * OFFICERS < with_findings < 0.12 * OFFICERS
        # Convictions follow a sustained finding of the reporting agency, before AS_OF.
        assert await conn.fetchval(
            "SELECT count(*) FROM convictions c WHERE c.convicted_on > $1 OR NOT EXISTS "
            "(SELECT 1 FROM findings f WHERE f.officer_id = c.officer_id "
            "AND f.agency_id = c.reported_by_agency_id AND f.final_disposition = 'sustained' "
            "AND f.incident_on < c.convicted_on)", AS_OF) == 0
    finally:
        await conn.close()


async def test_fast_load_rebuilds_the_new_tables_indexes(owner_url: str) -> None:
    conn, counts = await _generated(owner_url, fast=True)
    try:
        for table in ("findings", "convictions"):
            assert await conn.fetchval(f"SELECT count(*) FROM {table}") == counts[table] > 0
        indexes = {r[0] for r in await conn.fetch(
            "SELECT indexname FROM pg_indexes WHERE tablename IN ('findings', 'convictions')")}
        assert {"findings_officer", "findings_agency", "convictions_officer"} <= indexes
    finally:
        await conn.close()


async def _reload(conn: asyncpg.Connection, seed: int) -> str:
    """Empty the tables (past the refuse-delete triggers) and load again with ``seed``."""
    await conn.execute("SET session_replication_role = replica")
    await conn.execute("TRUNCATE convictions, findings, certification_status_events, "
                       "certifications, stints, officer_names, officers, agencies CASCADE")
    await conn.execute("RESET session_replication_role")
    await generate(conn, officers=OFFICERS, agencies=AGENCIES, seed=seed)
    return await conn.fetchval(
        "SELECT md5((SELECT string_agg(id::text || name_key, ',' ORDER BY id) FROM officers) "
        "|| (SELECT string_agg(concat_ws('|', id, officer_id, agency_id, incident_on, "
        "reported_on, category, final_disposition, discipline, suspension_days), ',' "
        "ORDER BY id) FROM findings) "
        "|| (SELECT string_agg(concat_ws('|', id, officer_id, offense, convicted_on), ',' "
        "ORDER BY id) FROM convictions))")


async def test_same_seed_gives_the_same_state(owner_url: str) -> None:
    conn = await asyncpg.connect(asyncpg_url(owner_url))
    try:
        await generate(conn, officers=10, agencies=5)
        first = await _reload(conn, seed=11)
        assert await _reload(conn, seed=11) == first
        assert await _reload(conn, seed=12) != first
    finally:
        await conn.close()


async def test_refuses_tables_that_already_have_rows(owner_url: str) -> None:
    conn, _ = await _generated(owner_url)
    try:
        with pytest.raises(ValueError, match="already has rows"):
            await generate(conn, officers=10, agencies=5)
    finally:
        await conn.close()


@pytest.mark.parametrize(("options", "message"), [
    ({"officers": 0, "agencies": 5}, "at least one officer"),
    ({"officers": 10, "agencies": 0}, "agencies"),
    ({"officers": 10, "agencies": 5, "state": "ZZ"}, "not a US state"),
])
async def test_bad_sizes_and_states_are_refused(owner_url: str, options: dict,
                                                message: str) -> None:
    conn = await asyncpg.connect(asyncpg_url(owner_url))
    try:
        with pytest.raises(ValueError, match=message):
            await generate(conn, **options)
        assert await conn.fetchval("SELECT count(*) FROM agencies") == 0
    finally:
        await conn.close()


async def test_demo_prints_a_working_key_for_each_role(settings, client) -> None:
    out = io.StringIO()
    issued = await load_demo(settings, officers=400, console=Console(file=out, width=200))
    assert sorted(role for role, _, _ in issued) == sorted(r.value for r in Role)
    for role, _, token in issued:
        me = await data(client, "{ me { role agency { ori } } }", token=token)
        assert me["me"]["role"] == role.upper()
        assert (me["me"]["agency"] is not None) == (role == Role.AGENCY.value)
    # A board clerk finds work waiting: the referral queue, each referral with its evidence.
    staff = next(t for r, _, t in issued if r == Role.POST_STAFF.value)
    queue = (await data(client, REFERRALS, {"first": 100}, token=staff))["referrals"]["edges"]
    assert queue
    said = re.search(r"([\d,]+) referrals open", out.getvalue())
    assert said and int(said[1].replace(",", "")) >= len(queue)
    for edge in queue:
        node = edge["node"]
        assert node["status"] == "OPEN" and node["ground"]["code"] and node["evidence"]
        assert node["officer"]["fullName"]
    # A second start keeps the data, and replaces the demo keys whose tokens were shown once.
    again = await load_demo(settings, officers=400, console=Console(quiet=True))
    old_admin = next(t for r, _, t in issued if r == Role.ADMIN.value)
    response = await gql(client, "{ me { role } }", token=old_admin)
    assert response.status_code == 401
    assert len(again) == len(issued)


def test_demo_keys_print_whole_on_a_narrow_terminal(capsys, monkeypatch) -> None:
    # A token cut or wrapped by the terminal width cannot be pasted into a client.
    from registry import cli

    monkeypatch.setattr(cli, "console", Console(width=60))
    token = "reg_" + "a" * 32 + "_" + "b" * 43
    cli._print_demo_keys([("agency", "demo agency ([Hooper] PD)", token)], "127.0.0.1", 8000)
    out = capsys.readouterr().out
    assert out.count(token) == 2  # the key and the curl example
    assert "[Hooper] PD" in out
