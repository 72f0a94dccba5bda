"""Benchmark: the public search over HTTP against a bare starlette endpoint running the same
SQL, in one run.

Three servers' worth of requests, each case against `--workers` uvicorn workers on loopback:
  - GraphQL: `searchOfficers` (graphql/operations/public/SearchOfficers.graphql) on
    `registry serve`, POSTed as JSON;
  - HTML: the search page `/?name=...` on the same server;
  - bare: a starlette app with one route (`bare_app` below) that parses the name the same
    way, runs the same statement (registry/transparency/repository.py) on its own asyncpg
    pool and returns the same fields as JSON, under the same uvicorn settings.
The ratio of each case to the bare endpoint is the figure: it is what the GraphQL layer (or
the page) costs on top of the SQL. Names are sampled from the officers with TABLESAMPLE, as
the public types them (first and last name). The client is a minimal HTTP/1.1 keep-alive
client on asyncio streams, so that it takes as little of the 2 cores as it can.

    .venv/bin/python bench/bench_public.py --help
"""

import asyncio
import json
import os
import platform
import random
import re
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote_plus

import asyncpg
import typer
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from registry.database import asyncpg_url, resolve_owner_url  # noqa: E402
from registry.settings import Settings  # noqa: E402

console = Console(width=150)
OPERATION = (ROOT / "graphql" / "operations" / "public" / "SearchOfficers.graphql").read_text()
_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)


# --- the bare endpoint ------------------------------------------------------------------------


def bare_app() -> Any:
    """The same search without GraphQL: parse, one statement, JSON. Served by uvicorn
    (`--factory`) from this file."""
    from datetime import date

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from registry.transparency import repository
    from registry.transparency.search import parse_name

    settings = Settings()
    url = asyncpg_url(os.environ["REGISTRY_DATABASE_URL"])
    pool: dict[str, asyncpg.Pool] = {}

    async def search(request: Request) -> Response:
        if "pool" not in pool:
            pool["pool"] = await asyncpg.create_pool(
                url, min_size=1, max_size=settings.public_db_pool_size,
                server_settings={"jit": "off", "default_transaction_read_only": "on",
                                 "application_name": "bench-bare"})
        query = parse_name(request.query_params["name"])
        first = int(request.query_params.get("first", "25"))
        # The statement as the GraphQL operation asks for it, or as the search page does
        # (the page also shows where each officer serves).
        extras = (repository.RESULT_EXTRAS if request.query_params.get("extras") == "page"
                  else frozenset({"status", "other_names"}))
        async with pool["pool"].acquire() as conn:
            # What the GraphQL resolver asks for the operation's fields: the statement is
            # the same, character for character.
            rows = await repository.search(conn, query, today=date.today(),
                                           state=settings.state, limit=first + 1,
                                           where=repository.SearchFilter(), after=None,
                                           extras=extras)
        nodes = []
        for r in rows[:first]:
            names = r["other_names"]
            names = json.loads(names) if isinstance(names, str) else names or []
            nodes.append({
                "publicId": r["public_id"],
                "fullName": " ".join(p for p in (r["first_name"], r["middle_name"],
                                                 r["last_name"], r["suffix"]) if p),
                "status": r["status"].upper() if r["status"] else None,
                "otherNames": [{"kind": n["kind"].upper(), "fullName": " ".join(
                    p for p in (n["first_name"], n["middle_name"], n["last_name"],
                                n["suffix"]) if p)} for n in names]})
        return JSONResponse({"nodes": nodes, "hasNextPage": len(rows) > first})

    return Starlette(routes=[Route("/search", search)])


# --- the client -------------------------------------------------------------------------------


@dataclass
class Timing:
    latencies_ms: list[float]
    seconds: float
    errors: int

    @property
    def rps(self) -> float:
        return len(self.latencies_ms) / self.seconds

    def pct(self, p: float) -> float:
        lat = sorted(self.latencies_ms)
        return lat[min(len(lat) - 1, int(len(lat) * p))]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms)


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One HTTP/1.1 answer on a keep-alive connection: its status and body (the server
    sends a Content-Length)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = _LENGTH.search(head)
    if length is None:
        raise RuntimeError(f"response without content-length: {head[:200]!r}")
    return status, await reader.readexactly(int(length.group(1)))


async def run_requests(port: int, requests: list[bytes], concurrency: int) -> Timing:
    """Send ``requests`` (raw HTTP/1.1) over ``concurrency`` keep-alive connections."""
    queue = list(requests)
    latencies: list[float] = []
    errors = 0

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while queue:
                raw = queue.pop()
                t0 = time.perf_counter()
                writer.write(raw)
                status, _ = await read_response(reader)
                latencies.append((time.perf_counter() - t0) * 1000)
                if status != 200:
                    errors += 1
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Timing(latencies, time.perf_counter() - start, errors)


def get(path: str) -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n\r\n").encode()


