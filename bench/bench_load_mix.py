"""Load: a realistic mix of requests for a fixed time against `registry serve` on loopback,
at the bench state (1,000,000 officers in ./.registry-bench, bench/generate.py).

``--concurrency`` simulated clients, each on its own keep-alive connection (the minimal
HTTP/1.1 client of bench_public.py, so that the client takes little of the machine), send
one request after another for ``--seconds``, each picking an operation by weight:

| operation | who | weight |
|---|---|---:|
| public `searchOfficers` (POST /public/graphql) | anyone | 30 |
| public HTML search page `/?name=` | anyone | 20 |
| `officer(id)`, the full record (graphql/operations/Officer.graphql) | post_staff | 25 |
| `backgroundCheck`, the full report (BackgroundCheck.graphql) | agency | 10 |
| GET /reports/background-checks/{id} of a check just run | agency | 10 |
| `castVote` on an open case (CastVote.graphql) | board_member | 5 |

Setup (untimed): keys for post_staff, an agency and ``--members`` board members, seated with
`addBoardMember`; ``--cases`` open cases of the bench state moved to review with a motion
(`moveCase`, `proposeOutcome`), so that every (member, case) pair is one vote; a few checks
run so that the report reads have checks to read. These, the votes and the checks stay in
the bench database (each is a real write); the members' terms are ended and the keys revoked
at the end. Raises the background-check allowance (REGISTRY_CHECKS_PER_HOUR) and the public
per-address limit (REGISTRY_PUBLIC_RATE_LIMIT) for the server it starts: one client address
and one agency key would hit both in seconds.

An error is a transport failure, a status other than 200, or a GraphQL response with
`errors`. Prints per operation: requests, errors, error rate, p50/p95/p99 ms, requests/s;
then the totals. Exits 1 on any error.

    .venv/bin/python bench/bench_load_mix.py --help
"""

import asyncio
import json
import os
import random
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote_plus

import asyncpg
import typer
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_api import bench_settings, sample_cases  # noqa: E402
from bench_background_check import sample_candidates  # noqa: E402
from bench_public import (  # noqa: E402
    OPERATION as SEARCH,
)
from bench_public import (  # noqa: E402
    fetch_one,
    free_port,
    get,
    machine,
    read_response,
    sample_names,
    start_registry,
)

from registry.actors import Actor  # noqa: E402
from registry.database import asyncpg_url, create_engine, resolve_owner_url, session_scope  # noqa: E402
from registry.keys import service as keys  # noqa: E402
from registry.keys.models import Role  # noqa: E402
from registry.settings import Settings  # noqa: E402

console = Console(width=150)
OPERATIONS_DIR = ROOT / "graphql" / "operations"
OFFICER = (OPERATIONS_DIR / "Officer.graphql").read_text()
CHECK = (OPERATIONS_DIR / "BackgroundCheck.graphql").read_text()
VOTE = (OPERATIONS_DIR / "CastVote.graphql").read_text()
WEIGHTS = {"public searchOfficers (GraphQL)": 30, "public search page (HTML)": 20,
           "clerk: officer full record": 25, "agency: backgroundCheck": 10,
           "agency: check report page": 10, "board: castVote": 5}


def post(path: str, query: str, variables: dict[str, Any], token: str | None = None) -> bytes:
    body = json.dumps({"query": query, "variables": variables}).encode()
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Accept: application/graphql-response+json\r\n{auth}"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def get_with_key(path: str, token: str) -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/html\r\n"
            f"Authorization: Bearer {token}\r\n\r\n").encode()


@dataclass
class Workload:
    """What the operations draw from; checks and votes are consumed as they are used."""

    names: list[str]
    officer_ids: list[str]
    candidates: list[dict[str, Any]]
    staff: str
    agency: str
    votes: list[tuple[str, str]]  # (member's token, case id), each used once
    checks: deque[str] = field(default_factory=lambda: deque(maxlen=200))


@dataclass
class Stats:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    samples: list[str] = field(default_factory=list)

    def pct(self, p: float) -> float:
        lat = sorted(self.latencies_ms)
        return lat[min(len(lat) - 1, int(len(lat) * p))] if lat else 0.0


