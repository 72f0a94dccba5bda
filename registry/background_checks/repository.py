"""SQL of background checks: the stored checks, the people they returned, flags of people and
what a check's report shows about them."""

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from types import SimpleNamespace
from typing import Any

from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from registry.agencies.models import Agency
from registry.audit.service import EVENT_INSERT
from registry.background_checks.matching import Match
from registry.cases.models import Case, DecertificationAction, FinalOrder
from registry.certifications.models import Certification, StatusEvent
from registry.database import run_sql
from registry.employment.models import Stint
from registry.findings.models import Conviction, Finding
from registry.officers.models import Officer, OfficerName

CHECK_COLUMNS = """c.id, c.key_id, c.actor, c.role, c.agency_id, c.purpose, c.candidate,
  c.input_hash, c.matches, c.threshold, c.request_id, c.run_at"""


async def checks_in_last_hour(session: AsyncSession, key_id: uuid.UUID, *, lock: bool
                              ) -> tuple[int, float]:
    """How many checks ``key_id`` ran in the last hour, and the seconds until the oldest of
    them leaves the hour. With ``lock``, first the key's advisory lock until the transaction
    ends: a count taken under it stays true until this check is written."""
    if lock:
        await run_sql(session, "SELECT pg_advisory_xact_lock(hashtextextended(:k, 4))",
                      {"k": str(key_id)})
    row = (await run_sql(session, """
        SELECT count(*) AS n,
               coalesce(extract(epoch FROM min(run_at) + interval '1 hour' - now()), 0) AS wait
        FROM background_checks
        WHERE key_id = :k AND run_at > now() - interval '1 hour'""", {"k": key_id})).one()
    return row.n, float(row.wait)


async def insert_check(session: AsyncSession, *, check_id: uuid.UUID, purpose: str,
                       candidate: dict[str, Any], input_hash: str, matches: list[Match],
                       threshold: float, audit_event: dict[str, Any]) -> datetime:
    """Store the check, one hit per person returned and its audit event (``audit.event``,
    whose actor is the check's: who ran it, with which key, for which agency, in which
    request), in one statement; the time it was run."""
    return (await run_sql(session, f"""
        WITH c AS (
          INSERT INTO background_checks (id, key_id, actor, role, agency_id, purpose,
            candidate, input_hash, matches, threshold, request_id)
          VALUES (:id, :audit_key_id, :audit_actor, :audit_role, :audit_agency_id, :purpose,
            CAST(:candidate AS jsonb), :input_hash, CAST(:matches AS jsonb), :threshold,
            :audit_request_id)
          RETURNING id, agency_id, run_at
        ), hits AS (
          INSERT INTO background_check_hits (check_id, officer_id, agency_id, rank, score, run_at)
          SELECT c.id, m.officer_id, c.agency_id, m.rank, m.score, c.run_at
          FROM c, unnest(CAST(:officers AS uuid[]), CAST(:scores AS real[]))
            WITH ORDINALITY AS m(officer_id, score, rank)
        ), audit AS ({EVENT_INSERT}
        )
        SELECT run_at FROM c""", {
        "id": check_id, "purpose": purpose, "candidate": json.dumps(candidate),
        "input_hash": input_hash, "matches": json.dumps([m.as_json() for m in matches]),
        "threshold": threshold, "officers": [m.officer_id for m in matches],
        "scores": [m.score for m in matches], **audit_event,
    })).scalar_one()


async def get_check(session: AsyncSession, check_id: uuid.UUID) -> Any:
    return (await run_sql(session, f"SELECT {CHECK_COLUMNS} FROM background_checks c "
                                   "WHERE c.id = :id", {"id": check_id})).one_or_none()


