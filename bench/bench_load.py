"""Load a generated roster of employment stints and compare with a raw COPY of the same file.

Generates a roster CSV (``registry load roster``'s format) from the synthetic state of
``registry/synthetic.py`` (1,000,000 stints by default, about 345,000 people at 18,000
agencies), creates a fresh database on the embedded server in ``./.registry-bench``
(``registry_load_bench``, dropped at the end), migrates it, then in the same run:

1. COPYs the file raw into an unindexed table of text columns (the floor any load pays);
2. loads it with the roster loader (every rule on: people, certificates, overlaps, the
   stints exclusion constraint, loaded_rows), timing each step;
3. measures the floor under any loader of this schema: the rows the load wrote, copied with
   INSERT ... SELECT into empty copies of the registry's tables, with no check, trigger or
   foreign key and every index built after the rows are in (the cheapest way to maintain
   them), first on one connection, then one connection per core;
4. runs the same load again (every row already loaded).

    .venv/bin/python bench/bench_load.py --help
"""

import asyncio
import csv
import os
import platform
import random
import re
import resource
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated

import asyncpg
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_api import owner_settings  # noqa: E402

from loaders.base import Options  # noqa: E402
from loaders.roster import COLUMNS, Roster  # noqa: E402
from loaders.stints import StintLoader  # noqa: E402
from registry import migrations  # noqa: E402
from registry import synthetic as synth  # noqa: E402
from registry.database import asyncpg_url, execute, start_embedded_server  # noqa: E402

console = Console()
DATABASE = "registry_load_bench"


def _partial(year: int | None, month: int | None, day: int | None) -> str:
    if year is None:
        return ""
    if month is None:
        return f"{year:04d}"
    return f"{year:04d}-{month:02d}" + (f"-{day:02d}" if day else "")


def generate_roster(path: Path, stints: int, agencies: int, seed: int) -> int:
    """Write a roster of ``stints`` rows from the synthetic generator; return the rows."""
    now = synth.datetime.now(synth.UTC)
    agency_rows, picker = synth._agency_rows(random.Random(f"{seed}/agencies"), agencies, "VA",
                                             now)
    by_id = {a[0]: a for a in agency_rows}
    officers = int(stints / 2.9) + synth.CHUNK
    ctx = synth._Context(officers, "VA", seed, picker, now)
    written = 0
    tmp = path.with_suffix(".partial")
    with tmp.open("w", newline="", encoding="utf-8") as f, Progress(
            TextColumn("generate roster"), BarColumn(),
            TextColumn("{task.completed:>10,}/{task.total:,} stints"), TimeElapsedColumn(),
            console=console) as progress:
        task = progress.add_task("", total=stints)
        out = csv.writer(f)
        out.writerow(COLUMNS)
        index = 0
        while written < stints:
            rows = synth._Chunk(ctx, index).rows
            index += 1
            names: dict = {}
            for n in rows["officer_names"]:
                if n[2] in ("prior", "maiden"):
                    names.setdefault(n[1], []).append(" ".join(p for p in (n[3], n[5]) if p))
            certs: dict = {}
            for c in rows["certifications"]:
                certs.setdefault(c[1], (c[3], c[9]))
            people = {o[0]: o for o in rows["officers"]}
            for s in rows["stints"]:
                o = people[s[1]]
                a = by_id[s[2]]
                number, status = certs.get(s[1], ("", ""))
                out.writerow((
                    o[0].hex, o[3], o[4] or "", o[5], o[6] or "", ";".join(names.get(s[1], [])),
                    _partial(o[9], o[10], o[11]), "VA", number, status, a[3], a[2] or "",
                    s[3] or "", s[4].isoformat(), s[5].isoformat() if s[5] else "", s[6] or ""))
                written += 1
                if written >= stints:
                    break
            progress.update(task, completed=written)
    tmp.rename(path)
    return written


