"""What every load shares: the run's bookkeeping (``load_runs``, the audit events), the
rejects file, the progress bar and the report.

A run, in order:
1. the file's SHA-256 and line count (one pass); a session advisory lock on the file's hash,
   so two runs of the same file never interleave (a second one is refused while the first
   holds it);
2. a ``load_runs`` row (status running) and a ``load.<kind>.start`` audit event with the
   file's hash,
   committed before any data: every row a load writes follows the event that announced it.
   Earlier runs of the same file still marked running died (their lock is free): they are
   marked failed;
3. chunks, each in its own transaction with its ``loaded_rows`` (a run killed half way keeps
   whole chunks only, and a re-run skips them);
4. ``load_runs`` finished (or failed) with the counts, and a ``load.<kind>.finished`` (or
   ``.failed``) audit event with the hash and the counts.

A dry run writes none of that: it runs every chunk in one transaction that is rolled back at
the end, so its counts are what a real run would do, and writes only the rejects file and
the report.
"""

import asyncio
import csv
import hashlib
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from registry.database import asyncpg_url

ACTOR = "registry load"
ROLE = "admin"
# Tests slow a run down with this (seconds slept after each committed chunk) so that a
# subprocess can be killed half way; never set in production.
CHUNK_DELAY_ENV = "REGISTRY_LOAD_CHUNK_DELAY"


class LoadError(Exception):
    """A load that cannot start (missing columns, a run of the same file in progress...)."""


@dataclass
class Reject:
    row: int | str  # the line (CSV) or "sheet!row" (workbook) where the row starts
    reason: str
    raw: list[str]


@dataclass
class Options:
    dry_run: bool = False
    chunk_size: int = 50_000
    rejects_path: Path | None = None
    report_path: Path | None = None
    show_progress: bool = True


@dataclass
class Report:
    kind: str
    file: str
    sha256: str
    dry_run: bool
    run_id: str | None = None
    rows_in: int = 0
    loaded: int = 0
    already_loaded: int = 0
    rejected: int = 0
    counts: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    lists: dict[str, list[Any]] = field(default_factory=dict)
    rejects_file: str | None = None
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "file": self.file, "sha256": self.sha256,
            "dry_run": self.dry_run, "run_id": self.run_id, "rows_in": self.rows_in,
            "loaded": self.loaded, "already_loaded": self.already_loaded,
            "rejected": self.rejected, "counts": dict(sorted(self.counts.items())),
            "reject_reasons": dict(self.reasons.most_common()), "notes": self.notes,
            "lists": self.lists, "rejects_file": self.rejects_file,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_in / self.seconds) if self.seconds else None,
        }


def reason_class(reason: str) -> str:
    """The reject reason without its row-specific details, for counting."""
    return reason.split(":")[0].split(" (")[0][:80]


