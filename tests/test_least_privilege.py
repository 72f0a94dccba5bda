"""Least privilege and secrets: the service's database role reads and appends but cannot
alter, destroy or rewrite; `registry audit verify` finds a row the owner tampered with; API
tokens never appear in logs or responses; database passwords are never printed.

The ``engine`` and ``client`` fixtures connect as the service role (tests/conftest.py), so
every other test also proves the service works with these privileges."""

import asyncio
import logging
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from registry.cli import app as cli_app
from registry.database import is_privileged, resolve_database_url, session_scope
from registry.keys import service as keys
from registry.redact import RedactTokens
from registry.settings import Settings, get_settings, masked_url
from tests.conftest import ROOT, SYSTEM, World, gql

# What the service may change besides appending (db/versions/0007_least_privilege.py).
UPDATABLE = {"agencies", "officers", "certifications", "stints", "findings", "convictions",
             "cases", "board_members", "appeals", "external_actions", "referrals", "webhooks",
             "webhook_deliveries", "load_runs"}
DELETABLE = {"webhooks"}
TRIGGER_WRITTEN = {"match_keys", "alembic_version"}  # and every *_history table


async def _audit_rows(engine: AsyncEngine) -> list[tuple]:
    async with engine.connect() as conn:
        return [tuple(r) for r in await conn.execute(text(
            "SELECT id, hash FROM audit_events ORDER BY id"))]


# --- The service role ------------------------------------------------------------------------


async def test_the_service_role_is_an_ordinary_login_that_owns_nothing(engine):
    async with engine.connect() as conn:
        role = (await conn.execute(text(
            "SELECT current_user AS name, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, "
            "has_database_privilege(current_database(), 'CREATE') AS create_in_database, "
            "has_schema_privilege('public', 'CREATE') AS create_in_schema, "
            "has_database_privilege(current_database(), 'TEMPORARY') AS temporary, "
            "(SELECT count(*) FROM pg_class WHERE relowner = r.oid) AS owns "
            "FROM pg_roles r WHERE rolname = current_user"))).one()
    assert role.name == Settings().service_role
    assert not (role.rolsuper or role.rolcreaterole or role.rolcreatedb or role.rolbypassrls)
    assert not role.create_in_database and not role.create_in_schema
    assert role.temporary  # loaders and the NDI export stage rows in temporary tables
    assert role.owns == 0


def test_serve_warns_only_about_a_superuser_or_owner(owner_url, database_url):
    assert is_privileged(owner_url) and not is_privileged(database_url)


async def test_the_service_may_update_and_delete_only_where_it_edits(engine):
    async with engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT tablename, has_table_privilege(format('public.%I', tablename), 'SELECT'), "
            "has_table_privilege(format('public.%I', tablename), 'INSERT'), "
            "has_table_privilege(format('public.%I', tablename), 'UPDATE'), "
            "has_table_privilege(format('public.%I', tablename), 'DELETE'), "
            "has_table_privilege(format('public.%I', tablename), 'TRUNCATE'), "
            "has_any_column_privilege(format('public.%I', tablename), 'UPDATE') "
            "FROM pg_tables WHERE schemaname = 'public'"))).all()
    tables = {r[0]: r[1:] for r in rows}
    assert {"audit_events", "votes", "final_orders", "api_keys"} <= tables.keys()
    assert all(select for select, *_ in tables.values())
    appendable = {t for t, (_, insert, *_) in tables.items() if insert}
    assert appendable == tables.keys() - TRIGGER_WRITTEN - {t for t in tables
                                                            if t.endswith("_history")}
    assert {t for t, (_, _, update, *_) in tables.items() if update} == UPDATABLE
    assert {t for t, (*_, delete, _, _) in tables.items() if delete} == DELETABLE
    assert not any(truncate for *_, truncate, _ in tables.values())
    # api_keys: only revoked_at (a key's role, agency or token hash never changes).
    assert {t for t, (*_, any_column) in tables.items() if any_column} == UPDATABLE | {"api_keys"}
    async with engine.connect() as conn:
        columns = (await conn.execute(text(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'api_keys'::regclass "
            "AND attnum > 0 AND has_column_privilege('api_keys', attname, 'UPDATE')"))
                   ).scalars().all()
    assert columns == ["revoked_at"]