async def raw_copy(url: str, path: Path) -> float:
    conn = await asyncpg.connect(asyncpg_url(url), command_timeout=None)
    try:
        columns = ", ".join(f"{c} text" for c in COLUMNS)
        await conn.execute(f"DROP TABLE IF EXISTS raw_roster; CREATE TABLE raw_roster ({columns})")
        await conn.execute("CHECKPOINT")
        started = time.perf_counter()
        with path.open("rb") as f:
            await conn.copy_to_table("raw_roster", source=f, format="csv", header=True)
        seconds = time.perf_counter() - started
        await conn.execute("DROP TABLE raw_roster")
        return seconds
    finally:
        await conn.close()


async def load(url: str, path: Path, chunk_size: int) -> tuple[StintLoader, float]:
    settings = owner_settings(url)
    loader = StintLoader(Roster(date(2026, 12, 31)), path, settings,
                         Options(chunk_size=chunk_size, rejects_path=path.with_suffix(
                             ".rejects.csv")))
    loader.timings = {}
    started = time.perf_counter()
    await loader.run()
    return loader, time.perf_counter() - started


# The tables a roster load writes, in the order it writes them.
WRITTEN = ("agencies", "officers", "match_keys", "source_records", "officer_names",
           "certifications", "certification_status_events", "stints", "loaded_rows")


@dataclass
class Floor:
    table: str
    rows: int
    insert: float
    indexes: int
    build: float


async def _floor_of(conn: asyncpg.Connection, table: str) -> Floor:
    """``table``'s rows into an empty copy without indexes, then its indexes built."""
    copy = f"floor_{table}"
    await conn.execute(f"DROP TABLE IF EXISTS {copy}; "
                       f"CREATE TABLE {copy} (LIKE {table} INCLUDING DEFAULTS)")
    started = time.perf_counter()
    rows = int((await conn.execute(f"INSERT INTO {copy} SELECT * FROM {table}")).split()[-1])
    inserted = time.perf_counter()
    definitions = [r[0] for r in await conn.fetch(
        "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = $1::regclass",
        table)]
    for i, definition in enumerate(definitions):
        await conn.execute(re.sub(r"INDEX \S+ ON (ONLY )?\S+", f"INDEX {copy}_{i} ON {copy}",
                                  definition, count=1))
    built = time.perf_counter()
    await conn.execute(f"DROP TABLE {copy}")
    return Floor(table, rows, inserted - started, len(definitions), built - inserted)


async def floor(url: str, connections: int) -> tuple[list[Floor], float]:
    """Every written table's floor, on ``connections`` connections at once (largest tables
    first); the per-table figures and the wall time."""
    conns = [await asyncpg.connect(asyncpg_url(url), command_timeout=None)
             for _ in range(connections)]
    try:
        sizes = {r["relname"]: r["n"] for r in await conns[0].fetch(
            "SELECT relname, n_live_tup AS n FROM pg_stat_user_tables")}
        queue = sorted(WRITTEN, key=lambda t: -sizes.get(t, 0))
        await conns[0].execute("CHECKPOINT")
        results: list[Floor] = []

        async def worker(conn: asyncpg.Connection) -> None:
            while queue:
                results.append(await _floor_of(conn, queue.pop(0)))

        started = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in conns))
        return sorted(results, key=lambda f: WRITTEN.index(f.table)), \
            time.perf_counter() - started
    finally:
        for c in conns:
            await c.close()


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GiB RAM, "
            f"Python {platform.python_version()}")


