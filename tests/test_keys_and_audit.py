"""API keys are stored only as hashes and stop working when revoked; every write leaves one
hash-chained audit event that the database will not let anyone change; versioned tables keep
every old row and refuse DELETE."""

import hashlib
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from registry.actors import Actor
from registry.audit.service import ChainReport, verify_chain
from registry.database import session_scope
from registry.errors import Forbidden
from registry.keys import service as keys
from registry.keys.models import Role
from tests.conftest import SYSTEM, data, gql, row_counts


async def chain(engine: AsyncEngine, batch: int = 5000) -> ChainReport:
    return [report async for report in verify_chain(engine, batch=batch)][-1]


async def audit_events(engine: AsyncEngine) -> list[dict]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT * FROM audit_events ORDER BY id"))
        return [dict(r._mapping) for r in rows]


def key_id(token: str) -> uuid.UUID:
    return uuid.UUID(hex=token.removeprefix("reg_").split("_")[0])


# --- Keys ------------------------------------------------------------------------------------


async def test_tokens_are_stored_only_as_hashes(engine, world):
    async with engine.connect() as conn:
        columns = (await conn.execute(text(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'api_keys' ORDER BY ordinal_position"))).scalars().all()
        keys_rows = {r.id: r for r in await conn.execute(text("SELECT * FROM api_keys"))}
        tables = (await conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))).scalars().all()
        # Every row of every table, as text: a token (or its secret half) is nowhere.
        everything = "\n".join([
            row for t in tables for row in (await conn.execute(text(
                f'SELECT row_to_json(t)::text FROM "{t}" t'))).scalars().all()])
    assert [c for c in columns if "token" in c] == ["token_hash"]
    assert len(keys_rows) == len(world.tokens)
    for who, token in world.tokens.items():
        secret = token.split("_", 2)[2]
        assert len(secret) >= 40, who
        row = keys_rows[key_id(token)]
        assert bytes(row.token_hash) == hashlib.sha256(token.encode()).digest(), who
        for column, value in row._mapping.items():
            assert secret not in str(value), (who, column)
        assert token not in everything and secret not in everything, who
        assert secret.encode().hex() not in everything, who


async def test_a_created_key_works_and_a_revoked_key_stops(client, engine, world):
    async with session_scope(engine) as session:
        key, token = await keys.create(session=session, actor=SYSTEM, role=Role.BOARD_MEMBER,
                                       name="Board member Ito")
    me = (await data(client, "{ me { name role agency { id } } }", token=token))["me"]
    assert me == {"name": "Board member Ito", "role": "BOARD_MEMBER", "agency": None}
    before = await audit_events(engine)
    async with session_scope(engine) as session:
        revoked = await keys.revoke(session=session, actor=SYSTEM, key_id=key.id)
    assert revoked.revoked_at is not None
    async with session_scope(engine) as session:  # revoking again changes nothing
        await keys.revoke(session=session, actor=SYSTEM, key_id=key.id)
    events = await audit_events(engine)
    [event] = events[len(before):]
    assert (event["operation"], event["entity_id"]) == ("key.revoke", str(key.id))
    response = await gql(client, "{ me { name } }", token=token)
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # The other keys still work.
    assert (await data(client, "{ me { name } }", token=world.tokens["board"]))["me"]


async def test_only_administrators_make_or_revoke_keys(engine, world):
    staff = Actor(name="staff", role=Role.POST_STAFF)
    counts = await row_counts(engine)
    with pytest.raises(Forbidden):
        async with session_scope(engine) as session:
            await keys.create(session=session, actor=staff, role=Role.ADMIN, name="escalate")
    with pytest.raises(Forbidden):
        async with session_scope(engine) as session:
            await keys.revoke(session=session, actor=staff,
                              key_id=key_id(world.tokens["admin"]))
    assert await row_counts(engine) == counts


# --- Audit events for writes through GraphQL ---------------------------------------------------


async def test_every_graphql_write_appends_one_audit_event(client, engine, world):
    tokens = world.tokens
    created: dict[str, str] = {}

    async def write(who: str, query: str, variables: dict, field: str, request_id: str | None,
                    operation: str, entity_type: str) -> None:
        before = await audit_events(engine)
        headers = {"Authorization": f"Bearer {tokens[who]}"}
        if request_id:
            headers["X-Request-ID"] = request_id
        response = await client.post("/graphql", json={"query": query, "variables": variables},
                                     headers=headers)
        body = response.json()
        assert response.status_code == 200 and "errors" not in body, body
        after = await audit_events(engine)
        [event] = after[len(before):]  # exactly one new event
        assert after[:len(before)] == before  # and nothing else changed
        entity_id = body["data"][field]["id"]
        created[field] = entity_id
        header = response.headers["x-request-id"]
        if request_id:
            assert header == request_id
        agency_id = world.agency_a.id if who == "agency_a" else None
        assert {k: event[k] for k in ("actor", "role", "actor_key_id", "agency_id", "operation",
                                      "entity_type", "entity_id", "request_id")} == {
            "actor": f"test {who}", "role": Role.AGENCY.value if who == "agency_a" else {
                "staff": "post_staff", "admin": "admin"}[who],
            "actor_key_id": key_id(tokens[who]), "agency_id": agency_id,
            "operation": operation, "entity_type": entity_type, "entity_id": entity_id,
            "request_id": header,
        }
        assert event["after"] is not None

    await write("staff", """mutation($in: AgencyInput!) { createAgency(input: $in) { id } }""",
                {"in": {"state": "VA", "name": "Chesterfield County Police",
                        "agencyType": "POLICE", "ori": "VA0200000"}},
                "createAgency", "audit-1", "agency.create", "agency")
    await write("agency_a", """mutation($in: OfficerInput!) { registerOfficer(input: $in)
                { id } }""", {"in": {"firstName": "Mina", "lastName": "Park",
                                     "dateOfBirth": "1988-02"}},
                "registerOfficer", None, "officer.register", "officer")
    await write("staff", """mutation($o: ID!) { issueCertification(input: {officerId: $o,
                number: "VA-100", discipline: LAW_ENFORCEMENT, level: BASIC,
                issuedOn: "2012-03-01"}) { id } }""", {"o": created["registerOfficer"]},
                "issueCertification", "audit-3", "certification.issue", "certification")
    await write("agency_a", """mutation($o: ID!, $a: ID!) { reportHire(input: {officerId: $o,
                agencyId: $a, startedOn: "2012-04-01"}) { id } }""",
                {"o": created["registerOfficer"], "a": str(world.agency_a.id)},
                "reportHire", "audit-4", "stint.hire", "stint")
    await write("admin", """mutation($id: ID!, $in: AgencyInput!) { correctAgency(id: $id,
                input: $in, reason: "renamed", expectedVersion: 1) { id } }""",
                {"id": created["createAgency"], "in": {
                    "state": "VA", "name": "Chesterfield County Police Department",
                    "agencyType": "POLICE", "ori": "VA0200000"}},
                "correctAgency", None, "agency.correct", "agency")

    events = await audit_events(engine)
    report = await chain(engine)
    assert report.breaks == [] and report.events == len(events)
    assert report.head_hash == bytes(events[-1]["hash"]).hex()
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    # Verifying in small batches gives the same answer.
    assert await chain(engine, batch=2) == report


async def test_refused_write_appends_no_audit_event(client, engine, world):
    before = await audit_events(engine)
    response = await gql(client, """mutation { createAgency(input: {state: "VA", name: "X PD",
                         agencyType: POLICE}) { id } }""", token=world.tokens["agency_b"])
    assert response.status_code == 403
    assert await audit_events(engine) == before


# --- The audit table is append-only and tamper-evident -----------------------------------------


@pytest.mark.parametrize("statement", [
    "UPDATE audit_events SET actor = 'someone else'",
    "UPDATE audit_events SET after = '{}'::jsonb WHERE id = (SELECT max(id) FROM audit_events)",
    "DELETE FROM audit_events",
    "DELETE FROM audit_events WHERE id = (SELECT max(id) FROM audit_events)",
    "TRUNCATE audit_events",
])
async def test_database_refuses_to_change_audit_events(engine, owner_engine, world, statement):
    """Even the tables' owner (the service role may not even try: test_least_privilege)."""
    before = await audit_events(engine)
    assert before
    with pytest.raises(DBAPIError, match="not allowed"):
        async with owner_engine.begin() as conn:
            await conn.execute(text(statement))
    assert await audit_events(engine) == before


async def test_inserted_events_get_their_chain_fields_from_the_database(engine, world):
    async with engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO audit_events (id, occurred_at, actor, role, operation, entity_type, "
            "prev_hash, hash) VALUES (1, '2000-01-01', 'forger', 'admin', 'x.y', 'x', "
            "'\\xdead'::bytea, '\\xbeef'::bytea)"))
    events = await audit_events(engine)
    forged = events[-1]
    assert forged["actor"] == "forger"
    assert forged["id"] == events[-2]["id"] + 1 and forged["occurred_at"].year > 2000
    assert bytes(forged["prev_hash"]) == bytes(events[-2]["hash"])
    report = await chain(engine)
    assert report.breaks == [] and report.events == len(events)


