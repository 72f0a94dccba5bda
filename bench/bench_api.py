"""Benchmark: GraphQL over HTTP against the same SQL run directly, in one run.

For each case the script first runs every sampled request once in-process and records the
exact SQL statements (with parameters) the service sent. It then times
  - HTTP: the requests against `registry serve --workers N` on loopback, C at a time;
  - SQL: the recorded statements replayed with asyncpg on C connections, request by request,
    each request's in one transaction as the service runs them (a background check's trail
    is atomic; without it every INSERT would commit on its own and locks would not hold).
The two take turns, 50 requests at a time, so that both meet the same drift of the page
cache and of the machine's other load.
The ratio HTTP/SQL is the figure that matters (these machines are noisy; absolute numbers
move, ratios measured in one run do not).

    .venv/bin/python bench/bench_api.py --help
"""

import asyncio
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import asyncpg
import httpx2
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from registry.actors import Actor  # noqa: E402
from registry.app import create_app  # noqa: E402
from registry.database import asyncpg_url, observe_statements, resolve_owner_url, session_scope  # noqa: E402
from registry.keys import service as keys  # noqa: E402
from registry.keys.models import Role  # noqa: E402
from registry.settings import Settings  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from bench_public import read_response  # noqa: E402

console = Console(width=150)

OFFICER = (ROOT / "graphql" / "operations" / "Officer.graphql").read_text()
OFFICERS = (ROOT / "graphql" / "operations" / "Officers.graphql").read_text()


@dataclass
class Case:
    name: str
    query: str
    variables: list[dict[str, Any]]


@dataclass
class Timing:
    latencies_ms: list[float]
    seconds: float

    def add(self, other: "Timing") -> None:
        self.latencies_ms += other.latencies_ms
        self.seconds += other.seconds

    def row(self) -> tuple[str, str, str]:
        lat = sorted(self.latencies_ms)
        p50 = statistics.median(lat)
        p95 = lat[min(len(lat) - 1, int(len(lat) * 0.95))]
        return f"{p50:.2f}", f"{p95:.2f}", f"{len(lat) / self.seconds:.0f}"


async def sample_cases(url: str, n: int, seed: int) -> list[Case]:
    """Random officers for `officer(id)`, random roster positions for one `officers` page."""
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        total = await conn.fetchval("SELECT count(*) FROM officers")
        if not total:
            raise typer.BadParameter("the database has no officers; run bench/generate.py")
        pct = min(100.0, 100.0 * n * 4 / total)
        rows = await conn.fetch(
            f"SELECT id, sort_key FROM officers TABLESAMPLE SYSTEM ({pct}) REPEATABLE ({seed}) "
            f"WHERE canonical_id = id LIMIT {n}")
    finally:
        await conn.close()
    from registry.api.relay import encode_cursor

    return [
        Case("officer by id (full record)", OFFICER, [{"id": str(r["id"])} for r in rows]),
        Case("officers page (25, keyset)", OFFICERS,
             [{"first": 25, "after": encode_cursor(r["sort_key"], r["id"])} for r in rows]),
    ]


async def record_sql(settings: Settings, token: str, case: Case
                     ) -> list[list[tuple[str, tuple]]]:
    """The statements each request of `case` sends, captured in-process."""
    app = create_app(settings)
    captured: list[tuple[str, tuple]] = []
    per_request = []
    transport = httpx2.ASGITransport(app=app)
    with observe_statements(app.state.engine, lambda sql, args: captured.append((sql, args))):
        async with httpx2.AsyncClient(transport=transport, base_url="http://bench") as client:
            for variables in case.variables:
                captured.clear()
                r = await client.post("/graphql",
                                      json={"query": case.query, "variables": variables},
                                      headers={"Authorization": f"Bearer {token}"})
                body = r.json()
                assert r.status_code == 200 and "errors" not in body, body
                per_request.append(list(captured))
    await app.state.engine.dispose()
    return per_request


