"""Test fixtures. Every test gets its own freshly migrated database on a real PostgreSQL:
the embedded server (in ``.registry-test/``) unless ``REGISTRY_TEST_DATABASE_URL`` names a
server to use. Databases are cloned from a template migrated once per run, so each test starts
from the schema alone and cannot see another test's rows."""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from registry import migrations
from registry.actors import Actor
from registry.agencies import service as agencies
from registry.agencies.models import AgencyType
from registry.app import create_app
from registry.database import (
    create_engine,
    execute,
    session_scope,
    start_embedded_server,
)
from registry.keys import service as keys
from registry.keys.models import Role
from registry.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
# One template per test run, so that runs sharing a server do not drop each other's.
TEMPLATE = f"registry_template_{os.getpid()}"


def _server_url() -> str:
    given = os.environ.get("REGISTRY_TEST_DATABASE_URL")
    if given:
        return given
    return start_embedded_server(ROOT / ".registry-test")


def _database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    url = _server_url()
    asyncio.run(execute(url, f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)",
                       f"CREATE DATABASE {TEMPLATE}"))
    migrations.upgrade(_database(url, TEMPLATE))
    yield url
    asyncio.run(execute(url, f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)"))


@pytest.fixture
def owner_url(server_url: str) -> Iterator[str]:
    """A fresh database, as the role that owns its tables (the server's superuser)."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    asyncio.run(execute(server_url, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
    yield _database(server_url, name)
    asyncio.run(execute(server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture
def database_url(owner_url: str) -> str:
    """The same database as the service role, as the service connects in production: every
    test through ``settings``, ``engine`` and ``client`` runs with the service's privileges."""
    return make_url(owner_url).set(username=Settings().service_role, password=None
                                   ).render_as_string(hide_password=False)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, state="VA", max_query_depth=12)


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.database_url or "", settings)
    yield engine
    await engine.dispose()


@pytest.fixture
async def owner_engine(owner_url: str, settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The tables' owner, for what the service may not do (tampering, triggers off)."""
    engine = create_engine(owner_url, settings)
    yield engine
    await engine.dispose()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings)
    yield application
    await application.state.engine.dispose()


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx2.AsyncClient]:
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://registry.test") as c:
        yield c


SYSTEM = Actor.system("tests")


@dataclass
class World:
    """Two agencies and a key for each role (two agency keys, one per agency)."""

    agency_a: Any
    agency_b: Any
    tokens: dict[str, str]

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
async def world(engine: AsyncEngine) -> World:
    async with session_scope(engine) as session:
        a = await agencies.create(session=session, actor=SYSTEM, agency_in=agencies.AgencyIn(
            state="VA", name="Richmond Police Department", agency_type=AgencyType.POLICE,
            ori="VA1220000"))
        b = await agencies.create(session=session, actor=SYSTEM, agency_in=agencies.AgencyIn(
            state="VA", name="Henrico County Police Division", agency_type=AgencyType.POLICE,
            ori="VA0430100"))
        tokens = {}
        for who, role, ori in (("admin", Role.ADMIN, None), ("staff", Role.POST_STAFF, None),
                               ("board", Role.BOARD_MEMBER, None),
                               ("agency_a", Role.AGENCY, "VA1220000"),
                               ("agency_b", Role.AGENCY, "VA0430100")):
            _, tokens[who] = await keys.create(session=session, actor=SYSTEM, role=role,
                                               name=f"test {who}", agency_ori=ori)
    return World(a, b, tokens)


async def gql(client: httpx2.AsyncClient, query: str, variables: dict | None = None, *,
              token: str | None = None, path: str = "/graphql") -> httpx2.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await client.post(path, json={"query": query, "variables": variables or {}},
                             headers=headers)


async def data(client: httpx2.AsyncClient, query: str, variables: dict | None = None, *,
               token: str | None = None, path: str = "/graphql") -> dict:
    """Run an operation that must succeed; return its data."""
    response = await gql(client, query, variables, token=token, path=path)
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    return body["data"]


async def error_code(client: httpx2.AsyncClient, query: str, variables: dict | None = None, *,
                     token: str | None = None) -> str:
    """Run an operation that must fail with one error; return its extensions.code."""
    body = (await gql(client, query, variables, token=token)).json()
    assert body.get("errors"), body
    return body["errors"][0]["extensions"]["code"]


async def row_counts(engine: AsyncEngine) -> dict[str, int]:
    """Rows in every table: 'nothing half-written' means this does not change."""
    from sqlalchemy import text

    async with engine.connect() as conn:
        tables = (await conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'alembic_version' ORDER BY 1"))).scalars().all()
        return {t: (await conn.execute(text(f'SELECT count(*) FROM "{t}"'))).scalar_one()
                for t in tables}
