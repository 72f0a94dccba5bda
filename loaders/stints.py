"""The set-based engine behind the stint kinds (roster, npi, fl-post).

Python reads and checks the file a chunk at a time (in a thread, so that it overlaps the
server's work on the chunk before), then each chunk goes to the server in one transaction:

1. COPY into a temporary staging table (``load_batch``);
2. rows already loaded (``loaded_rows``) are skipped; a row loaded before whose end date or
   separation reason now differs is a reject that says so (the registry is corrected with
   ``correctStint``, not by loading the file again), and so is a second copy of a row;
3. people by source record ``(source, source key)``; rows without an id in their source go
   through the background check's matching first (loaders/resolve.py);
4. certificate numbers: a number that the registry (or an earlier row of the chunk) holds for
   another person is a reject;
5. overlaps: a stint overlapping one of the same person at the same agency, in the registry or
   in the chunk (where the one that started first stays), is a reject naming the other
   stint; the stints exclusion constraint stays as the last guard against a concurrent
   writer;
6. new people (``officers``, ``source_records``, prior names in ``officer_names``), new
   certificates with their status events, the stints and their ``loaded_rows``, with
   INSERT ... SELECT.

Each chunk commits with its ``loaded_rows``: a run killed at any point keeps whole chunks, and
running the file again loads exactly the rows that are missing.
"""

import asyncio
import json
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import asyncpg

from loaders.base import (
    Bar,
    LoadError,
    Options,
    Reject,
    RejectsFile,
    Report,
    Run,
    connect,
    default_rejects_path,
    write_report,
)
from loaders.resolve import Agencies, PersonMatcher, PersonQuery, create_agencies
from loaders.textfile import CsvFile, Row, file_facts, missing_columns
from registry.database import create_engine
from registry.dates import PartialDate
from registry.names import name_key, sort_key
from registry.settings import Settings


@dataclass(slots=True)
class StintRow:
    """One checked row: a person, an agency, maybe a certificate, and a stint."""

    line: int
    raw: list[str]
    row_key: str
    person_key: str  # the source's id, or "~" and a key made of the name for rows without
    has_id: bool
    first: str
    last: str
    started_on: date
    state: str
    middle: str | None = None
    suffix: str | None = None
    prior_names: list[tuple[str | None, str | None, str, str | None]] = field(
        default_factory=list)
    birth: PartialDate | None = None
    sex: str | None = None
    race: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    agency_name: str | None = None
    agency_ori: str | None = None
    agency_id: uuid.UUID | None = None
    cert_number: str | None = None
    cert_status: str | None = None
    cert_discipline: str | None = None
    rank: str | None = None
    ended_on: date | None = None
    separation_reason: str | None = None
    separation_note: str | None = None
    name_key: str | None = None
    sort_key: str | None = None


class StintKind(Protocol):
    """A source file layout that describes stints."""

    kind: str
    source: str
    required: tuple[str, ...]

    def parse(self, values: dict[str, str], line: int) -> StintRow:
        """The checked row, or ValueError with the reason to reject it."""
        ...


STAGE = """
CREATE TEMP TABLE IF NOT EXISTS load_batch (
  line integer NOT NULL, row_key text NOT NULL, person_key text NOT NULL,
  has_id boolean NOT NULL, first_name text, middle_name text, last_name text, suffix text,
  name_key text, sort_key text, prior_names jsonb, birth_year smallint, birth_month smallint,
  birth_day smallint, sex text, race text, payload jsonb, agency_id uuid, cert_state text,
  cert_number text, cert_status text, cert_discipline text, cert_board text, rank text,
  started_on date, ended_on date, separation_reason text, separation_note text,
  officer_id uuid, stint_id uuid NOT NULL DEFAULT gen_random_uuid(),
  done boolean NOT NULL DEFAULT false, reject text
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS load_people (
  person_key text PRIMARY KEY, id uuid NOT NULL
) ON COMMIT DELETE ROWS;
"""
COLUMNS = ("line", "row_key", "person_key", "has_id", "first_name", "middle_name", "last_name",
           "suffix", "name_key", "sort_key", "prior_names", "birth_year", "birth_month",
           "birth_day", "sex", "race", "payload", "agency_id", "cert_state", "cert_number",
           "cert_status", "cert_discipline", "cert_board", "rank", "started_on", "ended_on",
           "separation_reason", "separation_note")