class RejectsFile:
    """CSV: row number, reason, then the raw row's fields under the source's own header."""

    def __init__(self, path: Path, header: list[str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = path.open("w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._file)
        # A source column named like one of ours keeps its place under a prefixed name.
        own = ("row_number", "reason")
        self._writer.writerow([*own, *(f"source_{h}" if h.lower() in own else h
                                       for h in header)])
        self.count = 0

    def write(self, rejects: Iterable[Reject], report: Report) -> None:
        for r in rejects:
            self._writer.writerow([r.row, r.reason, *r.raw])
            self.count += 1
            report.reasons[reason_class(r.reason)] += 1
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def default_rejects_path(path: Path, kind: str) -> Path:
    """Beside the current directory, never beside the input (which may be read-only)."""
    return Path.cwd() / f"{path.stem}.{kind}.rejects.csv"


class Bar:
    """A rich progress bar with rows and rows/s; silent when not shown."""

    def __init__(self, total: int, label: str, show: bool) -> None:
        self.show = show
        self.started = time.perf_counter()
        self.done = 0
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        if show:
            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(),
                TextColumn("{task.completed:>10,}/{task.total:<10,} rows"),
                TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                console=Console(stderr=True))
            self._progress.start()
            self._task = self._progress.add_task(label, total=max(total, 1), rate="")

    def advance(self, rows: int) -> None:
        self.done += rows
        if self._progress is not None and self._task is not None:
            rate = self.done / max(time.perf_counter() - self.started, 1e-9)
            self._progress.update(self._task, completed=self.done, rate=f"{rate:>9,.0f} rows/s")

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()


def lock_key(sha256: str) -> int:
    """A 64-bit advisory lock key for a file hash."""
    return int.from_bytes(hashlib.sha256(b"registry-load:" + sha256.encode()).digest()[:8],
                          "big", signed=True)


async def connect(database_url: str) -> asyncpg.Connection:
    return await asyncpg.connect(asyncpg_url(database_url), command_timeout=None,
                                 server_settings={"application_name": "registry load",
                                                  "jit": "off"})


async def audit(conn: asyncpg.Connection, operation: str, entity_id: str,
                after: dict[str, Any]) -> None:
    """An audit event in the caller's transaction (the chain trigger hashes it)."""
    await conn.execute(
        "INSERT INTO audit_events (actor, role, operation, entity_type, entity_id, after) "
        "VALUES ($1, $2, $3, 'load_run', $4, $5::jsonb)",
        ACTOR, ROLE, operation, entity_id, json.dumps(after, default=str))


class Run:
    """The bookkeeping of one run (nothing at all for a dry run)."""

    def __init__(self, conn: asyncpg.Connection, kind: str, path: Path, sha256: str,
                 dry_run: bool) -> None:
        self.conn = conn
        self.kind = kind
        self.path = path
        self.sha256 = sha256
        self.dry_run = dry_run
        self.id: uuid.UUID | None = None
        self.label = f"{ACTOR} {kind}"

    async def start(self, rejects_file: str | None) -> None:
        locked = await self.conn.fetchval("SELECT pg_try_advisory_lock($1)",
                                          lock_key(self.sha256))
        if not locked:
            raise LoadError(f"another run is loading the same file ({self.sha256[:12]}…) "
                            "right now; wait for it to finish")
        if self.dry_run:
            return
        async with self.conn.transaction():
            stale = await self.conn.fetch(
                "UPDATE load_runs SET status = 'failed', finished_at = now() "
                "WHERE file_sha256 = $1 AND status = 'running' RETURNING id", self.sha256)
            self.id = await self.conn.fetchval(
                "INSERT INTO load_runs (kind, file_name, file_sha256, status, rejects_file, "
                "started_by) VALUES ($1, $2, $3, 'running', $4, $5) RETURNING id",
                self.kind, self.path.name, self.sha256, rejects_file, ACTOR)
            await audit(self.conn, f"load.{self.kind}.start", str(self.id), {
                "file": self.path.name, "sha256": self.sha256,
                "interrupted_runs_before": [str(r["id"]) for r in stale]})

    async def finish(self, report: Report, status: str = "finished") -> None:
        if self.dry_run or self.id is None:
            return
        summary = report.as_json()
        async with self.conn.transaction():
            await self.conn.execute(
                "UPDATE load_runs SET status = $2, finished_at = now(), rows_in = $3, "
                "rows_loaded = $4, rows_already_loaded = $5, rows_rejected = $6, "
                "counts = $7::jsonb WHERE id = $1",
                self.id, status, report.rows_in, report.loaded, report.already_loaded,
                report.rejected, json.dumps({"counts": summary["counts"],
                                             "reject_reasons": summary["reject_reasons"]}))
            await audit(self.conn, f"load.{self.kind}.{status}", str(self.id), {
                "file": self.path.name, "sha256": self.sha256, "rows_in": report.rows_in,
                "loaded": report.loaded, "already_loaded": report.already_loaded,
                "rejected": report.rejected, "counts": summary["counts"]})

    async def progress(self, report: Report, pending_rejects: int) -> None:
        """Keep the run's counters current inside the chunk's transaction, so that a killed
        run shows how far it got."""
        if self.id is not None:
            await self.conn.execute(
                "UPDATE load_runs SET rows_in = $2, rows_loaded = $3, rows_already_loaded = $4, "
                "rows_rejected = $5 WHERE id = $1", self.id, report.rows_in, report.loaded,
                report.already_loaded, report.rejected + pending_rejects)

    @staticmethod
    async def pause() -> None:
        delay = float(os.environ.get(CHUNK_DELAY_ENV) or 0)
        if delay:
            await asyncio.sleep(delay)


def write_report(report: Report, path: Path | None) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report.as_json(), indent=2, default=str) + "\n",
                        encoding="utf-8")
