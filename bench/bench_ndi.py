"""Benchmark: the NDI export at 10,000 and 100,000 decertification actions.

Against the bench database (1,000,000 officers loaded by ``bench/generate.py``), for each size
it COPYs that many final-order actions (revocations, suspensions, surrenders, denials, each
for an existing officer and one of their certificates, with a ground of the grounds file) into
``decertification_actions`` inside a transaction, runs the real export
(``registry.ndi.service.export``: the record selection, the layout's SQL checking and
formatting every record, the COPY streamed to the file, the ledger and the audit event) to a
temporary file three times, and rolls everything back. Reported per size: seconds (first and
second run, the second sending the same records as updates), where the time goes in each
(select, check + COPY + write, ledger), the file's size, Python's peak allocation during the export
(tracemalloc, third run) and the process's RSS before the export and at its peak during it
(sampled at every chunk). Flat memory means these do not grow with the number of records.

``--under-investigation`` turns REGISTRY_NDI_UNDER_INVESTIGATION on: the bench state's pending
cases (those ``bench/generate.py`` made) go out as "under investigation" records as well, read
from ``cases`` in the same statement.

    .venv/bin/python bench/bench_ndi.py --help
"""

import asyncio
import os
import platform
import random
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlmodel.ext.asyncio.session import AsyncSession

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_api import owner_settings  # noqa: E402

from registry import migrations  # noqa: E402
from registry.actors import Actor  # noqa: E402
from registry.database import create_engine, driver, resolve_owner_url  # noqa: E402
from registry.keys.models import Role  # noqa: E402
from registry.ndi import service  # noqa: E402
from registry.ndi.layout import LAYOUT  # noqa: E402
from registry.referrals.grounds import load_grounds  # noqa: E402
from registry.settings import Settings  # noqa: E402

console = Console()
BENCH = Actor(name="bench", role=Role.POST_STAFF)
OUTCOMES = {"revocation": 60, "suspension": 20, "surrender": 15, "denial": 5}
COLUMNS = ["officer_id", "certification_id", "kind", "outcome", "effective_on", "until_on",
           "grounds", "recorded_by"]


@dataclass
class Run:
    seconds: float
    select: float
    stream: float
    ledger: float
    records: int
    file_bytes: int
    rss_before: int
    rss_peak: int


@dataclass
class Result:
    actions: int
    copy_seconds: float
    runs: list[Run]
    peak_python: int


def actions(rng: random.Random, certs: list[Any], grounds: list[str]) -> Iterator[tuple]:
    """Final orders for the certificates given (generated as COPY consumes them)."""
    outcomes, weights = list(OUTCOMES), list(OUTCOMES.values())
    for officer_id, cert_id in certs:
        outcome = rng.choices(outcomes, weights)[0]
        effective = date(2012, 1, 1) + timedelta(days=rng.randint(0, 4700))
        until = effective + timedelta(days=rng.randint(30, 730)) if outcome == "suspension" \
            else None
        picked = rng.sample(grounds, k=rng.choice((1, 1, 1, 2)))
        yield (officer_id, cert_id, "final_order", outcome, effective, until, picked, "bench")


async def export_once(session: AsyncSession, settings: Settings) -> Run:
    marks: list[float] = []
    rss = [rss_now(), 0]

    def progress(done: int, total: int) -> None:
        marks.append(time.perf_counter())
        rss[1] = max(rss[1], rss_now())

    with tempfile.NamedTemporaryFile("wb", suffix=".csv") as sink:
        started = time.perf_counter()
        sent = await service.export(session=session, actor=BENCH, settings=settings,
                                    scope=service.Scope.ALL, sink=sink, file_name="bench.csv",
                                    progress=progress)
        ended = time.perf_counter()
        sink.flush()
        size = os.path.getsize(sink.name)
    return Run(ended - started, marks[0] - started, marks[-1] - marks[0], ended - marks[-1],
               sent.records, size, rss[0], max(rss[1], rss_now()))