def post_graphql(name: str, first: int) -> bytes:
    body = json.dumps({"query": OPERATION, "operationName": "SearchOfficers",
                       "variables": {"name": name, "first": first}}).encode()
    return (f"POST /public/graphql HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nAccept: application/graphql-response+json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def fetch_one(port: int, raw: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        return await read_response(reader)
    finally:
        writer.close()


# --- CPU time, from /proc -------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user + system CPU seconds) of a process, None once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def tree_cpu(root: int) -> float:
    """CPU seconds used so far by ``root`` and every process below it (uvicorn's workers)."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (st := _stat(int(entry.name))) is not None:
            parents[int(entry.name)], cpu[int(entry.name)] = st
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += cpu.get(pid, 0.0)
        todo += [child for child, parent in parents.items() if parent == pid]
    return total


async def backend_pids(url: str, application: str) -> list[int]:
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE application_name = $1",
                                application)
    finally:
        await conn.close()
    return [r["pid"] for r in rows]


def pids_cpu(pids: list[int]) -> float:
    return sum(st[1] for pid in pids if (st := _stat(pid)) is not None)


# --- servers, data, machine -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(port: int, path: str, proc: subprocess.Popen) -> None:
    deadline = time.time() + 90
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            status, _ = asyncio.run(fetch_one(port, get(path)))
            if status in (200, 422, 400):
                return
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("the server did not answer within 90 s")


def start_registry(url: str, port: int, workers: int) -> subprocess.Popen:
    env = {**os.environ, "REGISTRY_DATABASE_URL": url,
           # The limiter still runs on every request; the bench's one address must not hit it.
           "REGISTRY_PUBLIC_RATE_LIMIT": "1000000000/minute"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "registry.cli", "serve", "--port", str(port), "--workers",
         str(workers)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_healthy(port, "/healthz", proc)
    return proc


def start_bare(url: str, port: int, workers: int) -> subprocess.Popen:
    env = {**os.environ, "REGISTRY_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    # The same uvicorn settings as `registry serve` (uvloop, httptools, access log on).
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench_public:bare_app", "--factory", "--app-dir",
         str(ROOT / "bench"), "--port", str(port), "--workers", str(workers),
         "--log-level", "info"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    wait_healthy(port, "/search?name=smith", proc)
    return proc


async def sample_names(url: str, n: int, seed: int) -> tuple[list[str], dict[str, Any]]:
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        officers = await conn.fetchval("SELECT count(*) FROM officers")
        if not officers:
            raise typer.BadParameter("the database has no officers; run bench/generate.py")
        pct = min(100.0, 100.0 * n * 4 / officers)
        rows = await conn.fetch(
            f"SELECT first_name, last_name FROM officers TABLESAMPLE SYSTEM ({pct}) "
            f"REPEATABLE ({seed}) WHERE canonical_id = id LIMIT {n}")
        data = {
            "officers": officers,
            "match_keys": await conn.fetchval("SELECT count(*) FROM match_keys"),
            "database": await conn.fetchval(
                "SELECT pg_size_pretty(pg_database_size(current_database()))"),
            "postgres": (await conn.fetchval("SHOW server_version")).split()[0],
        }
    finally:
        await conn.close()
    names = [f"{r['first_name']} {r['last_name']}" for r in rows]
    while len(names) < n:
        names += names[: n - len(names)]
    return names, data


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}"


def check_same_answers(graphql_port: int, bare_port: int, names: list[str], first: int) -> None:
    """The two endpoints return the same people in the same order."""
    for name in names[:20]:
        _, body = asyncio.run(fetch_one(graphql_port, post_graphql(name, first)))
        got = json.loads(body)["data"]["searchOfficers"]["edges"]
        _, bare = asyncio.run(fetch_one(bare_port, get(f"/search?name={quote_plus(name)}"
                                                       f"&first={first}")))
        want = json.loads(bare)["nodes"]
        assert [e["node"] for e in got] == want, (name, got[:2], want[:2])


def main(
    requests: Annotated[int, typer.Option(help="Requests per case.")] = 3000,
    concurrency: Annotated[int, typer.Option(help="Requests in flight at once.")] = 8,
    workers: Annotated[int, typer.Option(help="uvicorn workers of each server.")] = 2,
    first: Annotated[int, typer.Option(help="Page size of each search.")] = 25,
    warmup: Annotated[int, typer.Option(help="Untimed requests per case first.")] = 300,
    rounds: Annotated[int, typer.Option(help="Turns the cases take, a slice of names each.")]
    = 6,
    database_url: Annotated[str | None, typer.Option(
        help="Default: REGISTRY_DATABASE_URL, else the embedded server in ./.registry-bench")]
    = None,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 11,
) -> None:
    """searchOfficers (GraphQL) and the HTML search page against a bare starlette endpoint
    running the same SQL: requests/s, p50 and p95, and the ratios."""
    data_dir = Path(os.environ.get("REGISTRY_DATA_DIR", ROOT / ".registry-bench"))
    settings = Settings(database_url=database_url or os.environ.get("REGISTRY_DATABASE_URL"),
                        data_dir=data_dir)
    url = resolve_owner_url(settings)
    names, data = asyncio.run(sample_names(url, requests, seed))
    rng = random.Random(seed)
    registry_port, bare_port = free_port(), free_port()
    # Both servers connect as the service role, as in production; the owner URL samples.
    service = settings.database_url or url
    servers = [start_registry(service, registry_port, workers)]
    try:
        servers.append(start_bare(service, bare_port, workers))
        check_same_answers(registry_port, bare_port, names, first)
        # (label, port, request, the case whose SQL it runs: its baseline)
        cases = [
            ("bare starlette endpoint, the GraphQL search's SQL (JSON)", bare_port,
             lambda n: get(f"/search?name={quote_plus(n)}&first={first}"), 0),
            ("GraphQL searchOfficers (POST)", registry_port, lambda n: post_graphql(n, first),
             0),
            ("bare starlette endpoint, the search page's SQL (JSON)", bare_port,
             lambda n: get(f"/search?name={quote_plus(n)}&first={first}&extras=page"), 2),
            ("HTML search page /?name=", registry_port,
             lambda n: get(f"/?name={quote_plus(n)}"), 2),
        ]
        # Every name once first, so that the timed cases all find the pages they read in
        # PostgreSQL's buffers (the first case would otherwise pay for a cold cache).
        asyncio.run(run_requests(bare_port, [cases[2][2](n) for n in names], concurrency))
        for _, port, build, _ in cases:
            asyncio.run(run_requests(port, [build(n) for n in names[:warmup]], concurrency))
        apps = {registry_port: servers[0].pid, bare_port: servers[1].pid}
        applications = {registry_port: "registry-public", bare_port: "bench-bare"}
        # The cases take turns, a slice of the names each, so that whatever else runs on
        # the machine meanwhile weighs on all of them alike.
        totals = {label: Timing([], 0.0, 0) for label, _, _, _ in cases}
        cpu = {label: [0.0, 0.0] for label, _, _, _ in cases}
        shuffled = names[:]
        rng.shuffle(shuffled)
        size = -(-len(shuffled) // rounds)
        for start in range(0, len(shuffled), size):
            chunk = shuffled[start:start + size]
            for label, port, build, _ in cases:
                # The pools' PostgreSQL backends (a pool may open more under load: those
                # alive at both ends of the slice are counted).
                before = {pid: pids_cpu([pid]) for pid in
                          asyncio.run(backend_pids(url, applications[port]))}
                app0 = tree_cpu(apps[port])
                timing = asyncio.run(run_requests(port, [build(n) for n in chunk],
                                                  concurrency))
                cpu[label][0] += tree_cpu(apps[port]) - app0
                cpu[label][1] += sum(pids_cpu([pid]) - used for pid, used in before.items()
                                     if _stat(pid) is not None)
                total = totals[label]
                total.latencies_ms += timing.latencies_ms
                total.seconds += timing.seconds
                total.errors += timing.errors
        results: list[tuple[str, Timing]] = list(totals.items())
        for label, t in results:
            n = len(t.latencies_ms)
            console.print(f"{label}: {t.rps:,.0f} req/s, p95 {t.pct(0.95):.1f} ms, "
                          f"server CPU {1000 * cpu[label][0] / n:.2f} ms/request, "
                          f"PostgreSQL CPU {1000 * cpu[label][1] / n:.2f} ms/request")
    finally:
        for proc in servers:
            proc.terminate()
            proc.wait(15)
    table = Table(
        title=f"Public search at {data['officers']:,} officers ({data['match_keys']:,} name "
              f"keys, database {data['database']}, PostgreSQL {data['postgres']})\n"
              f"{machine()}; {workers} uvicorn workers per server, {concurrency} in flight, "
              f"{first} results per search, {len(names):,} requests per case in {rounds} turns")
    for column in ("case", "req/s", "p50 ms", "p95 ms", "errors", "server CPU ms/req",
                   "PostgreSQL CPU ms/req", "req/s vs bare", "p95 vs bare",
                   "server CPU vs bare"):
        table.add_column(column, justify="left" if column == "case" else "right")
    for (label, t), (_, _, _, baseline) in zip(results, cases, strict=True):
        bare_label, bare = results[baseline]
        n, n_bare = len(t.latencies_ms), len(bare.latencies_ms)
        table.add_row(label, f"{t.rps:,.0f}", f"{t.p50:.2f}", f"{t.pct(0.95):.2f}",
                      str(t.errors), f"{1000 * cpu[label][0] / n:.2f}",
                      f"{1000 * cpu[label][1] / n:.2f}", f"{t.rps / bare.rps:.2f}x",
                      f"{t.pct(0.95) / bare.pct(0.95):.2f}x",
                      f"{cpu[label][0] / n / (cpu[bare_label][0] / n_bare):.2f}x")
    console.print(table)


if __name__ == "__main__":
    typer.run(main)
