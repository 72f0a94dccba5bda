"""Retried registrations from department systems, the public officer view, and health."""

import httpx2
from sqlalchemy import text

from registry.app import create_app
from registry.settings import Settings
from tests.conftest import data, row_counts

REGISTER = """
mutation($in: OfficerInput!, $src: SourceInput) {
  registerOfficer(input: $in, source: $src) { id publicId fullName }
}"""


async def test_retried_registration_returns_the_first_officer(client, world, engine):
    variables = {"in": {"firstName": "Dana", "lastName": "Whitfield", "dateOfBirth": "1990"},
                 "src": {"system": "RMS", "recordId": "E-1001"}}
    first = await data(client, REGISTER, variables, token=world.tokens["agency_a"])
    counts = await row_counts(engine)
    again = await data(client, REGISTER, variables, token=world.tokens["agency_a"])
    assert again["registerOfficer"]["id"] == first["registerOfficer"]["id"]
    assert await row_counts(engine) == counts
    # Another agency's record E-1001 is another record: source ids are scoped per agency.
    other = await data(client, REGISTER, variables, token=world.tokens["agency_b"])
    assert other["registerOfficer"]["id"] != first["registerOfficer"]["id"]
    staff_view = await data(client, "query($id: ID!) { officer(id: $id) { sourceRecords "
                                    "{ source sourceKey payload } } }",
                            {"id": first["registerOfficer"]["id"]}, token=world.tokens["staff"])
    (record,) = staff_view["officer"]["sourceRecords"]
    assert record["sourceKey"] == "E-1001" and record["source"].endswith("/RMS")
    assert "Whitfield" in record["payload"]


async def test_public_officer_view_by_public_id(client, world):
    made = await data(client, REGISTER, {"in": {"firstName": "Lee", "lastName": "Ortiz",
                                                "dateOfBirth": "1979-04-02", "postId": "P-77"}},
                      token=world.tokens["staff"])
    public_id = made["registerOfficer"]["publicId"]
    assert public_id != made["registerOfficer"]["id"]
    response = await client.post("/public/graphql", json={
        "query": "query($p: ID!) { officer(publicId: $p) { publicId fullName } }",
        "variables": {"p": public_id}})
    assert response.json()["data"]["officer"] == {"publicId": public_id, "fullName": "Lee Ortiz"}
    for private in ("1979", "P-77", made["registerOfficer"]["id"]):
        assert private not in response.text
    bad = await client.post("/public/graphql", json={
        "query": "{ officer(publicId: \"../../etc/passwd\") { fullName } }"})
    assert bad.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_health_and_requests_when_the_database_is_unreachable(database_url):
    # Port 1 on loopback: nothing listens, so connecting fails at once.
    app = create_app(Settings(database_url="postgresql://postgres@127.0.0.1:1/registry"))
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://t") as client:
        health = await client.get("/healthz")
        assert health.status_code == 503 and health.json()["database"] == "down"
        public = await client.post("/public/graphql", json={"query": "{ officers { edges "
                                                                     "{ node { fullName } } } }"})
        assert public.status_code == 503
        assert public.json()["errors"][0]["extensions"]["code"] == "DATABASE_UNAVAILABLE"
        private = await client.post("/graphql", json={"query": "{ me { name } }"},
                                    headers={"Authorization": "Bearer reg_" + "0" * 32 + "_x"})
        assert private.status_code == 503
    await app.state.engine.dispose()


async def test_health_ok(client):
    response = await client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok", "database": "up"}


async def test_a_pooled_connection_the_server_closed_is_replaced_without_a_failed_request(
        app, client, world, owner_engine):
    """Requests ping their pooled connection (one round trip) and replace it when the server
    has closed it (a restart, an administrator's pg_terminate_backend): the first request
    after that is served, not answered 503."""
    me = "{ me { role } }"
    assert (await data(client, me, token=world.tokens["staff"]))["me"]["role"] == "POST_STAFF"
    pooled = app.state.engine.pool.checkedin()
    assert pooled >= 1
    async with owner_engine.connect() as conn:
        closed = (await conn.execute(text(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = 'registry' AND pid <> pg_backend_pid() "
            "AND datname = current_database()"))).scalar_one()
    assert closed >= pooled
    for _ in range(2):
        response = await client.post("/graphql", json={"query": me},
                                     headers=world.headers("staff"))
        assert response.status_code == 200, response.text
        assert response.json()["data"]["me"]["role"] == "POST_STAFF"
    assert (await client.get("/healthz")).status_code == 200


async def test_hand_written_sql_runs_in_the_sessions_current_transaction(engine):
    """run_sql's statements belong to the session's transaction, also after a commit or a
    rollback has started a new one (driver() remembers the connection per transaction)."""
    from sqlmodel.ext.asyncio.session import AsyncSession

    from registry.database import run_sql

    async def transaction_id(session: AsyncSession) -> str:
        return (await run_sql(session, "SELECT CAST(pg_current_xact_id() AS text)")
                ).scalar_one()

    async with AsyncSession(engine) as session:
        first = await transaction_id(session)
        assert await transaction_id(session) == first
        await session.commit()
        second = await transaction_id(session)
        assert second != first and await transaction_id(session) == second
        await run_sql(session, "CREATE TEMP TABLE scratch (n int) ON COMMIT DROP")
        await session.rollback()  # ends what run_sql did: the table is gone
        third = await transaction_id(session)
        assert third not in (first, second)
        assert (await run_sql(session, "SELECT to_regclass('pg_temp.scratch') IS NULL")
                ).scalar_one()