@pytest.mark.parametrize(("statement", "refusal"), [
    ("UPDATE audit_events SET actor = 'someone else'", "permission denied for table"),
    ("DELETE FROM audit_events", "permission denied for table"),
    ("TRUNCATE audit_events", "permission denied for table"),
    ("DROP TABLE audit_events", "must be owner of table"),
    ("ALTER TABLE audit_events DISABLE TRIGGER USER", "must be owner of table"),
    ("ALTER TABLE audit_events ADD COLUMN note text", "must be owner of table"),
    ("DROP TRIGGER audit_events_chain ON audit_events", "must be owner of relation"),
    ("CREATE TABLE public.shadow (id int)", "permission denied for schema public"),
    ("CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
     "permission denied for schema public"),
    ("SET session_replication_role = replica", "permission denied to set parameter"),
    ("UPDATE votes SET vote = 'yes'", "permission denied for table"),
    ("DELETE FROM agencies", "permission denied for table"),
    ("INSERT INTO agencies_history SELECT *, now() FROM agencies", "permission denied"),
    ("TRUNCATE match_keys", "permission denied for table"),
    ("SELECT registry_rebuild_match_keys()", "permission denied for table"),
    ("UPDATE api_keys SET role = 'admin'", "permission denied for table"),
])
async def test_the_service_role_cannot_alter_destroy_or_rewrite(engine, world, statement,
                                                                 refusal):
    before = await _audit_rows(engine)
    assert before
    with pytest.raises(DBAPIError, match=refusal):
        async with engine.begin() as conn:
            await conn.execute(text(statement))
    assert await _audit_rows(engine) == before


async def test_the_service_still_writes_and_audits(client, engine, world: World):
    before = await _audit_rows(engine)
    created = await gql(client, """mutation { createAgency(input: {state: "VA",
                        name: "Chesterfield County Police Department", agencyType: POLICE,
                        ori: "VA0200000"}) { id } }""", token=world.tokens["staff"])
    agency_id = created.json()["data"]["createAgency"]["id"]
    corrected = await gql(client, """mutation($id: ID!) { correctAgency(id: $id, reason: "name",
                          expectedVersion: 1, input: {state: "VA", agencyType: POLICE,
                          name: "Chesterfield Police", ori: "VA0200000"}) { version } }""",
                          {"id": agency_id}, token=world.tokens["staff"])
    assert corrected.json()["data"]["correctAgency"]["version"] == 2
    async with engine.connect() as conn:
        operations = (await conn.execute(text(
            "SELECT operation FROM audit_events WHERE id > :after ORDER BY id"),
            {"after": before[-1][0]})).scalars().all()
        # The history trigger writes as the owner: the service itself cannot.
        history = (await conn.execute(text("SELECT count(*) FROM agencies_history"))).scalar()
    assert operations == ["agency.create", "agency.correct"]
    assert history == 1


# --- `registry audit verify` -----------------------------------------------------------------


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("REGISTRY_DATABASE_URL", database_url)  # the service role: it only reads
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


async def _invoke(runner: CliRunner, *args: str) -> Result:
    # The commands run their own event loop: off this one.
    return await asyncio.to_thread(runner.invoke, cli_app, list(args))


async def test_audit_verify_finds_the_row_the_owner_tampered_with(cli, engine, owner_engine,
                                                                   world):
    events = await _audit_rows(engine)
    intact = await _invoke(cli, "audit", "verify")
    assert intact.exit_code == 0, intact.output
    assert f"Audit chain intact: {len(events)} events; head hash {events[-1][1].hex()}" \
        in intact.output

    target = events[3][0]
    async with owner_engine.begin() as conn:  # only the owner can switch the triggers off
        await conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        await conn.execute(text("UPDATE audit_events SET actor = 'nobody' WHERE id = :id"),
                           {"id": target})
        await conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))

    broken = await _invoke(cli, "audit", "verify")
    assert broken.exit_code == 1
    assert f"event {target}: its content does not match its hash" in broken.output
    assert f"the audit chain breaks at event {target} (1 problems in {len(events)} events)" \
        in broken.output


# --- API tokens never in logs or errors ------------------------------------------------------