async def _tamper(engine: AsyncEngine, *statements: str) -> None:
    """As the table's owner, with its triggers off for one transaction."""
    async with engine.begin() as conn:
        await conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        for sql in statements:
            await conn.execute(text(sql))
        await conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))


async def test_a_rewritten_event_breaks_the_chain_at_that_event(engine, owner_engine, world):
    events = await audit_events(engine)
    assert len(events) >= 5 and (await chain(engine)).breaks == []
    target = events[2]["id"]
    await _tamper(owner_engine, "UPDATE audit_events SET after = jsonb_set(after, '{name}', "
                          f"'\"Someone Else\"') WHERE id = {target}")
    report = await chain(engine)
    assert [b.event_id for b in report.breaks] == [target], report.breaks
    assert "content" in report.breaks[0].problem
    # The trigger is back on: the table is append-only again.
    with pytest.raises(DBAPIError, match="not allowed"):
        async with owner_engine.begin() as conn:
            await conn.execute(text("DELETE FROM audit_events"))


async def test_a_rewritten_and_rehashed_event_breaks_the_chain_after_it(engine, owner_engine,
                                                                       world):
    events = await audit_events(engine)
    target = events[2]["id"]
    await _tamper(owner_engine,
                  f"UPDATE audit_events SET actor = 'nobody' WHERE id = {target}",
                  f"UPDATE audit_events a SET hash = audit_event_hash(a) WHERE id = {target}")
    report = await chain(engine)
    assert [b.event_id for b in report.breaks] == [events[3]["id"]], report.breaks
    assert "prev_hash" in report.breaks[0].problem


