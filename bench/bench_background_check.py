"""Benchmark: `backgroundCheck` over HTTP against the same SQL run directly, in one run.

A mix of candidates drawn from the bench database: a third typed exactly as recorded (name
and date of birth), a third with one realistic variant (nickname, misspelt surname, first
initial, day and month swapped, swapped names, year of birth only), a third nobody in the
registry. As in bench_api.py, every request is first run in-process to record the SQL it
sends (key check, allowance, matching, the check's trail, the report's loaders); then the
requests are timed over HTTP against `registry serve --workers N` on loopback, and the
recorded statements are replayed with asyncpg on as many connections.

    .venv/bin/python bench/bench_background_check.py --help
"""

import asyncio
import os
import random
import sys
import uuid
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import typer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_api import (  # noqa: E402
    Case,
    Statements,
    bench_settings,
    compare,
    console,
    make_token,
)

from registry.background_checks.candidate import first_name_forms  # noqa: E402
from registry.database import asyncpg_url, resolve_owner_url  # noqa: E402
from registry.keys.models import Role  # noqa: E402
from registry.names import fold  # noqa: E402

QUERY = (ROOT / "graphql" / "operations" / "BackgroundCheck.graphql").read_text()
NOBODY_FIRST = ("Zebulon", "Ottoline", "Thaddeus", "Perpetua", "Lysander", "Griselda")
NOBODY_LAST = ("Quackenbush", "Vandersloot", "Oyelaran-Fitch", "Przybylski", "Nakashima-Berg")


def _dob(r: Any) -> str | None:
    if r["birth_day"]:
        return f"{r['birth_year']:04d}-{r['birth_month']:02d}-{r['birth_day']:02d}"
    return f"{r['birth_year']:04d}" if r["birth_year"] else None


def _variant(rng: random.Random, r: Any) -> dict[str, Any]:
    first, last, dob = r["first_name"], r["last_name"], _dob(r)
    kind = rng.choice(("nickname", "surname typo", "initial", "transposed", "swapped", "year"))
    if kind == "nickname":
        others = [n for n in first_name_forms(fold(first)) if len(n) > 1 and n != fold(first)]
        first = rng.choice(others).title() if others else first
    elif kind == "surname typo" and len(last) > 3:
        i = rng.randrange(1, len(last) - 1)
        last = last[:i] + last[i + 1] + last[i] + last[i + 2:]
    elif kind == "initial":
        first = first[0] + "."
    elif kind == "transposed" and r["birth_day"] and r["birth_day"] <= 12:
        dob = f"{r['birth_year']:04d}-{r['birth_day']:02d}-{r['birth_month']:02d}"
    elif kind == "swapped":
        first, last = last, first
    elif kind == "year" and r["birth_year"]:
        dob = str(r["birth_year"])
    return {"firstName": first, "lastName": last, "dateOfBirth": dob}


async def sample_candidates(url: str, n: int, seed: int) -> list[Case]:
    rng = random.Random(seed)
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        total = await conn.fetchval("SELECT count(*) FROM officers")
        if not total:
            raise typer.BadParameter("the database has no officers; run bench/generate.py")
        pct = min(100.0, 100.0 * n * 4 / total)
        rows = await conn.fetch(
            "SELECT first_name, last_name, birth_year, birth_month, birth_day FROM officers "
            f"TABLESAMPLE SYSTEM ({pct}) REPEATABLE ({seed}) WHERE canonical_id = id "
            f"LIMIT {n}")
    finally:
        await conn.close()
    exact = [{"firstName": r["first_name"], "lastName": r["last_name"], "dateOfBirth": _dob(r)}
             for r in rows[: n // 3]]
    variant = [_variant(rng, r) for r in rows[n // 3: 2 * n // 3]]
    nobody = [{"firstName": rng.choice(NOBODY_FIRST), "lastName": rng.choice(NOBODY_LAST),
               "dateOfBirth": f"{rng.randint(1955, 2000)}-{rng.randint(1, 12):02d}-"
                              f"{rng.randint(1, 28):02d}"} for _ in range(n - 2 * (n // 3))]

    def case(name: str, candidates: list[dict[str, Any]]) -> Case:
        return Case(name, QUERY, [{"candidate": {k: v for k, v in c.items() if v},
                                   "purpose": "HIRING"} for c in candidates])

    return [case("exact", exact), case("one variant", variant), case("not in registry", nobody),
            case("mix", exact + variant + nobody)]


def fresh_check_id(statements: Statements) -> Statements:
    """The request's statements with a new id for the check it stores (the recording run
    stored one with the id the service made), in the check and in its audit event."""
    recorded = next((params[0] for sql, params in statements
                     if "INSERT INTO background_checks" in sql), None)
    if recorded is None:
        return statements
    new = uuid.uuid4()
    swap = {recorded: new, str(recorded): str(new)}
    return [(sql, tuple(swap.get(p, p) if isinstance(p, uuid.UUID | str) else p
                        for p in params)) for sql, params in statements]


async def _agency_ori(url: str) -> str:
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        return await conn.fetchval("SELECT ori FROM agencies WHERE ori IS NOT NULL LIMIT 1")
    finally:
        await conn.close()


def main(
    requests: Annotated[int, typer.Option(help="Candidates (split in three kinds).")] = 600,
    concurrency: Annotated[int, typer.Option(
        help="Requests in flight at once (1: the latency of one check; the issue's figure).")] = 1,
    workers: Annotated[int, typer.Option(help="uvicorn workers.")] = 2,
    database_url: Annotated[str | None, typer.Option(
        help="Default: REGISTRY_DATABASE_URL, else the embedded server in ./.registry-bench")]
    = None,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 13,
) -> None:
    """backgroundCheck over HTTP vs the same SQL run directly: p50/p95 and requests/s."""
    # The benchmark runs far more checks than one key's hourly allowance.
    os.environ["REGISTRY_CHECKS_PER_HOUR"] = str(10 * requests + 1000)
    settings = bench_settings(database_url)
    url = resolve_owner_url(settings)
    token = asyncio.run(make_token(settings, Role.AGENCY, asyncio.run(_agency_ori(url))))
    cases = asyncio.run(sample_candidates(url, requests, seed))
    console.print(compare("backgroundCheck: API vs direct SQL", settings, url, token, cases,
                          concurrency, workers, seed, replayable=fresh_check_id))


if __name__ == "__main__":
    typer.run(main)