async def test_tokens_appear_in_no_log_and_no_response(client, engine, owner_engine, world,
                                                        caplog):
    caplog.set_level(logging.DEBUG)  # every logger, SQLAlchemy's statements included
    valid, revoked = world.tokens["staff"], world.tokens["agency_b"]
    unknown = "reg_" + "0" * 32 + "_" + "A" * 43
    malformed = "reg_not-a-key_" + "B" * 43
    async with session_scope(engine) as session:
        await keys.revoke(session=session, actor=SYSTEM,
                          key_id=uuid.UUID(hex=revoked.split("_")[1]))
    query = {"query": "{ me { name } }"}
    responses = [
        await client.post("/graphql", json=query, headers={"Authorization": f"Bearer {t}"})
        for t in (valid, revoked, unknown, malformed)
    ]
    responses += [
        await client.post("/graphql", json=query, headers={"Authorization": f"Basic {valid}"}),
        await client.post("/graphql", json=query, headers={"Authorization": valid}),
        # A token in the query string is not a way in, and is not echoed either.
        await client.get("/graphql", params={**query, "access_token": valid}),
        await client.get("/reports/background-checks/00000000-0000-0000-0000-000000000000",
                         headers={"Authorization": f"Bearer {revoked}"}),
    ]
    assert [r.status_code for r in responses] == [200] + [401] * 7
    # A database error during a request with a valid key: logged with its traceback, reported
    # with the request id only.
    async with owner_engine.begin() as conn:
        await conn.execute(text(f"REVOKE INSERT ON agencies FROM {Settings().service_role}"))
    failed = await client.post("/graphql", headers={"Authorization": f"Bearer {valid}"}, json={
        "query": 'mutation { createAgency(input: {state: "VA", name: "Failing PD", '
                 "agencyType: POLICE}) { id } }"})
    assert failed.json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert any(r.exc_info for r in caplog.records), "the failure was logged"
    responses.append(failed)

    # The test's HTTP client logs the URLs it requests: that is the caller's side.
    records = [r for r in caplog.records if not r.name.startswith("httpx")]
    formatter = logging.Formatter()
    logged = "".join(formatter.format(r) for r in records)
    assert "permission denied for table agencies" in logged
    for token in (valid, revoked, unknown, malformed):
        secret = token.rsplit("_", 1)[1]
        assert secret not in logged
        for response in responses:
            assert secret not in response.text
            assert secret not in str(response.headers)


def test_the_log_filter_blanks_a_token_in_an_access_log_line():
    token = "reg_" + "ab" * 16 + "_" + "x-Y_z" * 9
    # uvicorn's access record: the path (with its query string) is an argument.
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", f"/graphql?access_token={token}", "1.1",
                                401), None)
    try:
        raise ValueError(f"bad {token}")
    except ValueError:
        failure = logging.LogRecord("registry", logging.ERROR, __file__, 1, "failed: %s",
                                    (token,), sys.exc_info())
    for r in (record, failure):
        assert RedactTokens().filter(r)
    assert token not in record.getMessage() and "reg_[redacted]" in record.getMessage()
    assert token not in failure.getMessage() and token not in (failure.exc_text or "x" + token)


# --- `registry serve`: the access log and the printed URLs -----------------------------------


def _with_password(url: str, password: str) -> str:
    return make_url(url).set(password=password).render_as_string(hide_password=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str | None = None) -> int:
    request = urllib.request.Request(url, headers={"Accept": "application/json",
                                                   **({"Authorization": f"Bearer {token}"}
                                                      if token else {})})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code
    except urllib.error.URLError:
        return 0  # not listening (yet)


@pytest.fixture
def served(owner_url: str, database_url: str, world: World, tmp_path: Path
           ) -> Iterator[tuple[int, subprocess.Popen[str], Path]]:
    """`registry serve` in its own process, both URLs carrying passwords (the test server
    trusts local connections, so any password works)."""
    port = _free_port()
    log = tmp_path / "serve.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "REGISTRY_OWNER_DATABASE_URL": _with_password(owner_url, "owner-pw-8d1f"),
           "REGISTRY_DATABASE_URL": _with_password(database_url, "service-pw-5c2e")}
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "registry.cli", "serve", "--port",
                                    str(port)], cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while _get(f"http://127.0.0.1:{port}/healthz") != 200:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        yield port, process, log
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_serve_prints_no_password_and_logs_no_token(served, world: World):
    port, process, log = served
    token = world.tokens["staff"]
    base = f"http://127.0.0.1:{port}"
    assert _get(f"{base}/graphql?query=%7Bme%7Bname%7D%7D", token) == 200
    assert _get(f"{base}/graphql?query=%7Bme%7Bname%7D%7D&access_token={token}") == 401
    process.terminate()
    process.wait(timeout=15)
    output = log.read_text()
    assert re.search(r"Migrated as postgresql://postgres:\*\*\*@/test_\w+.*; serving as "
                     r"postgresql://registry_app:\*\*\*@/test_\w+", output), output
    assert "owner-pw-8d1f" not in output and "service-pw-5c2e" not in output
    assert "warning" not in output  # the service's role owns nothing
    assert '"GET /graphql?query=%7Bme%7Bname%7D%7D&access_token=reg_[redacted] HTTP/1.1" 401' \
        in output, output
    assert token.rsplit("_", 1)[1] not in output