# Each operation: the request to send (None: nothing left to do it with) and what to read
# from a successful answer.
Build = Callable[[random.Random, Workload], bytes | None]


def _search(rng: random.Random, w: Workload) -> bytes:
    return post("/public/graphql", SEARCH, {"name": rng.choice(w.names), "first": 25})


def _page(rng: random.Random, w: Workload) -> bytes:
    return get(f"/?name={quote_plus(rng.choice(w.names))}")


def _officer(rng: random.Random, w: Workload) -> bytes:
    return post("/graphql", OFFICER, {"id": rng.choice(w.officer_ids)}, w.staff)


def _check(rng: random.Random, w: Workload) -> bytes:
    return post("/graphql", CHECK, {"candidate": rng.choice(w.candidates), "purpose": "HIRING"},
                w.agency)


def _report(rng: random.Random, w: Workload) -> bytes | None:
    # One of the last checks run: investigators print the report right after the check.
    if not w.checks:
        return None
    return get_with_key(f"/reports/background-checks/{rng.choice(list(w.checks)[-20:])}",
                        w.agency)


def _vote(rng: random.Random, w: Workload) -> bytes | None:
    if not w.votes:
        return None
    token, case_id = w.votes.pop()
    return post("/graphql", VOTE, {"caseId": case_id, "vote": rng.choice(["YES", "YES", "NO"]),
                                   "castOn": date.today().isoformat()}, token)


BUILDERS: dict[str, Build] = dict(zip(WEIGHTS, (_search, _page, _officer, _check, _report,
                                                _vote), strict=True))


def failure(status: int, body: bytes, graphql: bool) -> str | None:
    """Why an answer is an error, or None."""
    if status != 200:
        return f"status {status}: {body[:200]!r}"
    if graphql and b'"errors"' in body:
        errors = json.loads(body).get("errors")
        if errors:
            return f"errors: {json.dumps(errors)[:200]}"
    return None


async def client(port: int, seed: int, deadline: float, workload: Workload,
                 stats: dict[str, Stats], skipped: dict[str, int]) -> None:
    rng = random.Random(seed)
    names, weights = list(WEIGHTS), list(WEIGHTS.values())
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            name = rng.choices(names, weights)[0]
            raw = BUILDERS[name](rng, workload)
            if raw is None:
                skipped[name] += 1
                continue
            s = stats[name]
            t0 = time.perf_counter()
            try:
                writer.write(raw)
                status, body = await read_response(reader)
            except (OSError, asyncio.IncompleteReadError, RuntimeError) as err:
                s.latencies_ms.append((time.perf_counter() - t0) * 1000)
                s.errors += 1
                s.samples.append(f"no response: {err!r}")
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            s.latencies_ms.append((time.perf_counter() - t0) * 1000)
            why = failure(status, body, graphql=raw.startswith(b"POST"))
            if why:
                s.errors += 1
                s.samples.append(why)
            elif name == "agency: backgroundCheck":
                workload.checks.append(json.loads(body)["data"]["backgroundCheck"]["checkId"])
    finally:
        writer.close()


async def run(port: int, seconds: float, concurrency: int, workload: Workload, seed: int
              ) -> tuple[dict[str, Stats], dict[str, int], float]:
    stats = {name: Stats() for name in WEIGHTS}
    skipped = dict.fromkeys(WEIGHTS, 0)
    start = time.perf_counter()
    await asyncio.gather(*(client(port, seed * 1000 + i, start + seconds, workload, stats,
                                  skipped) for i in range(concurrency)))
    return stats, skipped, time.perf_counter() - start


# --- setup ---------------------------------------------------------------------------------


