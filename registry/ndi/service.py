"""The NDI: export this state's decertification actions as a batch file, and read another
state's file back as external actions attached to people.

Export (POST staff; ``registry ndi export`` and the ``submitNdiExport`` mutation). One
transaction: take the export lock, pick the records (``repository.BATCH_SQL``), then check and
format every record in PostgreSQL with the SQL the layout (``layout.LAYOUT``) compiles from its
specification, into a temporary table. Any record that fails stops the export before anything
is written: the failures are counted and the first ones listed with their reasons, the
transaction rolls back (no ledger entry) and no file appears (``export_to_path`` writes a
temporary file and renames it only after the commit). Otherwise ``COPY ... TO STDOUT`` writes
the file, streamed to the sink chunk by chunk as it is hashed, so memory does not grow with the
number of records; the ledger (``ndi_submissions``, ``ndi_submission_records``) records what
was sent, when, by whom and as what, and one audit event is appended. The GraphQL answer's
records are read back from the same bytes: one mechanism writes both.

"Under investigation" records (``case_records``): with REGISTRY_NDI_UNDER_INVESTIGATION each
pending case is a record (new, update, and rescind once the case ends). Turned off, the NDI
must not keep pointers the state no longer stands behind: the records it still has are
rescinded by the next export (no_longer_reported), and a registry that never sent one does
not read its cases at all.

Import (``registry ndi import``). The file is read twice: first for its SHA-256, its encoding
(UTF-8, or the file is refused with the line of the first bad byte) and whether the last line
ends (a file that does not is truncated: its last record is rejected); then record by record.
Each valid record of another state is stored in ``external_actions`` by (state, record id):
  - unknown id: attached to a person through the background check's matching
    (``background_checks.matching.find_matches``): the certificate number and state on a
    certification or on an earlier external action -> ``certificate``; else a single person
    whose date of birth is the same and whose score reaches REGISTRY_NDI_ATTACH_THRESHOLD
    -> ``name_and_birth_date``; else a person of their own is created (an officers row with
    the record's names as aliases and a ``source_records`` row ``ndi:<state>`` / record id),
    so background checks still find the action -> ``new_person``;
  - known id, same content: nothing changes;
  - known id, new content (an update): a new version of the row;
  - rescind: the row is marked rescinded (a new version); a rescind of a record never seen
    is counted and otherwise ignored.
Invalid records are rejected with their line, record id, column and reason (and written to a
rejects file) while the others load. The whole file is one transaction with one
``load_runs`` row and one audit event carrying the file's hash.
"""

import codecs
import csv
import hashlib
import json
import os
import secrets
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from registry import audit
from registry.actors import Actor, require_role
from registry.background_checks.candidate import parse_candidate
from registry.background_checks.matching import Match, find_matches
from registry.database import driver, run_sql, session_scope
from registry.dates import PartialDate, check_birth_date
from registry.errors import InvalidInput, RegistryError
from registry.keys.models import Role
from registry.names import name_key, sort_key
from registry.ndi import repository
from registry.ndi.layout import LAYOUT, ExportContext, Layout, Problem, RecordType
from registry.referrals.grounds import load_grounds
from registry.settings import Settings

EXPORTERS = (Role.POST_STAFF,)
IMPORTERS = (Role.POST_STAFF, Role.ADMIN)
LEDGER_READERS = (Role.POST_STAFF, Role.ADMIN)
LISTED_FAILURES = 100  # failures listed in an error; all are counted


class Scope(StrEnum):
    SINCE_LAST = "since_last"
    ALL = "all"


class NdiRecordsInvalid(RegistryError):
    """Records failed the layout: nothing was exported."""

    code = "NDI_RECORDS_INVALID"


class NdiFileRefused(InvalidInput):
    """The file as a whole cannot be read (encoding, header): nothing was imported."""


@dataclass(frozen=True)
class Failure:
    record_id: str
    problems: tuple[Problem, ...]

    def as_json(self) -> dict[str, Any]:
        return {"recordId": self.record_id,
                "problems": [{"column": p.column, "reason": p.reason} for p in self.problems]}