def rss_now() -> int:
    """The process's resident memory now (Linux), sampled as the export reports progress."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def measure(url: str, settings: Settings, size: int, seed: int) -> Result:
    engine = create_engine(url, settings)
    grounds = [g.code for g in load_grounds(settings).grounds]
    # The layout compiles its SQL on first use, once per process: before the clock starts, so
    # that the first run times an export as every later one does.
    LAYOUT.records_sql("", service.export_context(settings))
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            conn = await driver(session)
            await conn.execute("SET LOCAL statement_timeout = 0")
            certs = await conn.fetch("SELECT officer_id, id FROM certifications LIMIT $1", size)
            started = time.perf_counter()
            await conn.copy_records_to_table("decertification_actions",
                                             records=actions(random.Random(seed), certs, grounds),
                                             columns=COLUMNS)
            await conn.execute("ANALYZE decertification_actions")
            copied = time.perf_counter() - started
            runs = [await export_once(session, settings), await export_once(session, settings)]
            tracemalloc.start()
            tracemalloc.reset_peak()
            await export_once(session, settings)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            await session.rollback()
    finally:
        await engine.dispose()
    return Result(len(certs), copied, runs, peak)


def phase(name: str) -> Callable[[Result], str]:
    """A table cell: the seconds a phase took in the first and the second run."""
    return lambda r: f"{getattr(r.runs[0], name):.2f} / {getattr(r.runs[1], name):.2f} s"


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GiB RAM, "
            f"Python {platform.python_version()}")


async def facts(url: str, settings: Settings) -> tuple[str, int, int, int]:
    engine = create_engine(url, settings)
    try:
        async with AsyncSession(engine) as session:
            conn = await driver(session)
            version = await conn.fetchval("SHOW server_version")
            officers = await conn.fetchval("SELECT count(*) FROM officers")
            existing = await conn.fetchval("SELECT count(*) FROM decertification_actions")
            pending = await conn.fetchval(
                "SELECT count(*) FROM cases WHERE status IN "
                "('open', 'under_review', 'hearing_scheduled', 'voted')")
            await session.rollback()
    finally:
        await engine.dispose()
    return version, officers, existing, pending


def main(
    sizes: Annotated[str, typer.Option(help="Comma-separated numbers of actions to export.")]
    = "10000,100000",
    seed: Annotated[int, typer.Option(help="Seed of the generated actions.")] = 7,
    database_url: Annotated[str | None, typer.Option(
        help="Default: REGISTRY_DATABASE_URL, else the embedded server in REGISTRY_DATA_DIR "
             "or ./.registry-bench")] = None,
    under_investigation: Annotated[bool, typer.Option(
        "--under-investigation",
        help="Export with REGISTRY_NDI_UNDER_INVESTIGATION on: the pending cases as well.")]
    = False,
) -> None:
    """Time the NDI export and measure its memory at several sizes (all rolled back)."""
    data_dir = Path(os.environ.get("REGISTRY_DATA_DIR", ROOT / ".registry-bench"))
    url = resolve_owner_url(Settings(database_url=database_url
                                        or os.environ.get("REGISTRY_DATABASE_URL"),
                                        data_dir=data_dir))
    migrations.upgrade(url)
    # The COPY of 100,000 actions outlasts the service's statement timeout on a busy machine.
    settings = owner_settings(url, db_pool_size=2, state="VA", db_statement_timeout_ms=600_000,
                              ndi_under_investigation=under_investigation)
    version, officers, existing, pending = asyncio.run(facts(url, settings))
    if not officers:
        console.print("[red]error:[/red] the database has no officers; run bench/generate.py "
                      "first.")
        raise typer.Exit(1)
    results = []
    for size in (int(s) for s in sizes.split(",")):
        console.print(f"exporting {size:,} actions ...")
        results.append(asyncio.run(measure(url, settings, size, seed)))
    table = Table(title=f"NDI export — {officers:,} officers in the registry")
    table.add_column("")
    for r in results:
        table.add_column(f"{r.actions:,} actions", justify="right")
    rows: list[tuple[str, Any]] = [
        ("records exported", lambda r: f"{r.runs[0].records:,}"),
        ("file", lambda r: f"{r.runs[0].file_bytes / 2**20:.1f} MB"),
        ("export, first run (all new)", lambda r: f"{r.runs[0].seconds:.2f} s"),
        ("export, second run (all updates)", lambda r: f"{r.runs[1].seconds:.2f} s"),
        ("  select the records (batch), first / second run", phase("select")),
        ("  check, COPY, write the file", phase("stream")),
        ("  ledger and audit event", phase("ledger")),
        ("records/s (first run)", lambda r: f"{r.runs[0].records / r.runs[0].seconds:,.0f}"),
        ("peak Python memory (tracemalloc)", lambda r: f"{r.peak_python / 2**20:.1f} MB"),
        ("RSS before the export / its peak during it",
         lambda r: f"{r.runs[0].rss_before / 2**20:.0f} / {r.runs[0].rss_peak / 2**20:.0f} MB"),
        ("setup: COPY the actions", lambda r: f"{r.copy_seconds:.2f} s"),
    ]
    for label, cell in rows:
        table.add_row(label, *(cell(r) for r in results))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    table.caption = (f"PostgreSQL {version}; {machine()}; load average {load} at the end; "
                     f"{existing:,} actions were in the database before; export --all"
                     + (f" with the opt-in on ({pending:,} pending cases)"
                        if under_investigation else "")
                     + "; the actions COPYed and everything rolled back")
    console.print(table)

if __name__ == "__main__":
    typer.run(main)