async def make_keys(settings: Settings, url: str, members: int) -> dict[str, Any]:
    """Keys for post_staff, the agency with the most officers serving, and board members."""
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        ori = await conn.fetchval(
            "SELECT a.ori FROM agencies a JOIN stints s ON s.agency_id = a.id "
            "WHERE a.ori IS NOT NULL AND s.ended_on IS NULL GROUP BY a.id "
            "ORDER BY count(*) DESC LIMIT 1")
    finally:
        await conn.close()
    engine = create_engine(url, settings)
    actor = Actor.system("bench_load_mix")
    made: dict[str, Any] = {"board": []}
    try:
        async with session_scope(engine) as session:
            for name, role, agency in (("staff", Role.POST_STAFF, None),
                                       ("agency", Role.AGENCY, ori),
                                       ("admin", Role.ADMIN, None)):
                key, made[name] = await keys.create(session=session, actor=actor, role=role,
                                                    name=f"bench load {role.value}",
                                                    agency_ori=agency)
                made.setdefault("ids", []).append(key.id)
            for i in range(members):
                key, token = await keys.create(session=session, actor=actor,
                                               role=Role.BOARD_MEMBER,
                                               name=f"bench load board member {i + 1}")
                made["ids"].append(key.id)
                made["board"].append((str(key.id), token))
    finally:
        await engine.dispose()
    return made


async def revoke_keys(settings: Settings, url: str, ids: list[Any]) -> None:
    engine = create_engine(url, settings)
    try:
        async with session_scope(engine) as session:
            for key_id in ids:
                await keys.revoke(session=session, actor=Actor.system("bench_load_mix"),
                                  key_id=key_id)
    finally:
        await engine.dispose()


