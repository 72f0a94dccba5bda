"""Benchmark: the referral rules at national scale.

Against the bench database (1,000,000 officers loaded by ``bench/generate.py``) it first adds,
once, ~500,000 misconduct findings (a realistic mix of categories, dispositions and
disciplines, each for an officer with a stint at the reporting agency), ~20,000 convictions and
~30,000 cases (only when the cases table is empty), all with COPY; ``--force`` removes them and
loads them again. It then times, each in a transaction that is rolled back:
  - the per-report path: ``referrals.service.evaluate_officer`` (every ground, one officer) for
    a few hundred random officers with findings: p50 / p95 / max;
  - the full re-evaluation: ``referrals.service.reevaluate`` (every ground, every officer,
    one set-based statement per ground), wall seconds, and each ground's share.

    .venv/bin/python bench/bench_referrals.py --help
"""

import asyncio
import os
import platform
import random
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlmodel.ext.asyncio.session import AsyncSession

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_api import owner_settings  # noqa: E402

from registry import migrations  # noqa: E402
from registry.actors import Actor  # noqa: E402
from registry.database import asyncpg_url, create_engine, resolve_owner_url  # noqa: E402
from registry.referrals import repository, service  # noqa: E402
from registry.referrals.grounds import load_grounds  # noqa: E402
from registry.settings import Settings  # noqa: E402

console = Console()
BENCH = Actor.system("bench")
TODAY = date.today()

CATEGORIES = {"force": 25, "dishonesty": 10, "sexual_misconduct": 3, "bias": 7,
              "criminal_conduct": 5, "abuse_of_power": 10, "failure_to_intervene": 3,
              "other": 37}
DISPOSITIONS = {"sustained": 30, "not_sustained": 35, "exonerated": 14, "unfounded": 14,
                "policy_failure": 4, "pending": 3}
DISCIPLINES = {"reprimand": 40, "retraining": 20, "suspension": 25, "demotion": 3,
               "termination": 7, "none": 5}
UNDER_INVESTIGATION = {"resigned_in_lieu_of_termination", "resigned_under_investigation",
                       "retired_under_investigation"}
OFFENSES = [("DUI", "misdemeanor", False), ("Assault and battery", "misdemeanor", True),
            ("Petit larceny", "misdemeanor", False), ("Reckless driving", "misdemeanor", False),
            ("Perjury", "felony", False), ("Distribution of a controlled substance", "felony",
                                           False), ("Obstruction of justice", "misdemeanor",
                                                    False)]
FINDING_COLUMNS = ["officer_id", "agency_id", "incident_on", "reported_on", "category",
                   "recommended_disposition", "final_disposition", "discipline",
                   "suspension_days", "completed_after_separation", "public_releasable",
                   "recorded_by"]


def pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def finding_row(rng: random.Random, stint: Any) -> tuple:
    start = stint["started_on"]
    end = stint["ended_on"] or TODAY
    incident = start + timedelta(days=rng.randint(0, max((end - start).days, 0)))
    reported = min(incident + timedelta(days=rng.randint(20, 400)), TODAY)
    after = False
    if stint["separation_reason"] in UNDER_INVESTIGATION and rng.random() < 0.6:
        after = True
        reported = min(max(reported, stint["ended_on"] + timedelta(days=rng.randint(10, 300))),
                       TODAY)
        incident = min(incident, stint["ended_on"])
    disposition = pick(rng, DISPOSITIONS)
    discipline, days = None, None
    if disposition == "sustained" or disposition == "policy_failure":
        discipline = pick(rng, DISCIPLINES)
        if discipline == "suspension":
            days = min(int(rng.expovariate(1 / 8)) + 1, 180)
    elif disposition != "pending":
        discipline = "none" if rng.random() < 0.5 else None
    recommended = disposition if rng.random() < 0.85 else pick(rng, DISPOSITIONS)
    return (stint["officer_id"], stint["agency_id"], incident, reported, pick(rng, CATEGORIES),
            recommended, disposition, discipline, days, after, rng.random() < 0.3, "bench")