@dataclass(frozen=True)
class ExportedRecord:
    record_id: str
    record_type: str
    fields: tuple[str, ...]  # the file's fields, in the layout's column order


@dataclass
class Submission:
    id: uuid.UUID
    layout_version: str
    scope: str
    file_name: str | None
    file_sha256: str
    records: int
    new_records: int
    updates: int
    rescinds: int
    recorded_at: datetime
    recorded_by: str


ProgressFn = Callable[[int, int], None]


def export_context(settings: Settings) -> ExportContext:
    grounds = load_grounds(settings)
    return ExportContext(
        state=settings.state,
        certifying_authority=settings.ndi_certifying_authority or "",
        verification_contact=settings.ndi_contact or "",
        categories={g.code: g.category for g in grounds.grounds},
        opt_ins=frozenset({"ndi_under_investigation"} if settings.ndi_under_investigation
                          else ()))


async def case_records(conn: asyncpg.Connection, settings: Settings
                       ) -> repository.CaseRecords | None:
    """Which "under investigation" records this export includes: with the opt-in, the pending
    cases' (and the rescinds of those that ended); without it, only to take back any that
    were sent (the ledger says), so that the NDI keeps no pointer the state stopped
    reporting; else none, and the export reads no case."""
    if settings.ndi_under_investigation:
        return repository.CaseRecords.REPORTED
    if await repository.case_records_sent(conn):
        return repository.CaseRecords.WITHDRAWN
    return None


async def export(
    *, session: AsyncSession, actor: Actor, settings: Settings, scope: Scope | str,
    sink: IO[bytes], file_name: str | None = None, layout: Layout = LAYOUT,
    on_record: Callable[[ExportedRecord], None] | None = None,
    progress: ProgressFn | None = None, max_records: int | None = None,
) -> Submission:
    """Write the records of ``scope`` to ``sink`` and record the submission, in the session's
    transaction (the caller commits; ``export_to_path`` does it for files). Raises
    NdiRecordsInvalid, listing the failures, when any record does not fit the layout."""
    require_role(actor, *EXPORTERS, to="submit decertification actions to the NDI")
    try:
        scope = Scope(scope)
    except ValueError:
        raise InvalidInput(f"'{scope}' is not a scope; use since_last or all.",
                           field="scope") from None
    ctx = export_context(settings)
    conn = await driver(session)
    await repository.lock_exports(conn)
    total = await repository.create_batch(conn, everything=scope is Scope.ALL,
                                          case_records=await case_records(conn, settings),
                                          state=settings.state)
    if max_records is not None and total > max_records:
        raise InvalidInput(
            f"This export has {total:,} records; the API returns at most {max_records:,} "
            "(REGISTRY_NDI_GRAPHQL_MAX_RECORDS). Run `registry ndi export` on the server for "
            "larger exports.", field="scope", records=total)
    if progress:
        progress(0, total)

    await repository.render_records(conn, layout.records_sql(repository.EXPORT_ROWS, ctx),
                                    settings.state)
    by_type, failed = await repository.tally(conn)
    if failed:
        failures = [Failure(r["record_id"], tuple(layout.problems(r["problems"])))
                    for r in await repository.failing_records(conn, LISTED_FAILURES)]
        first = failures[0]
        raise NdiRecordsInvalid(
            f"{failed:,} of {total:,} records do not fit the NDI layout {layout.version}; "
            f"nothing was exported. First: record {first.record_id}: "
            + "; ".join(str(p) for p in first.problems) + ".",
            failed=failed, failures=[f.as_json() for f in failures])

    out = _FileWriter(layout, sink, total, on_record, progress)
    await repository.copy_records(conn, layout.copy_query, out.write)
    assert out.records == total, (out.records, total)

    submission_id = uuid.uuid4()
    row = await repository.record_submission(
        conn, submission_id=submission_id, state=settings.state,
        layout_version=layout.version, scope=scope.value,
        file_name=file_name, file_sha256=out.sha.hexdigest(), records=total,
        recorded_by=actor.label)
    submission = Submission(
        id=row["id"], layout_version=row["layout_version"], scope=row["scope"],
        file_name=row["file_name"], file_sha256=row["file_sha256"], records=row["records"],
        new_records=by_type.get(RecordType.NEW.value, 0),
        updates=by_type.get(RecordType.UPDATE.value, 0),
        rescinds=by_type.get(RecordType.RESCIND.value, 0),
        recorded_at=row["recorded_at"], recorded_by=row["recorded_by"])
    await audit.record(session, actor=actor, operation="ndi.export",
                       entity_type="ndi_submission", entity_id=submission.id,
                       after={"scope": scope.value, "layout_version": layout.version,
                              "file_name": file_name, "file_sha256": submission.file_sha256,
                              "records": total, "new": submission.new_records,
                              "update": submission.updates, "rescind": submission.rescinds})
    return submission