async def page_checks(session: AsyncSession, *, agency_id: uuid.UUID | None,
                      person_records: list[uuid.UUID] | None, limit: int,
                      after: tuple[datetime, uuid.UUID] | None) -> list[Any]:
    """Checks newest first, by agency and/or by the officer they returned (any of a person's
    records), paged by (run_at, id)."""
    where, params = [], {"limit": limit}
    if agency_id is not None:
        where.append("c.agency_id = :agency_id")
        params["agency_id"] = agency_id
    if person_records is not None:
        where.append("c.id IN (SELECT h.check_id FROM background_check_hits h "
                     "WHERE h.officer_id = ANY(CAST(:records AS uuid[])))")
        params["records"] = person_records
    if after is not None:
        where.append("(c.run_at, c.id) < (:after_at, :after_id)")
        params["after_at"], params["after_id"] = after
    sql = (f"SELECT {CHECK_COLUMNS} FROM background_checks c "
           f"{'WHERE ' + ' AND '.join(where) if where else ''} "
           "ORDER BY c.run_at DESC, c.id DESC LIMIT :limit")
    return list(await run_sql(session, sql, params))


# The flags of a person ``p`` with record ids ``p.records`` (what an investigator must not
# miss): shared by FLAGS_SQL and REPORT_SQL.
FLAG_COLUMNS = """
  EXISTS (SELECT 1 FROM certifications c WHERE c.officer_id = ANY(p.records)
          AND c.status IN ('revoked', 'surrendered'))
  OR EXISTS (SELECT 1 FROM external_actions x WHERE x.officer_id = ANY(p.records)
             AND NOT x.rescinded AND x.action_type IN ('revocation', 'surrender'))
    AS decertified,
  EXISTS (SELECT 1 FROM stints s WHERE s.officer_id = ANY(p.records)
          AND s.separation_reason IN ('terminated', 'resigned_in_lieu_of_termination'))
    AS terminated,
  EXISTS (SELECT 1 FROM stints s WHERE s.officer_id = ANY(p.records)
          AND s.separation_reason IN ('resigned_under_investigation',
                                      'retired_under_investigation')) AS under_investigation,
  EXISTS (SELECT 1 FROM cases k WHERE k.officer_id = ANY(p.records)
          AND k.status NOT IN ('final_order', 'closed')) AS open_case,
  EXISTS (SELECT 1 FROM findings f WHERE f.officer_id = ANY(p.records)
          AND f.final_disposition = 'sustained') AS sustained_finding"""

FLAGS_SQL = f"""
SELECT p.person_id, {FLAG_COLUMNS}
FROM (SELECT o.canonical_id AS person_id, array_agg(o.id) AS records FROM officers o
      WHERE o.canonical_id = ANY(CAST(:people AS uuid[])) GROUP BY o.canonical_id) p
"""