async def time_sql(url: str, requests: list[list[tuple[str, tuple]]], concurrency: int
                   ) -> Timing:
    pool = await asyncpg.create_pool(asyncpg_url(url), min_size=concurrency,
                                     max_size=concurrency)
    latencies: list[float] = []
    queue = list(requests)

    async def worker() -> None:
        async with pool.acquire() as conn:
            while queue:
                statements = queue.pop()
                t0 = time.perf_counter()
                async with conn.transaction():  # one per request, as the service runs it
                    for sql, params in statements:
                        await conn.fetch(sql, *params)
                latencies.append((time.perf_counter() - t0) * 1000)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - start
    await pool.close()
    return Timing(latencies, seconds)


class Connection:
    """One keep-alive HTTP/1.1 connection that POSTs JSON, read with bench_public's minimal
    reader. The timed client should cost little beside the server, as asyncpg does beside
    PostgreSQL on the SQL side: httpx takes ~0.5 ms of CPU per request on these machines,
    which is not the service's."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 head: bytes) -> None:
        self.reader, self.writer, self.head = reader, writer, head

    @classmethod
    async def open(cls, base: str, path: str, headers: dict[str, str]) -> "Connection":
        url = urlsplit(base)
        reader, writer = await asyncio.open_connection(url.hostname, url.port)
        lines = [f"POST {path} HTTP/1.1", f"Host: {url.netloc}",
                 "Content-Type: application/json",
                 "Accept: application/graphql-response+json",
                 *(f"{k}: {v}" for k, v in headers.items())]
        return cls(reader, writer, ("\r\n".join(lines) + "\r\nContent-Length: ").encode())

    async def post(self, body: dict[str, Any]) -> tuple[int, bytes]:
        data = json.dumps(body).encode()
        self.writer.write(self.head + str(len(data)).encode() + b"\r\n\r\n" + data)
        return await read_response(self.reader)

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


async def time_http(base: str, token: str, case: Case, concurrency: int) -> Timing:
    latencies: list[float] = []
    queue = list(case.variables)

    async def worker() -> None:
        connection = await Connection.open(base, "/graphql",
                                           {"Authorization": f"Bearer {token}"})
        try:
            while queue:
                variables = queue.pop()
                t0 = time.perf_counter()
                status, body = await connection.post({"query": case.query,
                                                      "variables": variables})
                latencies.append((time.perf_counter() - t0) * 1000)
                assert status == 200, body.decode()
        finally:
            await connection.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Timing(latencies, time.perf_counter() - start)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(url: str, port: int, workers: int, *, env: dict[str, str] | None = None,
                 log: Path | None = None) -> subprocess.Popen:
    """`registry serve` on loopback, connecting with ``url``, once /healthz answers; ``env``
    adds settings, ``log`` takes its output (tracebacks of internal errors)."""
    environment = {**os.environ, "REGISTRY_DATABASE_URL": url, **(env or {})}
    out = log.open("wb") if log else subprocess.PIPE
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "registry.cli", "serve", "--port", str(port), "--workers",
             str(workers)], env=environment, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=out)
    finally:
        if log:
            out.close()  # type: ignore[union-attr]
    deadline = time.time() + 90
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited; see {log or 'its output'}")
        try:
            if httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx2.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("the server did not become healthy within 90 s")


async def make_token(settings: Settings, role: Role = Role.POST_STAFF,
                     agency_ori: str | None = None) -> str:
    from registry.database import create_engine

    engine = create_engine(settings.database_url or "", settings)
    async with session_scope(engine) as session:
        _, token = await keys.create(session=session, actor=Actor.system("bench"),
                                     role=role, name=f"bench {role.value}",
                                     agency_ori=agency_ori)
    await engine.dispose()
    return token


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{platform.machine()}, {os.cpu_count()} cores, {mem:.0f} GiB, "
            f"Python {platform.python_version()}")


Statements = list[tuple[str, tuple]]
ROUND = 50  # requests per turn of each side


def compare(title: str, settings: Settings, url: str, token: str, cases: list[Case],
            concurrency: int, workers: int, seed: int,
            replayable: Callable[[Statements], Statements] | None = None) -> Table:
    """Time every case over HTTP against a server on loopback and as its recorded SQL;
    ``replayable`` adapts a request's recorded statements for their replay (new ids for
    the rows it inserts)."""
    port = free_port()
    # The server and the replayed SQL connect as the service role, as in production.
    service = settings.database_url or url
    server = start_server(service, port, workers)
    base = f"http://127.0.0.1:{port}"
    table = Table(title=f"{title} — {asyncio.run(_count(url)):,} officers — {machine()}; "
                        f"{workers} uvicorn workers, {concurrency} in flight")
    for column in ("case", "requests", "HTTP p50 ms", "HTTP p95 ms", "HTTP req/s",
                   "SQL p50 ms", "SQL p95 ms", "SQL req/s", "p50 ratio", "p95 ratio"):
        table.add_column(column)
    try:
        with Progress(console=console) as progress:
            task = progress.add_task("benchmark", total=sum(len(c.variables) for c in cases))
            for case in cases:
                recorded = asyncio.run(record_sql(settings, token, case))
                if replayable is not None:
                    recorded = [replayable(r) for r in recorded]
                random.Random(seed).shuffle(case.variables)
                http, sql = Timing([], 0.0), Timing([], 0.0)
                # HTTP and SQL take turns, a round each, first one then the other: the page
                # cache and the machine's other load drift over seconds, and each side
                # should meet the same drift.
                for turn, at in enumerate(range(0, len(case.variables), ROUND)):
                    part = replace(case, variables=case.variables[at:at + ROUND])
                    sides = [(http, partial(time_http, base, token, part, concurrency)),
                             (sql, partial(time_sql, service, recorded[at:at + ROUND],
                                           concurrency))]
                    for total, run in sides if turn % 2 == 0 else reversed(sides):
                        total.add(asyncio.run(run()))
                    progress.advance(task, len(part.variables))
                h, s = http.row(), sql.row()
                table.add_row(case.name, str(len(case.variables)), *h, *s,
                              f"{float(h[0]) / float(s[0]):.2f}x",
                              f"{float(h[1]) / float(s[1]):.2f}x")
    finally:
        server.terminate()
        server.wait(10)
    return table


def owner_settings(url: str, **given: Any) -> Settings:
    """Settings for bench code that runs as the owner of the tables (its setup writes what the
    service role may not, in the transaction it rolls back): the service role is that user."""
    return Settings(database_url=url, service_role=make_url(url).username or "postgres",
                    **given)


def bench_settings(database_url: str | None) -> Settings:
    """The bench database: the URL given, REGISTRY_DATABASE_URL, else ./.registry-bench."""
    data_dir = Path(os.environ.get("REGISTRY_DATA_DIR", ROOT / ".registry-bench"))
    return Settings(database_url=database_url or os.environ.get("REGISTRY_DATABASE_URL"),
                    data_dir=data_dir)


def main(
    requests: Annotated[int, typer.Option(help="Requests per case.")] = 2000,
    concurrency: Annotated[int, typer.Option(help="Requests in flight at once.")] = 8,
    workers: Annotated[int, typer.Option(help="uvicorn workers.")] = 2,
    database_url: Annotated[str | None, typer.Option(
        help="Default: REGISTRY_DATABASE_URL, else the embedded server in ./.registry-bench")]
    = None,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 11,
) -> None:
    """GraphQL over HTTP vs the same SQL run directly: p50/p95 and requests/s per case."""
    settings = bench_settings(database_url)
    url = resolve_owner_url(settings)
    token = asyncio.run(make_token(settings))
    cases = asyncio.run(sample_cases(url, requests, seed))
    console.print(compare("API vs direct SQL", settings, url, token, cases, concurrency,
                          workers, seed))


async def _count(url: str) -> int:
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        return await conn.fetchval("SELECT count(*) FROM officers")
    finally:
        await conn.close()


if __name__ == "__main__":
    typer.run(main)