class _FileWriter:
    """COPY's output as the layout's file, chunk by chunk as it arrives: LF line ends made
    the layout's, the text in the layout's encoding (COPY writes UTF-8), hashed and written;
    records counted for ``progress`` and, for ``on_record`` (the GraphQL answer), read back
    with the layout. A line break in a field is refused by the check, so a line is a record."""

    def __init__(self, layout: Layout, sink: IO[bytes], total: int,
                 on_record: Callable[[ExportedRecord], None] | None,
                 progress: ProgressFn | None) -> None:
        self.layout, self.sink, self.total = layout, sink, total
        self.sha = hashlib.sha256()
        self.on_record, self.progress = on_record, progress
        fmt = layout.file
        self.line_end = fmt.line_end.encode()
        self.encode: Callable[[bytes], bytes] | None = None
        if codecs.lookup(fmt.encoding).name != "utf-8":
            decode = codecs.getincrementaldecoder("utf-8")().decode
            encode = codecs.getincrementalencoder(fmt.encoding)().encode
            self.encode = lambda data: encode(decode(data))
        self.lines = 0  # the header's too
        self.pending = b""  # the start of a line the next chunk ends
        # Where the record's id and type sit in a line, for on_record.
        self.id_at, self.type_at = (layout.fields.index(layout.by_key[key])
                                    for key in ("record_id", "record_type"))

    @property
    def records(self) -> int:
        return max(self.lines - 1, 0)

    async def write(self, data: bytes) -> None:
        if self.on_record is not None:
            self._read_back(data)
        self.lines += data.count(b"\n")
        if self.line_end != b"\n":
            data = data.replace(b"\n", self.line_end)
        if self.encode is not None:
            data = self.encode(data)
        self.sha.update(data)
        self.sink.write(data)
        if self.progress:
            self.progress(self.records, self.total)

    def _read_back(self, data: bytes) -> None:
        assert self.on_record is not None
        lines = (self.pending + data).split(b"\n")
        self.pending = lines.pop()
        if self.lines == 0:
            lines = lines[1:]  # the header
        fmt, record_type = self.layout.file, self.layout.by_key["record_type"]
        for fields in csv.reader((line.decode() for line in lines), delimiter=fmt.delimiter,
                                 quotechar=fmt.quotechar):
            self.on_record(ExportedRecord(fields[self.id_at],
                                          record_type.parse(fields[self.type_at]),
                                          tuple(fields)))


async def export_to_path(engine: AsyncEngine, *, actor: Actor, settings: Settings,
                         scope: Scope | str, path: Path, progress: ProgressFn | None = None
                         ) -> Submission:
    """Export into ``path``: written to a temporary file beside it, which replaces ``path``
    only once every record passed and the ledger is committed. A failed export leaves no
    file (and an existing ``path`` as it was)."""
    path = path.resolve()
    if not path.parent.is_dir():
        raise InvalidInput(f"The folder {path.parent} does not exist.", field="output")
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    try:
        with partial.open("wb") as sink:
            async with session_scope(engine) as session:
                submission = await export(session=session, actor=actor, settings=settings,
                                          scope=scope, sink=sink, file_name=path.name,
                                          progress=progress)
                sink.flush()
                os.fsync(sink.fileno())
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    try:
        os.replace(partial, path)
    except OSError as e:
        raise RegistryError(
            f"Submission {submission.id} is recorded but the file could not be moved into "
            f"place ({e.strerror}); it is at {partial}: move it to {path}.") from None
    return submission