async def flags_of_people(session: AsyncSession, people: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    return {row.person_id: row for row in await run_sql(session, FLAGS_SQL, {"people": people})}


def _rows(order: str, table: str, alias: str, where: str) -> str:
    """A JSON array of a table's rows (every column), in the order its loader returns them."""
    return (f"coalesce((SELECT jsonb_agg(to_jsonb({alias}) ORDER BY {order}) "
            f"FROM {table} {alias} WHERE {where}), '[]')")


# Everything a check's report shows about the people behind some record ids (a merged
# record resolves to its survivor), one row per person, each relation in the order of its
# per-request loader. One statement instead of a dozen: each one cost a round trip and an ORM
# query, more than the rows it read (bench/bench_background_check.py).
REPORT_SQL = f"""
WITH p AS (
  SELECT o.canonical_id AS person_id, array_agg(o.id ORDER BY o.id) AS records
  FROM officers o
  WHERE o.canonical_id IN (SELECT a.canonical_id FROM officers a
                           WHERE a.id = ANY(CAST(:ids AS uuid[])))
  GROUP BY o.canonical_id
)
SELECT p.person_id, p.records,
  (SELECT to_jsonb(o) FROM officers o WHERE o.id = p.person_id) AS person,
  {_rows("n.recorded_at", "officer_names", "n", "n.officer_id = ANY(p.records)")} AS names,
  {_rows("c.issued_on, c.id", "certifications", "c", "c.officer_id = ANY(p.records)")}
    AS certifications,
  {_rows("e.effective_on, e.recorded_at, e.id", "certification_status_events", "e",
         "e.certification_id IN (SELECT c.id FROM certifications c "
         "WHERE c.officer_id = ANY(p.records))")} AS status_events,
  {_rows("s.started_on, s.id", "stints", "s", "s.officer_id = ANY(p.records)")} AS stints,
  {_rows("f.incident_on, f.id", "findings", "f", "f.officer_id = ANY(p.records)")}
    AS findings,
  {_rows("v.convicted_on, v.id", "convictions", "v", "v.officer_id = ANY(p.records)")}
    AS convictions,
  {_rows("c.opened_at, c.id", "cases", "c", "c.officer_id = ANY(p.records)")} AS cases,
  {_rows("f.id", "final_orders", "f",
         "f.case_id IN (SELECT c.id FROM cases c WHERE c.officer_id = ANY(p.records))")}
    AS final_orders,
  {_rows("a.recorded_at, a.id", "decertification_actions", "a",
         "a.officer_id = ANY(p.records)")} AS actions,
  {_rows("g.id", "agencies", "g",
         "g.id IN (SELECT s.agency_id FROM stints s WHERE s.officer_id = ANY(p.records) "
         "UNION SELECT f.agency_id FROM findings f WHERE f.officer_id = ANY(p.records))")}
    AS agencies,
  {FLAG_COLUMNS}
FROM p
"""


@dataclass
class PersonReport:
    """One person of REPORT_SQL, each row an object with the attributes of its model."""

    person_id: uuid.UUID
    records: list[uuid.UUID]
    person: Any
    names: list[Any]
    certifications: list[Any]
    status_events: list[Any]
    stints: list[Any]
    findings: list[Any]
    convictions: list[Any]
    cases: list[Any]
    final_orders: list[Any]
    actions: list[Any]
    agencies: list[Any]
    flags: Any


_MODELS: dict[str, type[SQLModel]] = {
    "names": OfficerName, "certifications": Certification, "status_events": StatusEvent,
    "stints": Stint, "findings": Finding, "convictions": Conviction, "cases": Case,
    "final_orders": FinalOrder, "actions": DecertificationAction, "agencies": Agency}
# JSON's text back to what asyncpg returns for the column (timestamps in UTC).
_PARSE: dict[type, Callable[[Any], Any]] = {
    uuid.UUID: uuid.UUID, date: date.fromisoformat,
    datetime: lambda text: datetime.fromisoformat(text).astimezone(UTC)}


@cache
def _columns(model: type[SQLModel]) -> tuple[tuple[str, Callable[[Any], Any] | None], ...]:
    """Each column of ``model`` with what turns its JSON value back into the Python type."""
    out = []
    for column in model.__table__.columns:  # type: ignore[attr-defined]
        kind = column.type
        try:
            python_type = getattr(kind, "impl_instance", kind).python_type
        except NotImplementedError:
            python_type = None
        out.append((column.key, _PARSE.get(python_type)))  # type: ignore[arg-type]
    return tuple(out)


def _from_json(model: type[SQLModel], item: dict[str, Any]) -> SimpleNamespace:
    """A plain object with ``model``'s attributes and types, for reading: building the ORM
    instance (identity map, instance state) costs more than reading the row."""
    return SimpleNamespace(**{
        key: (parse(item[key]) if parse is not None and item.get(key) is not None
              else item.get(key))
        for key, parse in _columns(model)})


async def reports_of_people(session: AsyncSession, record_ids: list[uuid.UUID]
                            ) -> list[PersonReport]:
    """What a check's report shows about the people behind ``record_ids``."""
    reports = []
    for row in await run_sql(session, REPORT_SQL, {"ids": record_ids}):
        reports.append(PersonReport(
            person_id=row.person_id, records=row.records,
            person=_from_json(Officer, row.person), flags=row,  # FLAG_COLUMNS by name
            **{name: [_from_json(model, item) for item in getattr(row, name)]
               for name, model in _MODELS.items()}))
    return reports