async def load(conn: asyncpg.Connection, *, findings: int, cases: int, convictions: int,
               seed: int, force: bool) -> dict[str, float]:
    timings: dict[str, float] = {}
    if force:
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute("TRUNCATE referrals, findings, findings_history, convictions, "
                               "convictions_history")
            await conn.execute("DELETE FROM cases WHERE opened_by = 'bench'")
    rng = random.Random(seed)
    existing = await conn.fetchval("SELECT count(*) FROM findings")
    with Progress(TextColumn("{task.description:<22}"), BarColumn(),
                  TextColumn("{task.completed:>9,}/{task.total:<9,}"), TimeElapsedColumn(),
                  console=console) as progress:
        if existing == 0:
            started = time.perf_counter()
            total = await conn.fetchval("SELECT count(*) FROM stints")
            # One to four findings on ~30% of sampled stints' officers: most officers have
            # none, a few have several (patterns).
            fraction = min(100.0, 100.0 * findings / 1.3 / max(total, 1))
            stints = await conn.fetch(
                f"SELECT officer_id, agency_id, started_on, ended_on, separation_reason "
                f"FROM stints TABLESAMPLE BERNOULLI ({fraction}) REPEATABLE ({seed})")
            task = progress.add_task("COPY findings", total=findings)
            rows: list[tuple] = []
            done = 0
            for stint in stints:
                for _ in range(rng.choices((1, 2, 3, 4), weights=(70, 18, 8, 4))[0]):
                    rows.append(finding_row(rng, stint))
                if len(rows) >= 50_000 or stint is stints[-1]:
                    rows = rows[: findings - done]
                    await conn.copy_records_to_table("findings", records=rows,
                                                     columns=FINDING_COLUMNS)
                    done += len(rows)
                    progress.update(task, completed=done)
                    rows = []
                    if done >= findings:
                        break
            timings["findings"] = time.perf_counter() - started
        if await conn.fetchval("SELECT count(*) FROM convictions") == 0:
            started = time.perf_counter()
            task = progress.add_task("COPY convictions", total=convictions)
            people = await conn.fetch(
                "SELECT id FROM officers TABLESAMPLE SYSTEM (5) REPEATABLE ($1) LIMIT $2",
                seed, convictions)
            crows = []
            for p in people:
                offense, level, dv = rng.choice(OFFENSES)
                crows.append((p["id"], offense, level, dv,
                              date(2000, 1, 1) + timedelta(days=rng.randint(0, 9000)),
                              "bench"))
            await conn.copy_records_to_table(
                "convictions", records=crows, columns=["officer_id", "offense", "level",
                                                       "domestic_violence", "convicted_on",
                                                       "recorded_by"])
            progress.update(task, completed=len(crows))
            timings["convictions"] = time.perf_counter() - started
        if await conn.fetchval("SELECT count(*) FROM cases") == 0:
            started = time.perf_counter()
            task = progress.add_task("COPY cases", total=cases)
            people = await conn.fetch(
                "SELECT id FROM officers TABLESAMPLE SYSTEM (10) REPEATABLE ($1) LIMIT $2",
                seed + 1, cases)
            case_rows = [(f"BENCH-{i:06d}", p["id"], "open" if rng.random() < 0.3 else "closed",
                          "bench", "bench") for i, p in enumerate(people, start=1)]
            await conn.copy_records_to_table(
                "cases", records=case_rows,
                columns=["number", "officer_id", "status", "opened_by", "recorded_by"])
            progress.update(task, completed=len(case_rows))
            timings["cases"] = time.perf_counter() - started
    if timings:
        started = time.perf_counter()
        await conn.execute("ANALYZE findings")
        await conn.execute("ANALYZE convictions")
        await conn.execute("ANALYZE cases")
        await conn.execute("ANALYZE referrals")
        timings["analyze"] = time.perf_counter() - started
    return timings


async def per_report(settings: Settings, url: str, people: list[Any]) -> list[float]:
    engine = create_engine(url, settings)
    latencies: list[float] = []
    try:
        with Progress(console=console) as progress:
            task = progress.add_task("per-report evaluation", total=len(people))
            for person in people:
                async with AsyncSession(engine, expire_on_commit=False) as session:
                    started = time.perf_counter()
                    await service.evaluate_officer(session=session, actor=BENCH,
                                                   settings=settings, officer_id=person)
                    latencies.append((time.perf_counter() - started) * 1000)
                    await session.rollback()
                progress.advance(task)
    finally:
        await engine.dispose()
    return latencies


