"""SQL for the referral queue: each statutory ground compiled to one query, and the
set-based statement that turns its matches into open referrals.

Every ground query returns ``(person_id, kind, id)`` rows: the person (``officers.canonical_id``,
so merged records count as one officer) and each record that shows the ground is met. The
wrapper turns them into one evidence list per person, sorted by (kind, id) so that two
evaluations of the same facts give equal JSON. Findings and convictions are read from their
tables, which hold only the current version of each record.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import tuple_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

import registry.cases.models  # noqa: F401  (referrals.case_id references cases: map it)
from registry.database import any_of, run_sql
from registry.employment.models import Stint
from registry.findings.models import Conviction, Finding
from registry.referrals.grounds import Ground
from registry.referrals.models import Referral

NO_LONGER_MET = "no longer meets the ground after re-evaluation"


def _finding_filter(ground: Ground, alias: str, params: dict[str, Any]) -> str:
    params["dispositions"] = list(ground.dispositions)
    params["allegations"] = list(ground.allegations)
    return (f"{alias}.final_disposition = ANY(CAST(:dispositions AS text[])) "
            f"AND {alias}.category = ANY(CAST(:allegations AS text[]))")


def ground_sql(ground: Ground, *, one_person: bool) -> tuple[str, dict[str, Any]]:
    """The ground as one query of (person_id, kind, id); ``one_person`` adds ``:person``."""
    params: dict[str, Any] = {}
    person = "AND o.canonical_id = :person" if one_person else ""
    if ground.rule == "termination":
        sql = f"""
        SELECT o.canonical_id AS person_id, 'finding' AS kind, f.id
        FROM findings f JOIN officers o ON o.id = f.officer_id
        WHERE f.discipline = 'termination' AND {_finding_filter(ground, 'f', params)} {person}"""
    elif ground.rule == "serious_discipline":
        params["min_days"] = ground.min_suspension_days
        params["disciplines"] = list(ground.disciplines)
        sql = f"""
        SELECT o.canonical_id AS person_id, 'finding' AS kind, f.id
        FROM findings f JOIN officers o ON o.id = f.officer_id
        WHERE ((f.discipline = 'suspension' AND f.suspension_days >= :min_days)
               OR f.discipline = ANY(CAST(:disciplines AS text[])))
          AND {_finding_filter(ground, 'f', params)} {person}"""
    elif ground.rule == "separation":
        # The stint ended under investigation at agency X; agency X later sustained a finding
        # about conduct before the separation, completed after it.
        params["reasons"] = list(ground.separation_reasons)
        sql = f"""
        WITH pairs AS (
          SELECT o.canonical_id AS person_id, s.id AS stint_id, f.id AS finding_id
          FROM findings f
          JOIN officers o ON o.id = f.officer_id
          JOIN officers so ON so.canonical_id = o.canonical_id
          JOIN stints s ON s.officer_id = so.id AND s.agency_id = f.agency_id
          WHERE f.completed_after_separation AND {_finding_filter(ground, 'f', params)}
            AND s.separation_reason = ANY(CAST(:reasons AS text[]))
            AND f.incident_on <= s.ended_on {person})
        SELECT person_id, 'stint' AS kind, stint_id AS id FROM pairs
        UNION SELECT person_id, 'finding', finding_id FROM pairs"""
    elif ground.rule == "pattern":
        # Any window of ``years`` years on incident dates holding ``count`` findings: each such
        # window starts at one of its findings, so anchor a window at every finding.
        params["count"], params["years"] = ground.count, ground.years
        sql = f"""
        WITH f AS (
          SELECT o.canonical_id AS person_id, f.id, f.incident_on
          FROM findings f JOIN officers o ON o.id = f.officer_id
          WHERE {_finding_filter(ground, 'f', params)} {person}),
        windows AS (
          SELECT a.person_id, a.id AS anchor, b.id
          FROM f a JOIN f b ON b.person_id = a.person_id AND b.incident_on >= a.incident_on
            AND b.incident_on < a.incident_on + make_interval(years => :years)),
        met AS (
          SELECT person_id, anchor FROM windows GROUP BY person_id, anchor
          HAVING count(*) >= :count)
        SELECT w.person_id, 'finding' AS kind, w.id
        FROM windows w JOIN met USING (person_id, anchor)"""
    elif ground.rule == "conviction":
        params["felony"] = ground.felony
        params["dv"] = ground.domestic_violence
        params["offenses"] = ["%" + o.replace("\\", "\\\\").replace("%", "\\%")
                              .replace("_", "\\_") + "%" for o in ground.misdemeanor_offenses]
        sql = f"""
        SELECT o.canonical_id AS person_id, 'conviction' AS kind, c.id
        FROM convictions c JOIN officers o ON o.id = c.officer_id
        WHERE ((c.level = 'felony' AND :felony)
               OR (c.level = 'misdemeanor' AND ((c.domestic_violence AND :dv)
                   OR c.offense ILIKE ANY(CAST(:offenses AS text[]))))) {person}"""
    else:  # pragma: no cover - grounds.py validates the rule
        raise ValueError(ground.rule)
    return sql, params


def matches_sql(ground: Ground, *, one_person: bool) -> tuple[str, dict[str, Any]]:
    """(person_id, evidence) per person who meets the ground."""
    core, params = ground_sql(ground, one_person=one_person)
    return f"""
    SELECT person_id, jsonb_agg(jsonb_build_object('kind', kind, 'id', id)
                                ORDER BY kind, id) AS evidence
    FROM (SELECT DISTINCT person_id, kind, id::text AS id FROM ({core}) c) d
    GROUP BY person_id""", params


@dataclass
class Counts:
    opened: int = 0
    updated: int = 0
    closed: int = 0

    def add(self, other: "Counts") -> None:
        self.opened += other.opened
        self.updated += other.updated
        self.closed += other.closed


async def apply_ground(session: AsyncSession, ground: Ground, *, person: uuid.UUID | None,
                       actor: str) -> Counts:
    """One statement: open a referral for each new match, refresh the evidence of open ones,
    and dismiss open ones whose officer no longer meets the ground.

    A match is not raised again when a dismissed or case_opened referral of the same officer
    and ground already covers the same evidence or more (only new evidence raises it again).
    ``person`` limits all of it to one officer; None evaluates everyone.
    """
    matches, params = matches_sql(ground, one_person=person is not None)
    scope = "AND r.officer_id = :person" if person is not None else ""
    sql = f"""
    WITH m AS ({matches}),
    refreshed AS (
      UPDATE referrals r SET evidence = m.evidence, updated_at = now()
      FROM m WHERE r.officer_id = m.person_id AND r.ground = :ground AND r.status = 'open'
        AND r.evidence <> m.evidence
      RETURNING r.id),
    opened AS (
      INSERT INTO referrals (officer_id, ground, evidence)
      SELECT m.person_id, :ground, m.evidence FROM m
      WHERE NOT EXISTS (
        SELECT 1 FROM referrals r WHERE r.officer_id = m.person_id AND r.ground = :ground
          AND (r.status = 'open' OR r.evidence @> m.evidence))
      ON CONFLICT (officer_id, ground) WHERE status = 'open' DO NOTHING
      RETURNING id),
    closed AS (
      UPDATE referrals r SET status = 'dismissed', dismissed_reason = :reason,
        decided_by = :actor, decided_at = now(), updated_at = now()
      WHERE r.ground = :ground AND r.status = 'open' {scope}
        AND NOT EXISTS (SELECT 1 FROM m WHERE m.person_id = r.officer_id)
      RETURNING r.id)
    SELECT (SELECT count(*) FROM opened) AS opened, (SELECT count(*) FROM refreshed) AS updated,
           (SELECT count(*) FROM closed) AS closed"""
    params.update(ground=ground.code, reason=NO_LONGER_MET, actor=actor)
    if person is not None:
        params["person"] = person
    row = (await run_sql(session, sql, params)).one()
    return Counts(row.opened, row.updated, row.closed)


async def close_unknown_grounds(session: AsyncSession, codes: Sequence[str], actor: str) -> int:
    """Dismiss open referrals for grounds the configuration no longer has."""
    return (await run_sql(session, """
        WITH dismissed AS (
          UPDATE referrals SET status = 'dismissed', dismissed_reason = :reason,
            decided_by = :actor, decided_at = now(), updated_at = now()
          WHERE status = 'open' AND NOT (ground = ANY(CAST(:codes AS text[])))
          RETURNING 1
        )
        SELECT count(*) FROM dismissed""",
                           {"codes": list(codes), "reason": NO_LONGER_MET, "actor": actor})
            ).scalar_one()


async def get(session: AsyncSession, referral_id: uuid.UUID, *, for_update: bool = False
              ) -> Referral | None:
    return await session.get(Referral, referral_id, with_for_update=for_update)


async def get_many(session: AsyncSession, ids: Sequence[uuid.UUID], *,
                   for_update: bool = False) -> list[Referral]:
    stmt = select(Referral).where(any_of(col(Referral.id), ids)).order_by(Referral.id)
    if for_update:
        stmt = stmt.with_for_update()
    return list((await session.exec(stmt)).all())


async def page(session: AsyncSession, *, status: str | None, limit: int,
               after: tuple[datetime, uuid.UUID] | None) -> list[Referral]:
    """The queue, oldest first, keyset-paged on (detected_at, id)."""
    stmt = select(Referral)
    if status is not None:
        stmt = stmt.where(Referral.status == status)
    if after is not None:
        stmt = stmt.where(tuple_(Referral.detected_at, Referral.id) > tuple_(*after))
    stmt = stmt.order_by(col(Referral.detected_at), col(Referral.id)).limit(limit)
    return list((await session.exec(stmt)).all())


async def findings_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Finding]:
    return list((await session.exec(select(Finding).where(any_of(col(Finding.id), ids)))).all())


async def stints_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Stint]:
    return list((await session.exec(select(Stint).where(any_of(col(Stint.id), ids)))).all())


async def convictions_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]
                             ) -> list[Conviction]:
    return list((await session.exec(select(Conviction).where(any_of(col(Conviction.id), ids)))
                 ).all())