async def submissions(*, session: AsyncSession, actor: Actor, limit: int,
                      after: tuple[datetime, uuid.UUID] | None) -> list[Any]:
    require_role(actor, *LEDGER_READERS, to="read the NDI submission ledger")
    params: dict[str, Any] = {"limit": limit}
    if after is not None:
        params["after_at"], params["after_id"] = after
    return list(await run_sql(session, repository.submissions_sql(after is not None), params))



# --- import -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reject:
    line: int
    record_id: str | None
    column: str
    reason: str


@dataclass
class ImportResult:
    run_id: uuid.UUID
    file_name: str
    file_sha256: str
    records: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    rejected: int = 0
    rejects: list[Reject] = field(default_factory=list)  # the first LISTED_FAILURES
    rejects_file: str | None = None
    ignored_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scan:
    sha256: str
    size: int
    ends_with_line_end: bool


def scan(path: Path, encoding: str) -> Scan:
    """SHA-256, encoding check and whether the last line ends, in one streaming pass."""
    sha = hashlib.sha256()
    decoder = codecs.getincrementaldecoder(encoding)()
    lines, size, last, problem = 1, 0, b"", None
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            sha.update(chunk)
            size += len(chunk)
            if problem is None:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as e:
                    where = lines + e.object[:e.start].count(b"\n")
                    problem = (f"line {where} has the byte 0x{e.object[e.start]:02x}, which is "
                               f"not {encoding.upper()}")
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if problem is None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            problem = "the file ends inside a character"
    if problem is not None:
        raise NdiFileRefused(f"{path.name} is not {encoding.upper()} text: {problem}. Save it "
                             f"as {encoding.upper()} and import it again; nothing was imported.",
                             field="file")
    if size == 0:
        raise NdiFileRefused(f"{path.name} is empty: an NDI file starts with its header row.",
                             field="file")
    return Scan(sha.hexdigest(), size, last == b"\n")


def _jsonable(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, PartialDate):
        return str(value)
    return value