# --- Settings --------------------------------------------------------------------------------


def test_settings_show_no_password_and_carry_none_by_default(monkeypatch):
    for name in list(os.environ):
        if name.startswith("REGISTRY_"):
            monkeypatch.delenv(name)
    defaults = Settings()
    assert defaults.database_url is None and defaults.owner_database_url is None
    for value in defaults.model_dump().values():
        assert "://" not in str(value)

    settings = Settings(database_url="postgresql://registry_app:s3cr3t-a@db.example/registry",
                        owner_database_url="postgresql://owner:s3cr3t-b@db.example/registry")
    for shown in (repr(settings), str(settings)):
        assert "s3cr3t" not in shown
        assert "postgresql://registry_app:***@db.example/registry" in shown
    assert masked_url("postgresql://u:p4ss@h/d") == "postgresql://u:***@h/d"


def test_a_service_url_for_another_role_is_refused_without_echoing_it():
    with pytest.raises(ValueError, match="connects as 'owner' but REGISTRY_SERVICE_ROLE is "
                                         "'registry_app'") as refused:
        Settings(database_url="postgresql://owner:s3cr3t-c@db.example/registry",
                 owner_database_url="postgresql://owner:s3cr3t-c@db.example/registry")
    assert "s3cr3t" not in str(refused.value)
    with pytest.raises(ValueError) as bad:
        Settings(service_role="Robert'); DROP TABLE audit_events;--")
    assert "DROP" not in str(bad.value)


def test_an_owner_url_alone_serves_its_database_as_the_service_role(monkeypatch, tmp_path):
    # Not the embedded server: that would also replace the owner URL, and the migrations
    # would run on another database than the one the operator named.
    monkeypatch.delenv("REGISTRY_DATABASE_URL", raising=False)
    settings = Settings(owner_database_url="postgresql://owner:s3cr3t-d@db.example/registry",
                        data_dir=tmp_path / "embedded")
    assert resolve_database_url(settings) == "postgresql://registry_app@db.example/registry"
    assert settings.owner_database_url == "postgresql://owner:s3cr3t-d@db.example/registry"
    assert os.environ["REGISTRY_DATABASE_URL"] == settings.database_url
    assert not (tmp_path / "embedded").exists()


def test_wrong_settings_are_named_before_any_command_without_a_traceback(monkeypatch):
    for name in list(os.environ):
        if name.startswith("REGISTRY_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("REGISTRY_DATABASE_URL", "postgresql://owner:s3cr3t-e@db.example/r")
    monkeypatch.setenv("REGISTRY_OWNER_DATABASE_URL", "postgresql://owner:s3cr3t-e@db.example/r")
    get_settings.cache_clear()
    try:
        for command in (["keys", "list"], ["db", "upgrade"], ["load", "roster", "x.csv"]):
            result = CliRunner().invoke(cli_app, command)
            assert result.exit_code == 1, result.output
            shown = " ".join(result.output.split())
            assert "REGISTRY_DATABASE_URL connects as 'owner' but REGISTRY_SERVICE_ROLE" in shown
            assert "s3cr3t" not in result.output and "Traceback" not in result.output
    finally:
        get_settings.cache_clear()


async def test_db_upgrade_prints_no_password(owner_url, database_url, monkeypatch):
    monkeypatch.setenv("REGISTRY_OWNER_DATABASE_URL", _with_password(owner_url, "owner-pw-71"))
    monkeypatch.setenv("REGISTRY_DATABASE_URL", _with_password(database_url, "svc-pw-72"))
    get_settings.cache_clear()
    try:
        result = await _invoke(CliRunner(), "db", "upgrade")
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "migrated as postgresql://postgres:***@" in result.output
    assert "owner-pw-71" not in result.output and "svc-pw-72" not in result.output


async def test_commands_before_migrating_say_what_to_do(server_url, monkeypatch):
    """A fresh server has no service role until the first migration creates it."""
    monkeypatch.setenv("REGISTRY_DATABASE_URL", make_url(server_url).set(
        username="registry_not_created_yet").render_as_string(hide_password=False))
    monkeypatch.setenv("REGISTRY_SERVICE_ROLE", "registry_not_created_yet")
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    try:
        result = await _invoke(CliRunner(), "keys", "list")
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "service role registry_not_created_yet does not exist yet; run `registry db " \
           "upgrade`" in result.output