def call(port: int, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    """One setup request that must succeed; its data."""
    status, body = asyncio.run(fetch_one(port, post("/graphql", query, variables, token)))
    why = failure(status, body, graphql=True)
    if why:
        raise RuntimeError(f"setup failed: {why}")
    return json.loads(body)["data"]


async def open_cases(url: str, n: int, seed: int) -> list[str]:
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        rows = await conn.fetch(
            "SELECT id::text FROM cases WHERE status = 'open' AND proposed_outcome IS NULL "
            "ORDER BY md5(id::text || $1) LIMIT $2", str(seed), n)
    finally:
        await conn.close()
    if len(rows) < n:
        raise typer.BadParameter(f"the bench state has {len(rows)} open cases without a motion;"
                                 " bench/bench_referrals.py adds cases")
    return [r[0] for r in rows]


def prepare_votes(port: int, made: dict[str, Any], cases: list[str], seed: int
                  ) -> tuple[list[tuple[str, str]], list[str]]:
    """Seat the members, move the cases to review with a motion; every (member, case) pair,
    shuffled. Returns the pairs and the members' ids."""
    members = []
    seats = ("CIVILIAN", "LAW_ENFORCEMENT", "OTHER")
    for i, (key_id, _) in enumerate(made["board"]):
        member = call(port, """mutation($k: ID!, $n: String!, $s: BoardSeat!) {
            addBoardMember(apiKeyId: $k, name: $n, seat: $s, termStart: "2020-01-01") { id } }""",
                      {"k": key_id, "n": f"Bench Member {i + 1}", "s": seats[i % 3]},
                      made["admin"])
        members.append(member["addBoardMember"]["id"])
    for case_id in cases:
        call(port, """mutation($id: ID!) { moveCase(id: $id, move: REVIEW,
            reason: "load benchmark") { id } }""", {"id": case_id}, made["staff"])
        call(port, """mutation($id: ID!) { proposeOutcome(caseId: $id, outcome: REVOCATION)
            { id } }""", {"id": case_id}, made["staff"])
    pairs = [(token, case_id) for case_id in cases for _, token in made["board"]]
    random.Random(seed).shuffle(pairs)
    return pairs, members


def end_terms(port: int, made: dict[str, Any], members: list[str]) -> None:
    for member_id in members:
        call(port, """mutation($m: ID!, $d: Date!) { endBoardMemberTerm(memberId: $m,
            termEnd: $d, reason: "load benchmark over") { id } }""",
             {"m": member_id, "d": date.today().isoformat()}, made["admin"])


def main(
    seconds: Annotated[float, typer.Option(help="How long the timed run lasts.")] = 60,
    concurrency: Annotated[int, typer.Option(help="Simulated clients (requests in flight).")]
    = 8,
    workers: Annotated[int, typer.Option(help="uvicorn workers.")] = 2,
    warmup: Annotated[float, typer.Option(help="Untimed seconds of the same mix first.")] = 5,
    members: Annotated[int, typer.Option(help="Board members voting.")] = 7,
    cases: Annotated[int, typer.Option(help="Open cases put to a vote (members x cases "
                                            "votes at most).")] = 60,
    database_url: Annotated[str | None, typer.Option(
        help="Default: REGISTRY_DATABASE_URL, else the embedded server in ./.registry-bench")]
    = None,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 17,
) -> None:
    """A weighted mix (public searches and pages, clerk reads, background checks and their
    reports, board votes) for a fixed time: requests, errors and p50/p95/p99 per operation."""
    # One agency key runs every check, and every request comes from one address.
    os.environ["REGISTRY_CHECKS_PER_HOUR"] = "1000000000"
    settings = bench_settings(database_url)
    url = resolve_owner_url(settings)
    names, data = asyncio.run(sample_names(url, 2000, seed))
    officer_ids = [v["id"] for v in asyncio.run(sample_cases(url, 2000, seed))[0].variables]
    candidates = [v["candidate"] for v in asyncio.run(sample_candidates(url, 600, seed))[-1]
                  .variables]
    made = asyncio.run(make_keys(settings, url, members))
    port = free_port()
    # The service connects as the service role; the owner URL is only for setup and sampling.
    server = start_registry(settings.database_url or url, port, workers)
    seated: list[str] = []
    try:
        pairs, seated = prepare_votes(port, made, asyncio.run(open_cases(url, cases, seed)),
                                      seed)
        workload = Workload(names, officer_ids, candidates, made["staff"], made["agency"],
                            pairs)
        for candidate in candidates[:5]:
            workload.checks.append(call(port, CHECK, {"candidate": candidate,
                                                      "purpose": "HIRING"}, made["agency"])
                                   ["backgroundCheck"]["checkId"])
        if warmup:
            asyncio.run(run(port, warmup, concurrency, workload, seed + 1))
        votes_before = len(workload.votes)
        stats, skipped, elapsed = asyncio.run(run(port, seconds, concurrency, workload, seed))
        end_terms(port, made, seated)
    finally:
        server.terminate()
        server.wait(15)
        asyncio.run(revoke_keys(settings, url, made["ids"]))
    console.print(report(stats, skipped, elapsed, data, workers, concurrency, votes_before))
    for name, sample in [(name, sample) for name, s in stats.items()
                         for sample in s.samples[:3]]:
        console.print(f"[red]{name}[/red]: {sample}", markup=True, highlight=False)
    if any(s.errors for s in stats.values()):
        raise typer.Exit(1)


def report(stats: dict[str, Stats], skipped: dict[str, int], elapsed: float,
           data: dict[str, Any], workers: int, concurrency: int, votes: int) -> Table:
    table = Table(title=(
        f"Load mix for {elapsed:.0f} s at {data['officers']:,} officers (database "
        f"{data['database']}, PostgreSQL {data['postgres']})\n{machine()}; {workers} uvicorn "
        f"workers, {concurrency} clients in flight, client on the same machine"))
    for column in ("operation", "weight", "requests", "errors", "error rate", "p50 ms",
                   "p95 ms", "p99 ms", "req/s"):
        table.add_column(column, justify="left" if column == "operation" else "right")
    everything = Stats()
    for name, s in stats.items():
        everything.latencies_ms += s.latencies_ms
        everything.errors += s.errors
        note = f" ({skipped[name]} skipped: no pairs left of {votes})" \
            if skipped[name] and name == "board: castVote" else ""
        table.add_row(name + note, str(WEIGHTS[name]), *_figures(s, elapsed))
    table.add_row("all", "", *_figures(everything, elapsed), style="bold")
    return table


def _figures(s: Stats, elapsed: float) -> tuple[str, ...]:
    n = len(s.latencies_ms)
    return (f"{n:,}", str(s.errors), f"{s.errors / n:.2%}" if n else "-",
            f"{s.pct(0.50):.1f}", f"{s.pct(0.95):.1f}", f"{s.pct(0.99):.1f}",
            f"{n / elapsed:.1f}")


if __name__ == "__main__":
    typer.run(main)