class _Importer:
    def __init__(self, *, session: AsyncSession, conn: asyncpg.Connection, actor: Actor,
                 settings: Settings, result: ImportResult, layout: Layout,
                 rejects: Callable[[Reject], None]) -> None:
        self.session, self.conn, self.actor = session, conn, actor
        self.settings, self.result, self.layout = settings, result, layout
        self.write_reject = rejects
        self.threshold = max(settings.match_threshold, settings.ndi_attach_threshold)

    def reject(self, line: int, record_id: str | None, problems: list[Problem]) -> None:
        self.result.rejected += 1
        for p in problems:
            r = Reject(line, record_id, p.column, p.reason)
            if len(self.result.rejects) < LISTED_FAILURES:
                self.result.rejects.append(r)
            self.write_reject(r)

    async def record(self, line: int, fields: dict[str, str]) -> None:
        values, problems = self.layout.parse(fields)
        record_id = values.get("record_id")
        state = values.get("contributing_state")
        if state and state == self.settings.state:
            problems.append(Problem(self.layout.by_key["contributing_state"].name,
                                    f"{state} is this registry's own state; its actions are "
                                    "already here"))
        birth = values.get("date_of_birth")
        if birth is not None:
            try:
                check_birth_date(birth, date.today())
            except InvalidInput as e:
                problems.append(Problem(self.layout.by_key["date_of_birth"].name, e.message))
        if problems:
            self.reject(line, record_id, problems)
            return
        try:
            async with self.conn.transaction():  # a savepoint: a refused record undoes alone
                await self.apply(line, values)
        except InvalidInput as e:
            self.reject(line, record_id, [Problem(_column_of(e.details.get("field")),
                                                  e.message)])
        except asyncpg.PostgresError as e:
            self.reject(line, record_id, [Problem("record", f"refused by the database: "
                                                            f"{e.args[0] if e.args else e}")])

    async def apply(self, line: int, values: dict[str, Any]) -> None:
        counts = self.result.counts
        content = {k: _jsonable(v) for k, v in values.items() if k != "record_type"}
        rescind = values["record_type"] == RecordType.RESCIND.value
        row = {
            "contributing_state": values["contributing_state"],
            "record_id": values["record_id"],
            "record_type": values["record_type"],
            "certifying_authority": values.get("certifying_authority"),
            "verification_contact": values.get("verification_contact"),
            "first_name": values["first_name"], "middle_name": values.get("middle_name"),
            "last_name": values["last_name"], "suffix": values.get("suffix"),
            "aliases": [_full_name(a) for a in values.get("aliases") or []],
            "birth_year": birth.year if (birth := values.get("date_of_birth")) else None,
            "birth_month": birth.month if birth else None,
            "birth_day": birth.day if birth else None,
            "certificate_number": values.get("certificate_number"),
            "action_type": values["action_type"], "action_date": values["action_date"],
            "suspension_start": values.get("suspension_start"),
            "suspension_end": values.get("suspension_end"),
            "reason_category": values.get("reason_category"),
            "rescinded": rescind, "load_run_id": self.result.run_id,
            "raw": json.dumps({"layout": self.layout.version, "line": line,
                               "file_sha256": self.result.file_sha256, "values": content}),
            "recorded_by": self.actor.label,
        }
        existing = await self.conn.fetchrow(repository.EXTERNAL_BY_KEY,
                                            row["contributing_state"], row["record_id"])
        if existing is not None:
            raw = existing["raw"]
            raw = json.loads(raw) if isinstance(raw, str) else raw
            if raw.get("values") == content and existing["rescinded"] == rescind:
                counts["unchanged"] += 1
                return
            row["change_reason"] = (f"rescinded by {row['contributing_state']}" if rescind
                                    else f"{row['record_type']} from {row['contributing_state']}")
            await repository.update_external(self.conn, existing["id"], row)
            counts["rescinded" if rescind and not existing["rescinded"] else "updated"] += 1
            return
        if rescind:
            counts["rescinds_of_unknown_records"] += 1
            return
        officer_id, attached_by, score = await self.attach(values)
        row.update(officer_id=officer_id, attached_by=attached_by, match_score=score,
                   change_reason=None)
        await repository.insert_external(self.conn, row)
        counts["new"] += 1
        counts[f"attached_by_{attached_by}"] += 1

    async def attach(self, values: dict[str, Any]) -> tuple[uuid.UUID, str, float | None]:
        """The person the record is about: by certificate, by name and date of birth, or a
        new person of their own."""
        birth = values.get("date_of_birth")
        number = values.get("certificate_number")
        candidate = parse_candidate(
            first_name=values["first_name"], last_name=values["last_name"],
            middle_name=values.get("middle_name"), suffix=values.get("suffix"),
            prior_names=[_full_name(a) for a in values.get("aliases") or []],
            date_of_birth=str(birth) if birth else None,
            certificate_numbers=([{"state": values["contributing_state"], "number": number}]
                                 if number else []))
        matches = await find_matches(self.session, candidate,
                                     threshold=self.settings.match_threshold,
                                     trigram_floor=self.settings.match_trigram_floor, limit=5)
        decided = decide_attachment(matches, self.threshold)
        if decided is not None:
            return decided
        if any(m.birth == "exact" and m.score >= self.threshold for m in matches):
            self.result.counts["ambiguous_matches"] += 1
        return await self.new_person(values), "new_person", None

    async def new_person(self, values: dict[str, Any]) -> uuid.UUID:
        officer_id = uuid.uuid4()
        first, middle = values["first_name"], values.get("middle_name")
        last, suffix = values["last_name"], values.get("suffix")
        birth = values.get("date_of_birth")
        label = self.actor.label
        state = values["contributing_state"]
        await self.conn.execute(
            """INSERT INTO officers (id, canonical_id, first_name, middle_name, last_name,
                 suffix, name_key, sort_key, birth_year, birth_month, birth_day, recorded_by,
                 change_reason)
               VALUES ($1, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)""",
            officer_id, first, middle, last, suffix, name_key(first, middle, last, suffix),
            sort_key(first, middle, last), birth.year if birth else None,
            birth.month if birth else None, birth.day if birth else None, label,
            f"known only from {state}'s NDI record {values['record_id']}")
        aliases = values.get("aliases") or []
        if aliases:
            await self.conn.executemany(
                """INSERT INTO officer_names (officer_id, kind, first_name, middle_name,
                     last_name, name_key, recorded_by) VALUES ($1, 'alias', $2, $3, $4, $5, $6)""",
                [(officer_id, a_first, a_middle, a_last,
                  name_key(a_first, a_middle, a_last, None), label)
                 for a_last, a_first, a_middle in aliases])
        await self.conn.execute(
            """INSERT INTO source_records (officer_id, source, source_key, payload, recorded_by)
               VALUES ($1, $2, $3, CAST($4 AS jsonb), $5)""",
            officer_id, f"ndi:{state}", values["record_id"],
            json.dumps({k: _jsonable(v) for k, v in values.items()}), label)
        self.result.counts["new_people"] += 1
        return officer_id