OPEN = "NOT b.done AND b.reject IS NULL"

# Each statement works on the whole chunk; $1 is the source.
STEPS: tuple[tuple[str, str], ...] = (
    ("loaded before", f"""
     UPDATE load_batch b SET done = true, reject = CASE
       WHEN l.load_run_id = $2 THEN 'the same stint as an earlier row of this file'
       WHEN s.id IS NULL THEN NULL
       WHEN s.ended_on IS DISTINCT FROM b.ended_on
         OR s.separation_reason IS DISTINCT FROM b.separation_reason
       THEN format('already loaded as stint %s (ended %s, %s); this row says ended %s, %s: '
                   'correct the stint (correctStint) instead of loading the row again',
                   s.id, coalesce(s.ended_on::text, 'never'),
                   coalesce(s.separation_reason, 'no reason'),
                   coalesce(b.ended_on::text, 'never'),
                   coalesce(b.separation_reason, 'no reason'))
       END
     FROM loaded_rows l LEFT JOIN stints s ON s.id = l.entity_id
     WHERE l.source = $1 AND l.row_key = b.row_key AND {OPEN}"""),
    ("duplicates", f"""
     UPDATE load_batch b SET reject = 'the same stint as row ' || d.line || ' of this file'
     FROM (SELECT row_key, min(line) AS line FROM load_batch GROUP BY row_key
           HAVING count(*) > 1) d
     WHERE b.row_key = d.row_key AND b.line > d.line AND {OPEN}"""),
    ("people by source record", f"""
     UPDATE load_batch b SET officer_id = o.canonical_id
     FROM source_records r JOIN officers o ON o.id = r.officer_id
     WHERE r.source = $1 AND r.source_key = b.person_key AND {OPEN}"""),
)
CERTIFICATE_CHECKS: tuple[str, ...] = (
    f"""
    UPDATE load_batch b SET reject = format(
      'certificate %s %s is given for another person in row %s', b.cert_state, b.cert_number,
      f.line)
    FROM (SELECT DISTINCT ON (cert_state, cert_number) cert_state, cert_number, line,
                 coalesce(officer_id::text, person_key) AS who
          FROM load_batch WHERE cert_number IS NOT NULL AND NOT done AND reject IS NULL
          ORDER BY cert_state, cert_number, line) f
    WHERE b.cert_state = f.cert_state AND b.cert_number = f.cert_number
      AND coalesce(b.officer_id::text, b.person_key) <> f.who AND {OPEN}""",
    f"""
    UPDATE load_batch b SET reject = format(
      'certificate %s %s belongs to another officer in the registry (%s)', b.cert_state,
      b.cert_number, o.canonical_id)
    FROM certifications c JOIN officers o ON o.id = c.officer_id
    WHERE c.state = b.cert_state AND c.number = b.cert_number
      AND (b.officer_id IS NULL OR o.canonical_id <> b.officer_id) AND {OPEN}""",
)
OVERLAP_CHECKS: tuple[str, ...] = (
    f"""
    UPDATE load_batch b SET reject = format(
      'overlaps stint %s..%s of the same officer at the same agency, already in the '
      'registry (stint %s; both days of a stint count)', s.started_on,
      coalesce(s.ended_on::text, 'open'), s.id)
    FROM stints s
    WHERE s.officer_id = b.officer_id AND s.agency_id = b.agency_id
      AND daterange(s.started_on, s.ended_on, '[]') && daterange(b.started_on, b.ended_on, '[]')
      AND {OPEN}""",
    f"""
    UPDATE load_batch b SET reject = format(
      'overlaps the stint in row %s (%s..%s) of the same officer at the same agency (both '
      'days of a stint count)', e.line, e.started_on, coalesce(e.ended_on::text, 'open'))
    FROM load_batch e
    WHERE (e.started_on, e.line) < (b.started_on, b.line) AND e.agency_id = b.agency_id
      AND coalesce(e.officer_id::text, e.person_key) = coalesce(b.officer_id::text, b.person_key)
      AND NOT e.done AND e.reject IS NULL
      AND daterange(e.started_on, e.ended_on, '[]') && daterange(b.started_on, b.ended_on, '[]')
      AND {OPEN}""",
)
STATUS_DIFFERS = f"""
SELECT count(*) FROM load_batch b JOIN certifications c
  ON c.state = b.cert_state AND c.number = b.cert_number
WHERE b.cert_status IS NOT NULL AND c.status <> b.cert_status AND {OPEN}"""
NEW_PEOPLE = f"""
INSERT INTO load_people (person_key, id)
SELECT DISTINCT person_key, gen_random_uuid() FROM (
  SELECT DISTINCT person_key FROM load_batch b WHERE b.officer_id IS NULL AND {OPEN}) k"""