def main(
    stints: Annotated[int, typer.Option(min=10, help="Stints (rows) in the roster.")]
    = 1_000_000,
    agencies: Annotated[int, typer.Option(min=1, help="Agencies in the roster.")] = 18_000,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic generator.")] = 7,
    chunk_size: Annotated[int, typer.Option(min=100, help="Rows per load transaction.")]
    = 50_000,
    keep: Annotated[bool, typer.Option(help="Keep the bench database afterwards.")] = False,
    rerun: Annotated[bool, typer.Option(help="Also time a second run of the same file.")]
    = True,
) -> None:
    """Benchmark `registry load roster` against a raw COPY of the same file."""
    data_dir = Path(os.environ.get("REGISTRY_DATA_DIR", ROOT / ".registry-bench"))
    sys.path.insert(0, str(ROOT / "bench"))
    from generate import tune_embedded

    for change in tune_embedded(data_dir):
        console.print(f"embedded server: {change}")
    path = data_dir / f"roster-{stints}-{agencies}-{seed}.csv"
    if not path.exists():
        started = time.perf_counter()
        generate_roster(path, stints, agencies, seed)
        console.print(f"generated {path.name} in {time.perf_counter() - started:.0f} s")
    admin = start_embedded_server(data_dir)
    asyncio.run(execute(admin, f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)",
                       f"CREATE DATABASE {DATABASE}"))
    url = make_url(admin).set(database=DATABASE).render_as_string(hide_password=False)
    try:
        migrations.upgrade(url)
        raw = asyncio.run(raw_copy(url, path))
        loader, seconds = asyncio.run(load(url, path, chunk_size))
        report = loader.report
        assert report is not None
        floors, floor_one = asyncio.run(floor(url, 1))
        cores = os.cpu_count() or 1
        floor_all = asyncio.run(floor(url, cores))[1] if cores > 1 else floor_one
        again_seconds = None
        if rerun:
            again, again_seconds = asyncio.run(load(url, path, chunk_size))
            assert again.report is not None and again.report.loaded == 0
        version, size = asyncio.run(_facts(url))
    finally:
        if not keep:
            asyncio.run(execute(admin, f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
    rows = report.rows_in
    table = Table(title=f"registry load roster — {rows:,} stints "
                        f"({path.stat().st_size / 2**20:,.0f} MB CSV), chunks of {chunk_size:,}")
    for column in ("step", "rows", "seconds", "rows/s"):
        table.add_column(column, justify="left" if column == "step" else "right")
    table.add_row("raw COPY into an unindexed table (text columns)", f"{rows:,}",
                  f"{raw:.1f}", f"{rows / raw:,.0f}")
    table.add_row("[bold]registry load roster[/bold] (wall)", f"{rows:,}", f"{seconds:.1f}",
                  f"[bold]{rows / seconds:,.0f}[/bold]")
    table.add_row("  ratio to raw COPY", "", "", f"{raw / seconds:.1%}")
    for step, spent in sorted(loader.timings.items(), key=lambda kv: -kv[1]):
        table.add_row(f"  {step}", "", f"{spent:.1f}", "")
    table.add_row("floor: the load's rows into empty copies of its tables, no check, trigger "
                  "or foreign key, indexes built after (one connection)", f"{rows:,}",
                  f"{floor_one:.1f}", f"{rows / floor_one:,.0f}")
    table.add_row("  ratio to raw COPY", "", "", f"{raw / floor_one:.1%}")
    for f in floors:
        table.add_row(f"  {f.table}: {f.rows:,} rows, then {f.indexes} indexes", "",
                      f"{f.insert:.1f} + {f.build:.1f}", "")
    if cores > 1:
        table.add_row(f"floor on {cores} connections at once (a table each)", f"{rows:,}",
                      f"{floor_all:.1f}", f"{rows / floor_all:,.0f}")
        table.add_row("  ratio to raw COPY", "", "", f"{raw / floor_all:.1%}")
    if again_seconds is not None:
        table.add_row("second run (every row already loaded)", f"{rows:,}",
                      f"{again_seconds:.1f}", f"{rows / again_seconds:,.0f}")
    for what, n in sorted(report.counts.items()):
        if n:
            table.add_row(f"  {what}", f"{n:,}", "", "")
    table.add_row("  rejected", f"{report.rejected:,}", "", "")
    for what, n in report.reasons.most_common(5):
        table.add_row(f"    {what}", f"{n:,}", "", "")
    table.caption = (f"PostgreSQL {version}, database {size} after the load; {machine()}; "
                     f"peak RSS of this process "
                     f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.1f} GiB")
    console.print(table)


async def _facts(url: str) -> tuple[str, str]:
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        return (await conn.fetchval("SHOW server_version"),
                await conn.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))"))
    finally:
        await conn.close()


if __name__ == "__main__":
    typer.run(main)
