"""SQL of background checks: the stored checks, the people they returned, flags of people."""

import json
import uuid
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from registry.background_checks.matching import Match
from registry.database import run_sql

CHECK_COLUMNS = """c.id, c.key_id, c.actor, c.role, c.agency_id, c.purpose, c.candidate,
  c.input_hash, c.matches, c.threshold, c.request_id, c.run_at"""


async def checks_in_last_hour(session: AsyncSession, key_id: uuid.UUID) -> tuple[int, float]:
    """How many checks ``key_id`` ran in the last hour, and the seconds until the oldest of
    them leaves the hour.
    Callers hold the key's advisory lock, so two requests cannot both take the last one."""
    await run_sql(session, "SELECT pg_advisory_xact_lock(hashtextextended(:k, 4))",
                  {"k": str(key_id)})
    row = (await run_sql(session, """
        SELECT count(*) AS n,
               coalesce(extract(epoch FROM min(run_at) + interval '1 hour' - now()), 0) AS wait
        FROM background_checks
        WHERE key_id = :k AND run_at > now() - interval '1 hour'""", {"k": key_id})).one()
    return row.n, float(row.wait)


async def insert_check(session: AsyncSession, *, key_id: uuid.UUID | None, actor: str,
                       role: str, agency_id: uuid.UUID | None, purpose: str,
                       candidate: dict[str, Any], input_hash: str, matches: list[Match],
                       threshold: float, request_id: str | None) -> tuple[uuid.UUID, datetime]:
    row = (await run_sql(session, """
        WITH c AS (
          INSERT INTO background_checks (key_id, actor, role, agency_id, purpose, candidate,
            input_hash, matches, threshold, request_id)
          VALUES (:key_id, :actor, :role, :agency_id, :purpose, CAST(:candidate AS jsonb),
            :input_hash, CAST(:matches AS jsonb), :threshold, :request_id)
          RETURNING id, agency_id, run_at
        ), hits AS (
          INSERT INTO background_check_hits (check_id, officer_id, agency_id, rank, score, run_at)
          SELECT c.id, m.officer_id, c.agency_id, m.rank, m.score, c.run_at
          FROM c, unnest(CAST(:officers AS uuid[]), CAST(:scores AS real[]))
            WITH ORDINALITY AS m(officer_id, score, rank)
        )
        SELECT id, run_at FROM c""", {
        "key_id": key_id, "actor": actor, "role": role, "agency_id": agency_id,
        "purpose": purpose, "candidate": json.dumps(candidate), "input_hash": input_hash,
        "matches": json.dumps([m.as_json() for m in matches]), "threshold": threshold,
        "request_id": request_id, "officers": [m.officer_id for m in matches],
        "scores": [m.score for m in matches],
    })).one()
    return row.id, row.run_at


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


FLAGS_SQL = """
SELECT p.person_id,
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
          AND f.final_disposition = 'sustained') AS sustained_finding
FROM (SELECT o.canonical_id AS person_id, array_agg(o.id) AS records FROM officers o
      WHERE o.canonical_id = ANY(CAST(:people AS uuid[])) GROUP BY o.canonical_id) p
"""


async def flags_of_people(session: AsyncSession, people: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    return {row.person_id: row for row in await run_sql(session, FLAGS_SQL, {"people": people})}