INSERT_OFFICERS = """
INSERT INTO officers (id, canonical_id, first_name, middle_name, last_name, suffix, name_key,
                      sort_key, birth_year, birth_month, birth_day, sex, race, recorded_by,
                      change_reason)
SELECT DISTINCT ON (p.person_key) p.id, p.id, b.first_name, b.middle_name, b.last_name,
       b.suffix, b.name_key, b.sort_key, b.birth_year, b.birth_month, b.birth_day, b.sex,
       b.race, $1, $2
FROM load_people p JOIN load_batch b ON b.person_key = p.person_key
ORDER BY p.person_key, b.line"""
INSERT_SOURCES = """
INSERT INTO source_records (officer_id, source, source_key, payload, recorded_by)
SELECT DISTINCT ON (p.person_key) p.id, $1, p.person_key, coalesce(b.payload, '{}'), $2
FROM load_people p JOIN load_batch b ON b.person_key = p.person_key
ORDER BY p.person_key, b.line"""
INSERT_NAMES = """
INSERT INTO officer_names (officer_id, kind, first_name, middle_name, last_name, suffix,
                           name_key, recorded_by)
SELECT f.id, 'prior', n.first, n.middle, n.last, n.suffix, n.name_key, $1
FROM (SELECT DISTINCT ON (p.person_key) p.id, b.prior_names
      FROM load_people p JOIN load_batch b ON b.person_key = p.person_key
      ORDER BY p.person_key, b.line) f
CROSS JOIN LATERAL jsonb_to_recordset(f.prior_names)
  AS n(first text, middle text, last text, suffix text, name_key text)
WHERE f.prior_names IS NOT NULL"""
ATTACH_NEW_PEOPLE = f"""
UPDATE load_batch b SET officer_id = p.id FROM load_people p
WHERE b.person_key = p.person_key AND b.officer_id IS NULL AND {OPEN}"""
INSERT_CERTIFICATES = f"""
WITH new AS (
  INSERT INTO certifications (officer_id, state, number, issuing_board, discipline, level,
                              issued_on, status, status_since, recorded_by, change_reason)
  SELECT DISTINCT ON (cert_state, cert_number) officer_id, cert_state, cert_number,
         cert_board, coalesce(cert_discipline, 'law_enforcement'), 'basic', started_on,
         cert_status, started_on, $1, $2
  FROM load_batch b
  WHERE cert_number IS NOT NULL AND {OPEN}
    AND NOT EXISTS (SELECT 1 FROM certifications c
                    WHERE c.state = b.cert_state AND c.number = b.cert_number)
  ORDER BY cert_state, cert_number, started_on, line
  RETURNING id, status, issued_on
), events AS (
  INSERT INTO certification_status_events (certification_id, action, from_status, to_status,
                                           effective_on, reason, recorded_by)
  SELECT id, 'issue', NULL, 'active', issued_on,
         'issued before the load; the issue date is the start of the first stint given', $1
  FROM new
  UNION ALL
  SELECT id, 'load', 'active', status, issued_on, $3, $1 FROM new WHERE status <> 'active'
  RETURNING 1
)
SELECT (SELECT count(*) FROM new), (SELECT count(*) FROM events)"""
INSERT_STINTS = f"""
INSERT INTO stints (id, officer_id, agency_id, rank, started_on, ended_on, separation_reason,
                    separation_note, recorded_by, change_reason)
SELECT stint_id, officer_id, agency_id, rank, started_on, ended_on, separation_reason,
       separation_note, $1, $2
FROM load_batch b WHERE {OPEN}
ORDER BY officer_id, agency_id, started_on"""
INSERT_LOADED = f"""
INSERT INTO loaded_rows (source, row_key, entity_type, entity_id, load_run_id)
SELECT $1, row_key, 'stint', stint_id, $2 FROM load_batch b WHERE {OPEN}"""
OUTCOME = """
SELECT line, reject FROM load_batch WHERE reject IS NOT NULL ORDER BY line"""
TALLY = """
SELECT count(*) FILTER (WHERE NOT done AND reject IS NULL) AS loaded,
       count(*) FILTER (WHERE done AND reject IS NULL) AS already
FROM load_batch"""