async def full(settings: Settings, url: str) -> tuple[float, dict[str, float], Any]:
    engine = create_engine(url, settings)
    per_ground: dict[str, float] = {}
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            await (await session.connection()).exec_driver_sql("SET LOCAL statement_timeout = 0")
            for ground in load_grounds(settings).grounds:
                started = time.perf_counter()
                await repository.apply_ground(session, ground, person=None, actor="bench")
                per_ground[ground.code] = time.perf_counter() - started
            await session.rollback()
        async with AsyncSession(engine, expire_on_commit=False) as session:
            await (await session.connection()).exec_driver_sql("SET LOCAL statement_timeout = 0")
            started = time.perf_counter()
            _, _, counts = await service.reevaluate(session=session, actor=BENCH,
                                                    settings=settings)
            wall = time.perf_counter() - started
            await session.rollback()
    finally:
        await engine.dispose()
    return wall, per_ground, counts


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GiB RAM, "
            f"Python {platform.python_version()}")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(url: str, *, findings: int, cases: int, convictions: int, samples: int,
              seed: int, force: bool) -> Table:
    conn = await asyncpg.connect(asyncpg_url(url), command_timeout=None)
    try:
        if not await conn.fetchval("SELECT count(*) FROM officers"):
            console.print("[red]error:[/red] the database has no officers; run "
                          "bench/generate.py first.")
            raise typer.Exit(1)
        timings = await load(conn, findings=findings, cases=cases, convictions=convictions,
                             seed=seed, force=force)
        sizes = {t: await conn.fetchval(f"SELECT count(*) FROM {t}")
                 for t in ("officers", "stints", "findings", "convictions", "cases",
                           "referrals")}
        sample = await conn.fetch(
            "SELECT DISTINCT o.canonical_id FROM findings f TABLESAMPLE SYSTEM (1) "
            "JOIN officers o ON o.id = f.officer_id LIMIT $1", samples)
        version = await conn.fetchval("SHOW server_version")
        size = await conn.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
    finally:
        await conn.close()
    settings = owner_settings(url, db_pool_size=2)
    people = [r[0] for r in sample]
    random.Random(seed).shuffle(people)
    latencies = await per_report(settings, url, people)
    wall, per_ground, counts = await full(settings, url)

    table = Table(title=f"Referral rules — {sizes['officers']:,} officers, "
                        f"{sizes['findings']:,} findings")
    table.add_column("what")
    table.add_column("figure", justify="right")
    for name, rows in sizes.items():
        table.add_row(f"rows in {name}", f"{rows:,}")
    for step, seconds in timings.items():
        table.add_row(f"load: {step}", f"{seconds:.1f} s")
    table.add_row(f"per-report evaluation, {len(latencies)} officers, all "
                  f"{len(per_ground)} grounds: p50", f"{statistics.median(latencies):.2f} ms")
    table.add_row("per-report evaluation: p95", f"{pct(latencies, 0.95):.2f} ms")
    table.add_row("per-report evaluation: max", f"{max(latencies):.2f} ms")
    for code, seconds in per_ground.items():
        table.add_row(f"full re-evaluation, ground {code}", f"{seconds:.1f} s")
    table.add_row("full re-evaluation (reevaluate, wall)", f"{wall:.1f} s")
    table.add_row("  referrals opened / updated / closed",
                  f"{counts.opened:,} / {counts.updated:,} / {counts.closed:,}")
    table.caption = f"PostgreSQL {version}, database {size}; {machine()}; rolled back"
    return table


def main(
    findings: Annotated[int, typer.Option(min=1, help="Findings to add.")] = 500_000,
    cases: Annotated[int, typer.Option(min=0, help="Cases to add if there are none.")]
    = 30_000,
    convictions: Annotated[int, typer.Option(min=0, help="Convictions to add.")] = 20_000,
    samples: Annotated[int, typer.Option(min=10, help="Officers for the per-report timing.")]
    = 300,
    seed: Annotated[int, typer.Option(help="Seed for the generated rows and the sample.")] = 7,
    database_url: Annotated[str | None, typer.Option(
        help="Default: REGISTRY_DATABASE_URL, else the embedded server in REGISTRY_DATA_DIR "
             "or ./.registry-bench")] = None,
    force: Annotated[bool, typer.Option(
        help="Remove the findings, convictions, referrals and bench cases first and load "
             "them again (bench databases only).")] = False,
) -> None:
    """Load findings and cases into the bench database (once) and time the referral rules."""
    data_dir = Path(os.environ.get("REGISTRY_DATA_DIR", ROOT / ".registry-bench"))
    url = resolve_owner_url(Settings(database_url=database_url
                                        or os.environ.get("REGISTRY_DATABASE_URL"),
                                        data_dir=data_dir))
    migrations.upgrade(url)
    table = asyncio.run(run(url, findings=findings, cases=cases, convictions=convictions,
                            samples=samples, seed=seed, force=force))
    console.print(table)


if __name__ == "__main__":
    typer.run(main)