async def test_a_removed_event_breaks_the_chain_at_the_next_one(engine, owner_engine, world):
    events = await audit_events(engine)
    target = events[2]["id"]
    await _tamper(owner_engine, f"DELETE FROM audit_events WHERE id = {target}")
    report = await chain(engine)
    assert [b.event_id for b in report.breaks] == [events[3]["id"]], report.breaks
    assert report.events == len(events) - 1


# --- Versioned tables --------------------------------------------------------------------------


async def test_update_keeps_the_old_agency_row_in_history(client, engine, world):
    agency = world.agency_a
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE agencies SET name = 'Richmond PD', change_reason = "
                                "'short name' WHERE id = :id"), {"id": agency.id})
    async with engine.connect() as conn:
        live = (await conn.execute(text("SELECT * FROM agencies WHERE id = :id"),
                                   {"id": agency.id})).one()
        history = (await conn.execute(text(
            "SELECT * FROM agencies_history WHERE id = :id ORDER BY version"),
            {"id": agency.id})).all()
    assert (live.name, live.version) == ("Richmond PD", 2)
    [old] = history
    assert (old.name, old.version, old.ori) == ("Richmond Police Department", 1, "VA1220000")
    assert old.superseded_at is not None and old.superseded_at >= old.recorded_at
    assert live.recorded_at >= old.superseded_at
    # Through the API the same history shows as versions, and as-of reads use it.
    await data(client, """mutation($id: ID!) { correctAgency(id: $id, reason: "full name",
               expectedVersion: 2, input: {state: "VA", name: "Richmond Police Dept",
               agencyType: POLICE, ori: "VA1220000"}) { version } }""",
               {"id": str(agency.id)}, token=world.tokens["staff"])
    async with engine.connect() as conn:
        names = (await conn.execute(text(
            "SELECT name FROM agencies_history WHERE id = :id ORDER BY version"),
            {"id": agency.id})).scalars().all()
    assert names == ["Richmond Police Department", "Richmond PD"]


async def test_an_update_that_changes_nothing_adds_no_version(engine, world):
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE agencies SET name = name WHERE id = :id"),
                           {"id": world.agency_a.id})
    counts = await row_counts(engine)
    assert counts["agencies_history"] == 0


@pytest.mark.parametrize("statement", [
    "DELETE FROM agencies WHERE ori = 'VA0430100'",
    "UPDATE agencies_history SET name = 'x'",
    "DELETE FROM agencies_history",
])
async def test_versioned_rows_are_never_destroyed(engine, owner_engine, world, statement):
    """Even by the tables' owner; the service role may not even try."""
    async with engine.begin() as conn:  # one version in history to protect
        await conn.execute(text("UPDATE agencies SET name = 'Henrico PD' "
                                "WHERE ori = 'VA0430100'"))
    counts = await row_counts(engine)
    with pytest.raises(DBAPIError, match="not allowed"):
        async with owner_engine.begin() as conn:
            await conn.execute(text(statement))
    assert await row_counts(engine) == counts