def _record(r: StintRow, board: Callable[[str], str], first_of_person: bool
            ) -> tuple[Any, ...]:
    """The COPY record of a row; what describes the person goes with its first row only."""
    priors = payload = None
    if first_of_person:
        if r.prior_names:
            priors = json.dumps([{"first": f, "middle": m, "last": last, "suffix": s,
                                  "name_key": name_key(f, m, last, s)}
                                 for f, m, last, s in r.prior_names])
        payload = json.dumps(r.payload) if r.payload else None
    b = r.birth
    return (r.line, r.row_key, r.person_key, r.has_id, r.first, r.middle, r.last, r.suffix,
            r.name_key or name_key(r.first, r.middle, r.last, r.suffix),
            r.sort_key or sort_key(r.first, r.middle, r.last), priors,
            b.year if b else None, b.month if b else None, b.day if b else None,
            r.sex, r.race, payload, r.agency_id, r.state if r.cert_number else None,
            r.cert_number, r.cert_status, r.cert_discipline,
            board(r.state) if r.cert_number else None, r.rank, r.started_on, r.ended_on,
            r.separation_reason, r.separation_note)


@dataclass
class Chunk:
    rows: list[StintRow]
    records: list[tuple[Any, ...]]
    rejects: list[Reject]
    read: int


class ChunkReader:
    """Reads and checks the file a chunk at a time, finds the agencies and builds the COPY
    records: all of it in a worker thread, while the server works on the chunk before."""

    def __init__(self, kind: StintKind, csv_file: CsvFile, size: int, agencies: Agencies,
                 board: Callable[[str], str]) -> None:
        self.kind = kind
        self.rows: Iterator[Row] = iter(csv_file)
        self.columns = csv_file.columns
        self.size = size
        self.agencies = agencies
        self.board = board

    def next(self) -> Chunk | None:
        rows: list[StintRow] = []
        records: list[tuple[Any, ...]] = []
        rejects: list[Reject] = []
        people: set[str] = set()
        read = 0
        for row in self.rows:
            read += 1
            if row.fields is None or row.problem:
                rejects.append(Reject(row.line, row.problem or "unreadable", row.fields or []))
            else:
                values = dict(zip(self.columns, row.fields, strict=True))
                try:
                    parsed = self.kind.parse(values, row.line)
                    parsed.agency_id = self.agencies.resolve(
                        parsed.state, parsed.agency_name, parsed.agency_ori)
                except ValueError as e:
                    rejects.append(Reject(row.line, str(e), row.fields))
                else:
                    parsed.raw = row.fields
                    rows.append(parsed)
                    first = parsed.person_key not in people
                    people.add(parsed.person_key)
                    records.append(_record(parsed, self.board, first))
            if read >= self.size:
                break
        return Chunk(rows, records, rejects, read) if read else None