def decide_attachment(matches: list[Match], threshold: float
                      ) -> tuple[uuid.UUID, str, float] | None:
    """The matching's answer as an attachment, or None for a new person. A certificate
    number and state always decide; otherwise exactly one person must have the same full date
    of birth and score at least ``threshold`` (two such people: it is not safe to choose)."""
    if matches and matches[0].certificate:
        return matches[0].officer_id, "certificate", matches[0].score
    fits = [m for m in matches if m.birth == "exact" and m.score >= threshold]
    if len(fits) == 1:
        return fits[0].officer_id, "name_and_birth_date", fits[0].score
    return None


# parse_candidate names its arguments as the API does; a reject names the file's column.
_CANDIDATE_FIELDS = {"firstName": "first_name", "lastName": "last_name",
                     "middleName": "middle_name", "suffix": "suffix",
                     "dateOfBirth": "date_of_birth", "priorNames": "aliases",
                     "certificateNumbers": "certificate_number"}


def _column_of(field_name: str | None) -> str:
    key = _CANDIDATE_FIELDS.get((field_name or "").split("[")[0])
    if key is None:
        return "record"
    return LAYOUT.by_key[key].name if key in LAYOUT.by_key else key


def _full_name(name: list[str | None]) -> str:
    last, first, middle = name
    return " ".join(p for p in (first, middle, last) if p)


def _reader_encoding(encoding: str) -> str:
    """UTF-8 files may start with a byte-order mark (spreadsheets write one)."""
    return "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding


async def import_file(
    *, session: AsyncSession, actor: Actor, settings: Settings, path: Path,
    rejects_path: Path | None = None, layout: Layout = LAYOUT,
    progress: ProgressFn | None = None,
) -> ImportResult:
    """Read another state's NDI file into external actions, in the session's transaction
    (the caller commits; ``import_path`` does). Raises NdiFileRefused when the file as a whole
    cannot be read; bad records are rejected one by one."""
    require_role(actor, *IMPORTERS, to="import NDI files")
    fmt = layout.file
    scanned = scan(path, fmt.encoding)
    result = ImportResult(run_id=uuid.uuid4(), file_name=path.name,
                          file_sha256=scanned.sha256)
    conn = await driver(session)
    reject_file: IO[str] | None = None
    reject_writer: Any = None

    def write_reject(r: Reject) -> None:
        nonlocal reject_file, reject_writer
        if rejects_path is None:
            return
        if reject_file is None:
            reject_file = rejects_path.open("w", encoding="utf-8", newline="")
            reject_writer = csv.writer(reject_file)
            reject_writer.writerow(["line", "record_id", "column", "reason"])
            result.rejects_file = str(rejects_path)
        reject_writer.writerow([r.line, r.record_id or "", r.column, r.reason])

    importer = _Importer(session=session, conn=conn, actor=actor, settings=settings,
                         result=result, layout=layout, rejects=write_reject)
    try:
        with path.open(encoding=_reader_encoding(fmt.encoding), newline="") as f:
            reader = csv.reader(f, delimiter=fmt.delimiter, quotechar=fmt.quotechar,
                                strict=True)
            header = _header(reader, layout, path.name)
            result.ignored_columns = tuple(h for h in header if h not in layout.header)
            pending: tuple[int, list[str]] | None = None
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as e:
                    result.records += 1
                    importer.reject(reader.line_num, None, [Problem("record", f"not CSV: {e}")])
                    continue
                if not row:
                    continue  # a blank line
                if pending is not None:
                    await _one(importer, header, *pending)
                pending = (reader.line_num, row)
                if progress and result.records % 200 == 0:
                    progress(f.buffer.tell() if hasattr(f, "buffer") else 0, scanned.size)
            if pending is not None:
                line, row = pending
                if not scanned.ends_with_line_end:
                    result.records += 1
                    importer.reject(line, None, [Problem(
                        "record", "the file ends in the middle of this line (no line end "
                                  "after it): it looks truncated")])
                else:
                    await _one(importer, header, line, row)
    finally:
        if reject_file is not None:
            reject_file.close()
    if progress:
        progress(scanned.size, scanned.size)
    loaded = sum(result.counts[k] for k in ("new", "updated", "rescinded"))
    await repository.insert_load_run(
        conn, run_id=result.run_id, kind="ndi", file_name=str(path), file_sha256=scanned.sha256,
        status="finished", rows_in=result.records, rows_loaded=loaded,
        rows_already_loaded=result.counts["unchanged"], rows_rejected=result.rejected,
        counts=json.dumps(dict(result.counts)), rejects_file=result.rejects_file,
        started_by=actor.label)
    await audit.record(session, actor=actor, operation="ndi.import", entity_type="load_run",
                       entity_id=result.run_id,
                       after={"file_name": path.name, "file_sha256": scanned.sha256,
                              "layout_version": layout.version, "records": result.records,
                              "rejected": result.rejected, **dict(result.counts)})
    return result