def issuing_board(settings: Settings) -> Callable[[str], str]:
    from registry.synthetic import BOARDS

    def board(state: str) -> str:
        if state == settings.state:
            return settings.board_name
        return BOARDS.get(state, f"{state} Peace Officer Standards and Training board")
    return board


class _Timer:
    def __init__(self, timings: dict[str, float] | None, step: str) -> None:
        self.timings, self.step = timings, step

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        if self.timings is not None:
            self.timings[self.step] = (self.timings.get(self.step, 0.0)
                                       + time.perf_counter() - self.started)


class StintLoader:
    """One run of a stint kind over one file."""

    def __init__(self, kind: StintKind, path: Path, settings: Settings, options: Options
                 ) -> None:
        self.kind = kind
        self.path = path
        self.settings = settings
        self.options = options
        self.board = issuing_board(settings)
        self.matcher: PersonMatcher | None = None
        # Seconds per step, when the caller (bench/bench_load.py) wants them.
        self.timings: dict[str, float] | None = None
        self.moved: dict[uuid.UUID, uuid.UUID] = {}
        self.report: Report | None = None
        self._engine: Any = None
        self._match_conn: Any = None

    async def run(self) -> Report:
        started = time.perf_counter()
        facts = file_facts(self.path)
        report = Report(self.kind.kind, str(self.path), facts.sha256, self.options.dry_run)
        with CsvFile(self.path) as csv_file:
            missing = missing_columns(csv_file.columns, self.kind.required)
            if missing:
                raise LoadError(f"{self.path.name} has no column {', '.join(missing)}; a "
                                f"{self.kind.kind} file has {', '.join(self.kind.required)}")
            rejects_path = self.options.rejects_path or default_rejects_path(self.path,
                                                                             self.kind.kind)
            rejects = RejectsFile(rejects_path, csv_file.header)
            report.rejects_file = str(rejects_path)
            conn = await connect(self.settings.database_url or "")
            bar = Bar(max(facts.lines - 1, 0), f"{self.kind.kind} {self.path.name}",
                      self.options.show_progress)
            run = Run(conn, self.kind.kind, self.path, facts.sha256, self.options.dry_run)
            outer = conn.transaction() if self.options.dry_run else None
            try:
                await conn.execute(STAGE)
                if outer is not None:
                    await outer.start()
                await run.start(str(rejects_path))
                if self.options.dry_run:
                    run.id = await conn.fetchval(
                        "INSERT INTO load_runs (kind, file_name, file_sha256, status, "
                        "started_by) VALUES ($1, $2, $3, 'dry_run', $4) RETURNING id",
                        self.kind.kind, self.path.name, facts.sha256, run.label)
                report.run_id = None if self.options.dry_run else str(run.id)
                agencies = await Agencies.read(conn)
                await self._chunks(conn, csv_file, run, agencies, report, rejects, bar)
                if csv_file.decoding.fallback_count:
                    lines = csv_file.decoding.fallback_lines
                    report.counts["rows decoded as Windows-1252"] = len(lines)
                    report.notes.append(
                        f"{len(lines):,} lines were not UTF-8 and were read as Windows-1252 "
                        f"(first: line {', '.join(map(str, lines[:5]))})")
                report.seconds = time.perf_counter() - started
                await run.finish(report)
            except BaseException:
                if outer is None and run.id is not None:
                    report.seconds = time.perf_counter() - started
                    try:
                        await run.finish(report, "failed")
                    except Exception:  # the connection may be gone
                        pass
                raise
            finally:
                if outer is not None:
                    await outer.rollback()
                bar.close()
                rejects.close()
                await conn.close()
                if self._match_conn is not None:
                    await self._match_conn.close()
                if self._engine is not None:
                    await self._engine.dispose()
        report.rejected = rejects.count
        write_report(report, self.options.report_path)
        self.report = report
        return report

    async def _chunks(self, conn: asyncpg.Connection, csv_file: CsvFile, run: Run,
                      agencies: Agencies, report: Report, rejects: RejectsFile, bar: Bar
                      ) -> None:
        reader = ChunkReader(self.kind, csv_file, self.options.chunk_size, agencies,
                             self.board)
        loop = asyncio.get_running_loop()
        # The reader holds the GIL for long stretches; a short switch interval gives the
        # event loop the socket back quickly (as registry/synthetic.py measured).
        interval = sys.getswitchinterval()
        sys.setswitchinterval(0.001)
        try:
            with ThreadPoolExecutor(max_workers=1) as pool:
                pending = loop.run_in_executor(pool, reader.next)
                while True:
                    with self._timed("waiting for Python to read and check rows"):
                        chunk = await pending
                    if chunk is None:
                        break
                    pending = loop.run_in_executor(pool, reader.next)
                    await self._chunk(conn, chunk, run, agencies, report, rejects)
                    bar.advance(chunk.read)
                    await run.pause()
        finally:
            sys.setswitchinterval(interval)

    def _timed(self, step: str) -> _Timer:
        return _Timer(self.timings, step)

    async def _chunk(self, conn: asyncpg.Connection, chunk: Chunk, run: Run,
                     agencies: Agencies, report: Report, rejects: RejectsFile) -> None:
        report.rows_in += chunk.read
        bad = list(chunk.rejects)
        rows = chunk.rows
        by_line = {r.line: r for r in rows}
        tx = None if self.options.dry_run else conn.transaction()
        if tx is not None:
            await tx.start()
        try:
            await conn.execute("TRUNCATE load_batch, load_people")
            reason = f"load run {run.id}"
            with self._timed("agencies"):
                created, moved = await create_agencies(conn, agencies, run.label, reason)
            report.counts["agencies created"] += created
            self.moved.update(moved)
            with self._timed("COPY into the staging table"):
                await conn.copy_records_to_table("load_batch", columns=COLUMNS,
                                                 records=chunk.records)
                if self.moved:  # another process created some of our new agencies first
                    await conn.execute(
                        "UPDATE load_batch b SET agency_id = m.new FROM unnest($1::uuid[], "
                        "$2::uuid[]) AS m(old, new) WHERE b.agency_id = m.old",
                        list(self.moved), list(self.moved.values()))
                await conn.execute("ANALYZE load_batch")
            for step, sql in STEPS:
                args = {"duplicates": (), "loaded before": (self.kind.source, run.id)}.get(
                    step, (self.kind.source,))
                with self._timed(step):
                    await conn.execute(sql, *args)
            with self._timed("matching people without an id"):
                await self._match_people(conn, by_line, report, run)
            with self._timed("certificate checks"):
                for sql in CERTIFICATE_CHECKS:
                    await conn.execute(sql)
                report.counts["certificates whose status differs from the file"] += \
                    await conn.fetchval(STATUS_DIFFERS)
            with self._timed("overlap checks"):
                for sql in OVERLAP_CHECKS:
                    await conn.execute(sql)
            with self._timed("INSERT officers (with match_keys) and source records"):
                people = await conn.execute(NEW_PEOPLE)
                report.counts["people created"] += int(people.split()[-1])
                await conn.execute(INSERT_OFFICERS, run.label, reason)
                await conn.execute(INSERT_SOURCES, self.kind.source, run.label)
                names = await conn.execute(INSERT_NAMES, run.label)
                report.counts["prior names recorded"] += int(names.split()[-1])
                await conn.execute(ATTACH_NEW_PEOPLE)
            with self._timed("INSERT certifications and status events"):
                certs, _ = await conn.fetchrow(
                    INSERT_CERTIFICATES, run.label, reason,
                    f"status as given by {self.kind.kind} file {self.path.name}")
            report.counts["certificates created"] += certs
            try:
                with self._timed("INSERT stints"):
                    stints = await conn.execute(INSERT_STINTS, run.label, reason)
            except asyncpg.exceptions.ExclusionViolationError as e:
                raise LoadError("another writer added an overlapping stint while this chunk "
                                f"was loading ({e.detail}); run the load again: it resumes "
                                "after the last whole chunk") from e
            report.counts["stints created"] += int(stints.split()[-1])
            with self._timed("INSERT loaded_rows"):
                await conn.execute(INSERT_LOADED, self.kind.source, run.id)
            loaded, already = await conn.fetchrow(TALLY)
            outcome = await conn.fetch(OUTCOME)
            report.loaded += loaded
            report.already_loaded += already
            await run.progress(report, pending_rejects=len(bad) + len(outcome))
            if tx is not None:
                with self._timed("COMMIT"):
                    await tx.commit()
        except BaseException:
            if tx is not None:
                await tx.rollback()
            raise
        bad.extend(Reject(o["line"], o["reject"], by_line[o["line"]].raw) for o in outcome)
        bad.sort(key=lambda r: r.row if isinstance(r.row, int) else 0)
        rejects.write(bad, report)
        report.rejected = rejects.count

    async def _match_people(self, conn: asyncpg.Connection, by_line: dict[int, StintRow],
                            report: Report, run: Run) -> None:
        """Rows without an id in their source and no source record yet: the matching."""
        open_keys = await conn.fetch(
            "SELECT DISTINCT ON (person_key) person_key, line FROM load_batch b "
            f"WHERE NOT has_id AND officer_id IS NULL AND {OPEN} ORDER BY person_key, line")
        if not open_keys:
            return
        matcher = await self._matcher()
        for k in open_keys:
            r = by_line[k["line"]]
            found = await matcher.match(PersonQuery(
                first=r.first, last=r.last, middle=r.middle, suffix=r.suffix,
                prior_names=tuple(" ".join(p for p in (f, m, last) if p)
                                  for f, m, last, _ in r.prior_names),
                birth=r.birth,
                certificate=(r.state, r.cert_number) if r.cert_number else None,
                agency_id=r.agency_id), conn)
            report.counts[f"people without an id: {found.outcome}"] += 1
            if found.outcome == "ambiguous":
                report.lists.setdefault("ambiguous people", []).append(
                    {"line": r.line, "name": f"{r.first} {r.last}", **found.detail})
            if found.officer_id is None:
                continue
            await conn.execute(
                "INSERT INTO source_records (officer_id, source, source_key, payload, "
                "recorded_by) VALUES ($1, $2, $3, $4::jsonb, $5)", found.officer_id,
                self.kind.source, r.person_key,
                json.dumps({**r.payload, "matched": {"score": found.score, **found.detail}}),
                run.label)
            await conn.execute(
                f"UPDATE load_batch b SET officer_id = $1 WHERE person_key = $2 AND {OPEN}",
                found.officer_id, r.person_key)

    async def _matcher(self) -> PersonMatcher:
        if self.matcher is None:
            self._engine = create_engine(self.settings.database_url or "", self.settings)
            self._match_conn = await self._engine.connect()
            self.matcher = PersonMatcher(self._match_conn, self.settings.load_match_threshold,
                                         self.settings.match_trigram_floor)
        return self.matcher


async def load_stints(kind: StintKind, path: Path, settings: Settings, options: Options
                      ) -> Report:
    return await StintLoader(kind, path, settings, options).run()