async def _one(importer: _Importer, header: list[str], line: int, row: list[str]) -> None:
    importer.result.records += 1
    if len(row) != len(header):
        importer.reject(line, row[0] if row else None, [Problem(
            "record", f"has {len(row)} fields; the header has {len(header)}")])
        return
    await importer.record(line, dict(zip(header, row, strict=True)))


def _header(reader: Any, layout: Layout, name: str) -> list[str]:
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise NdiFileRefused(f"{name} has no header row.", field="file") from None
    except csv.Error as e:
        raise NdiFileRefused(f"{name}: the header row is not CSV ({e}).", field="file") from None
    missing = [c for c in layout.required_columns() if c not in header]
    if missing:
        raise NdiFileRefused(
            f"{name} lacks the column(s) {', '.join(missing)} of the NDI layout "
            f"{layout.version}; its header is: {', '.join(header) or '(empty)'}. Nothing was "
            "imported.", field="file", missing=missing)
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        raise NdiFileRefused(f"{name} names the column(s) {', '.join(duplicated)} twice.",
                             field="file")
    return header


async def import_path(engine: AsyncEngine, *, actor: Actor, settings: Settings, path: Path,
                      rejects_path: Path | None = None, progress: ProgressFn | None = None
                      ) -> ImportResult:
    """Import ``path`` in one transaction. A file refused as a whole still leaves a
    ``load_runs`` row (status failed) and an audit event with its hash."""
    try:
        async with session_scope(engine) as session:
            return await import_file(session=session, actor=actor, settings=settings,
                                     path=path, rejects_path=rejects_path, progress=progress)
    except NdiFileRefused as refused:
        require_role(actor, *IMPORTERS, to="import NDI files")
        sha = _sha256(path)
        run_id = uuid.uuid4()
        async with session_scope(engine) as session:
            conn = await driver(session)
            await repository.insert_load_run(
                conn, run_id=run_id, kind="ndi", file_name=str(path), file_sha256=sha,
                status="failed", rows_in=0, rows_loaded=0, rows_already_loaded=0,
                rows_rejected=0, counts=json.dumps({"error": refused.message}),
                rejects_file=None, started_by=actor.label)
            await audit.record(session, actor=actor, operation="ndi.import",
                               entity_type="load_run", entity_id=run_id,
                               after={"file_name": path.name, "file_sha256": sha,
                                      "status": "failed", "error": refused.message})
        raise


def _sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()
