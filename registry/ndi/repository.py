"""SQL of the NDI: which records an export sends (and as what), their rows, the submission
ledger, and the external actions read from other states' files.

Export records. Each final order that acted (revocation, suspension, surrender, denial; not
"no action") is one NDI record per certificate it moved: its decertification action is the
record's root, and the record id is ``<state>-<root action id>``. The later actions of the same
case and certificate belong to that record: an appeal upheld or overturned (same case and
certificate) and a reinstatement (same certificate, the latest final order before it). A
record's type:
  - rescind: an appeal overturned it or the certificate was reinstated (and it was sent
    before; a record taken back before it was ever sent is never sent at all);
  - new: never sent;
  - update: sent before, and since then an action of it was recorded (an appeal upheld) or
    the person's record (name, date of birth, other names, a merge) or the certificate changed.
``since_last`` sends the records with an action no submission has carried, or changed since
their last submission; ``all`` sends every record that still means something to the NDI. A
suspension that ended by itself is not a change: the record carries its end date.

Case records ("under investigation", ``CaseRecords``; the service says which, or none). With
REGISTRY_NDI_UNDER_INVESTIGATION each pending case (open, under review, hearing scheduled,
voted: before its final order) is one record rooted on the case, id ``<state>-<case id>``
(case ids and action ids are uuids: they never collide), dated the day the case was opened,
with the person's certificate of this state (``CASE_CERTIFICATE``): cases name none, and a
final order moves them all. Its type follows the same rules: new, update (the person's record
or the certificate changed), and rescind once the case has ended, dated the day it left
investigation: ``final_order`` when a final order that acted ended it (that order's record goes
as new in the same export), else ``closed_without_action``. Turned off, the records still
live at the NDI are rescinded (``no_longer_reported``, dated the export's day) and nothing
else is read; turned on again, a pending case's record taken back that way is sent again as
an update. The case records are picked by a statement of their own (``case_batch_sql``): an
export without them runs ``BATCH_SQL`` alone, which does not read ``cases`` at all.
"""

import functools
import uuid
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

import asyncpg

LOCK_KEY = 7_263_401  # pg_advisory_xact_lock: one export at a time


class CaseRecords(StrEnum):
    """Which "under investigation" records an export includes."""

    REPORTED = "reported"  # the opt-in is on: every pending case, and those that ended
    WITHDRAWN = "withdrawn"  # it is off, but some were sent: those, to take them back


# A case is under investigation until its final order (or its closing without one).
PENDING_CASE = "('open', 'under_review', 'hearing_scheduled', 'voted')"
# The action type of a case's record, and so what tells a case record in the batch (a column
# saying so would cost every final order's record a little: ~5% of picking 100,000).
CASE_OUTCOME = "under_investigation"


def _sent(root: str) -> str:
    """Every submission that carried a record carried its root (``root``: the ledger's
    action_id or case_id): when it was last sent, and when last as a rescind."""
    return f"""SELECT s.{root} AS root_id, max(sub.recorded_at) AS last_sent_at,
         max(sub.recorded_at) FILTER (WHERE s.record_type = 'rescind') AS rescind_sent_at
  FROM ndi_submission_records s JOIN ndi_submissions sub ON sub.id = s.submission_id
  WHERE s.{root} IS NOT NULL
  GROUP BY s.{root}"""


# ``roots`` is written inline where it is read (NOT MATERIALIZED): a CTE read three times is
# otherwise computed once into a store that only the leader process can read, which keeps the
# whole statement on one core; inline, parallel workers share the bulk of the work, finding
# each action's officer record and certificate (see create_batch).
ACTION_CTES = f"""roots AS NOT MATERIALIZED (
  SELECT a.id, a.officer_id, a.case_id, a.certification_id, a.outcome, a.effective_on,
         a.until_on, a.grounds, a.recorded_at
  FROM decertification_actions a
  WHERE a.kind = 'final_order'
    AND a.outcome IN ('revocation', 'suspension', 'surrender', 'denial')
),
-- Appeal outcomes and reinstatements, each with the record (root) it belongs to.
later AS (
  SELECT r.id AS root_id, a.id, a.kind, a.effective_on, a.recorded_at
  FROM decertification_actions a
  JOIN roots r ON r.case_id = a.case_id
              AND r.certification_id IS NOT DISTINCT FROM a.certification_id
  WHERE a.kind IN ('appeal_upheld', 'appeal_overturned')
  UNION ALL
  (SELECT DISTINCT ON (a.id) r.id, a.id, a.kind, a.effective_on, a.recorded_at
   FROM decertification_actions a
   JOIN roots r ON r.certification_id = a.certification_id
               AND (a.case_id IS NULL OR r.case_id = a.case_id)
               AND r.effective_on <= a.effective_on
   WHERE a.kind = 'reinstatement'
   ORDER BY a.id, r.effective_on DESC, r.recorded_at DESC)
),
later_by_root AS (
  SELECT l.root_id, array_agg(l.id ORDER BY l.recorded_at, l.id) AS later_ids,
         bool_or(NOT EXISTS (SELECT 1 FROM ndi_submission_records s WHERE s.action_id = l.id))
           AS later_unsent,
         min(l.effective_on) FILTER (WHERE l.kind IN ('appeal_overturned', 'reinstatement'))
           AS rescinded_on,
         (array_agg(l.kind ORDER BY l.effective_on, l.recorded_at)
            FILTER (WHERE l.kind IN ('appeal_overturned', 'reinstatement')))[1] AS rescind_kind
  FROM later l GROUP BY l.root_id
),
sent AS (
  {_sent("action_id")}
)"""

# One row per record (``typed`` of BATCH_SELECT): the root, the person's officer record, the
# certificate, what the record says, and what the ledger knows of it (``rescind_sent``: the
# NDI has had its rescind; ``unsent``: something of it no submission carried yet).
ACTION_TYPED = """SELECT r.id AS root_id, r.officer_id, r.certification_id,
         r.outcome, r.effective_on, r.until_on, r.grounds, l.later_ids,
         l.rescinded_on, l.rescind_kind, g.last_sent_at,
         g.rescind_sent_at IS NOT NULL AS rescind_sent,
         g.root_id IS NULL OR coalesce(l.later_unsent, false) AS unsent
  FROM roots r
  LEFT JOIN later_by_root l ON l.root_id = r.id
  LEFT JOIN sent g ON g.root_id = r.id
  -- Taken back before it was ever sent: the NDI never has to hear of it.
  WHERE NOT (l.rescinded_on IS NOT NULL AND g.last_sent_at IS NULL)"""

# The certificate of an "under investigation" record: the person's (any record merged into
# them) of this state ($2), the one issued last, preferring one not taken away. Looked up by
# index from each case's person, in one join.
CASE_CERTIFICATE = """SELECT DISTINCT ON (r.id) r.id AS case_id, c.id AS certification_id
  FROM case_roots r
  JOIN officers o ON o.id = r.officer_id
  JOIN officers x ON x.canonical_id = o.canonical_id
  JOIN certifications c ON c.officer_id = x.id AND c.state = $2
  ORDER BY r.id, c.status IN ('revoked', 'surrendered', 'denied'), c.issued_on DESC, c.id DESC"""

CASE_CTES = f"""case_sent AS (
  {_sent("case_id")}
),
case_roots AS (
  SELECT c.id, c.officer_id, c.grounds, CAST(c.opened_at AS date) AS opened_on,
         c.status NOT IN {PENDING_CASE} AS ended, g.last_sent_at,
         -- The last submission that carried the record took it back.
         CASE WHEN g.rescind_sent_at = g.last_sent_at THEN g.rescind_sent_at END
           AS taken_back_at
  {{roots}}
),
-- When a sent record's case left investigation (its first move to final_order or closed),
-- and whether a final order that acted ended it.
case_ends AS (
  SELECT g.root_id AS case_id, CAST(min(e.recorded_at) AS date) AS ended_on,
         bool_or(f.outcome <> 'no_action') AS ordered
  FROM case_sent g
  JOIN case_status_events e ON e.case_id = g.root_id
                           AND e.to_status IN ('final_order', 'closed')
  LEFT JOIN final_orders f ON f.case_id = g.root_id
  GROUP BY g.root_id
),
case_certificate AS (
  {CASE_CERTIFICATE}
)"""

# ACTION_TYPED's columns, for the case records.
CASE_TYPED = f"""SELECT r.id AS root_id, r.officer_id, k.certification_id,
         CAST('{CASE_OUTCOME}' AS text) AS outcome, r.opened_on AS effective_on,
         CAST(NULL AS date) AS until_on, r.grounds, CAST(NULL AS uuid[]) AS later_ids,
         e.rescinded_on, e.rescind_kind, r.last_sent_at,
         r.taken_back_at IS NOT NULL AND e.rescinded_on IS NOT NULL AS rescind_sent,
         r.last_sent_at IS NULL OR r.taken_back_at IS NOT NULL OR e.rescinded_on IS NOT NULL
           AS unsent
  FROM case_roots r
  LEFT JOIN case_certificate k ON k.case_id = r.id
  LEFT JOIN case_ends d ON d.case_id = r.id
  CROSS JOIN LATERAL (SELECT
    CASE WHEN r.ended THEN d.ended_on {{withdrawn_on}}END AS rescinded_on,
    CASE WHEN r.ended THEN CASE WHEN d.ordered THEN 'final_order'
                                ELSE 'closed_without_action' END
         {{withdrawn_kind}}END AS rescind_kind) AS e
  -- Ended before its record was ever sent: the NDI never has to hear of it.
  WHERE NOT (e.rescinded_on IS NOT NULL AND r.last_sent_at IS NULL)"""

# Which cases have a record, and how a pending one's is taken back, by CaseRecords. Reported:
# the pending cases, and every case whose record was sent (it may have ended). Withdrawn: only
# those sent, found from the ledger; a pending one is taken back on the export's day (or, when
# the NDI has that rescind already, on the day it was sent).
CASE_RECORDS = {
    CaseRecords.REPORTED: {
        "roots": f"""FROM cases c LEFT JOIN case_sent g ON g.root_id = c.id
  WHERE c.status IN {PENDING_CASE} OR g.root_id IS NOT NULL""",
        "withdrawn_on": "", "withdrawn_kind": ""},
    CaseRecords.WITHDRAWN: {
        "roots": "FROM case_sent g JOIN cases c ON c.id = g.root_id",
        "withdrawn_on": "ELSE coalesce(CAST(r.taken_back_at AS date), current_date) ",
        "withdrawn_kind": "ELSE 'no_longer_reported' "},
}

# The batch's rows from ``typed`` (either kind of record): the record type, and the filter of
# ``since_last`` ($1: all) with the changes of the person's record and of the certificate.
BATCH_SELECT = """
WITH {ctes},
typed AS (
  {typed}
)
SELECT t.root_id, o.canonical_id AS person_id, t.certification_id,
       -- The person as the record names them: the root's officer record, unless it was
       -- merged (create_batch then takes the survivor's), so that the export's rows need not
       -- read officers again; the same for the root and its certificate.
       o.canonical_id <> o.id AS merged, o.first_name, o.middle_name, o.last_name, o.suffix,
       o.birth_year, o.birth_month, o.birth_day, o.post_id, c.number AS certificate_number,
       t.outcome, t.effective_on, t.until_on, t.grounds,
       CASE WHEN t.rescinded_on IS NOT NULL THEN 'rescind'
            WHEN t.last_sent_at IS NULL THEN 'new'
            ELSE 'update' END AS record_type,
       t.later_ids, t.rescinded_on, t.rescind_kind
FROM typed t
JOIN officers o ON o.id = t.officer_id
LEFT JOIN certifications c ON c.id = t.certification_id
WHERE $1  -- all
   OR (NOT t.rescind_sent AND (t.unsent OR (
         t.rescinded_on IS NULL AND t.last_sent_at IS NOT NULL AND (
           EXISTS (SELECT 1 FROM officers x
                   WHERE x.canonical_id = o.canonical_id AND x.recorded_at > t.last_sent_at)
           OR EXISTS (SELECT 1 FROM officer_names n JOIN officers x ON x.id = n.officer_id
                      WHERE x.canonical_id = o.canonical_id
                        AND n.recorded_at > t.last_sent_at)
           OR EXISTS (SELECT 1 FROM certifications c
                      WHERE c.id = t.certification_id AND c.recorded_at > t.last_sent_at)))))
"""


# The final orders' records ($1: all) into a new ``ndi_export_batch``.
BATCH_SQL = ("CREATE TEMP TABLE ndi_export_batch ON COMMIT DROP AS"
             + BATCH_SELECT.format(ctes=ACTION_CTES, typed=ACTION_TYPED))


@functools.cache
def case_batch_sql(records: CaseRecords) -> str:
    """The case records ($1: all, $2: the state) added to ``ndi_export_batch``: a statement
    of its own, run only when the export includes them, so that an export without them does
    not read ``cases`` at all (a flag in the SQL would leave the tables in the plan). Apart,
    too, because in one statement with the final orders' the case CTEs (read more than once,
    so computed once, by the leader process alone) took the parallel plan away from the
    final orders' part: 100,000 records then hashed all officers and certificates (~1 s)."""
    fill = CASE_RECORDS[records]
    return "INSERT INTO ndi_export_batch" + BATCH_SELECT.format(
        ctes=CASE_CTES.format(**fill), typed=CASE_TYPED.format(**fill))


# The records whose action names an officer record merged into another: the survivor's name,
# date of birth and POST id, looked up by primary key for each of these few rows (a join
# would need to know how many rows are merged, which the batch's statistics do not say).
SURVIVORS_SQL = """
UPDATE ndi_export_batch b
SET (first_name, middle_name, last_name, suffix, birth_year, birth_month, birth_day,
     post_id) = (SELECT p.first_name, p.middle_name, p.last_name, p.suffix, p.birth_year,
                        p.birth_month, p.birth_day, p.post_id
                 FROM officers p WHERE p.id = b.person_id)
WHERE b.merged"""

# One row per record of the batch: ExportRow's columns (registry/ndi/layout.py), ``r`` of the
# layout's SQL; $1 is the state. Hash joins over the batch, and the other names of its people
# in one aggregate (not a subquery per row), so that a large export reads each table once.
# No ORDER BY: an NDI file's records have no order.
EXPORT_ROWS = """
SELECT CAST($1 AS text) || '-' || b.root_id AS record_id, b.record_type,
       b.first_name, b.middle_name, b.last_name, b.suffix,
       coalesce(al.names, '{}') AS other_names,
       b.birth_year, b.birth_month, b.birth_day, b.post_id, b.certificate_number, b.outcome,
       b.effective_on, b.until_on, b.grounds, b.rescinded_on, b.rescind_kind
FROM ndi_export_batch b
LEFT JOIN (
  SELECT x.person_id,
         array_agg(ARRAY[x.last_name, x.first_name, x.middle_name]
                   ORDER BY x.src, x.recorded_at, x.last_name, x.first_name) AS names
  FROM (
    -- The person's own other names, and the names of records merged into them (few) with
    -- those records' other names.
    SELECT n.officer_id AS person_id, n.last_name, n.first_name, n.middle_name,
           n.recorded_at, 1 AS src
    FROM officer_names n WHERE n.officer_id IN (SELECT person_id FROM ndi_export_batch)
    UNION ALL
    SELECT m.canonical_id, m.last_name, m.first_name, m.middle_name, m.recorded_at, 2
    FROM officers m
    WHERE m.merged_into_id IS NOT NULL AND m.canonical_id <> m.id
      AND m.canonical_id IN (SELECT person_id FROM ndi_export_batch)
    UNION ALL
    SELECT m.canonical_id, n.last_name, n.first_name, n.middle_name, n.recorded_at, 3
    FROM officers m JOIN officer_names n ON n.officer_id = m.id
    WHERE m.merged_into_id IS NOT NULL AND m.canonical_id <> m.id
      AND m.canonical_id IN (SELECT person_id FROM ndi_export_batch)
  ) x
  GROUP BY x.person_id
) al ON al.person_id = b.person_id
"""


async def lock_exports(conn: asyncpg.Connection) -> None:
    """Exports run one at a time: two at once would both send the same new actions."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_KEY)


async def case_records_sent(conn: asyncpg.Connection) -> bool:
    """Whether any "under investigation" record was ever sent (the ledger's case_id index:
    empty, and read in no time, in a registry that never sent one)."""
    return await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM ndi_submission_records WHERE case_id IS NOT NULL)")


async def create_batch(conn: asyncpg.Connection, *, everything: bool,
                       case_records: CaseRecords | None, state: str) -> int:
    """Pick the records of this export into ``ndi_export_batch``, with the case records
    asked for (or none); how many there are."""
    await conn.execute("DROP TABLE IF EXISTS pg_temp.ndi_export_batch")
    # Each root names one officer record and at most one certificate, best looked up by
    # primary key (in parallel workers for a large batch). Priced at the default cost of a
    # random page read (4: a disk's), the lookups look dearer than reading both tables whole,
    # which PostgreSQL then does even for 10,000 records (0.28 s against 0.07 s); the pages
    # are in memory on a server that fits the registry, where 1.1 (the usual figure for
    # cached data and SSDs) is nearer the truth. For these statements only, never raised.
    prior = await conn.fetchval("SELECT current_setting('random_page_cost')")
    await conn.execute("SELECT set_config('random_page_cost', "
                       "CAST(least(CAST(CAST($1 AS text) AS float8), 1.1) AS text), true)",
                       prior)
    status = await conn.execute(BATCH_SQL, everything)  # "SELECT <rows>"
    total = int(status.split()[-1])
    if case_records is not None:
        status = await conn.execute(case_batch_sql(case_records), everything, state)
        total += int(status.split()[-1])  # "INSERT 0 <rows>"
    await conn.execute("SELECT set_config('random_page_cost', $1, true)", prior)
    # EXPORT_ROWS looks up the other names of the batch's people: by index for a few, by a
    # hash of them for many, which PostgreSQL can tell only from statistics (without, it
    # guesses 200 people, and looks up 77,000 one by one at 100,000 records: 0.25 s). The
    # number of people is all it needs: a sample of 300 rows (statistics target 1) reads a
    # tenth of the pages a default ANALYZE reads (4 ms against 50 at 100,000 records).
    await conn.execute("ALTER TABLE ndi_export_batch ALTER COLUMN person_id SET STATISTICS 1;"
                       "ANALYZE ndi_export_batch (person_id)")
    await conn.execute(SURVIVORS_SQL)
    return total


async def render_records(conn: asyncpg.Connection, records_sql: str, state: str) -> None:
    """The batch's records checked and written out by the layout's SQL (``records_sql``
    over EXPORT_ROWS, whose $1 is the state) into ``ndi_export_lines``: the records' query
    runs once, for the check and for the COPY."""
    await conn.execute("DROP TABLE IF EXISTS pg_temp.ndi_export_lines")
    await conn.execute(f"CREATE TEMP TABLE ndi_export_lines ON COMMIT DROP AS {records_sql}",
                       state)


async def tally(conn: asyncpg.Connection) -> tuple[dict[str, int], int]:
    """The rendered records' count by type and how many do not fit the layout, in one pass."""
    rows = await conn.fetch("SELECT record_type, count(*) AS n, count(problems) AS failed "
                            "FROM ndi_export_lines GROUP BY record_type")
    return {r["record_type"]: r["n"] for r in rows}, sum(r["failed"] for r in rows)


async def failing_records(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """The first ``limit`` records that do not fit the layout."""
    return await conn.fetch("SELECT record_id, problems FROM ndi_export_lines "
                            "WHERE problems IS NOT NULL LIMIT $1", limit)


async def copy_records(conn: asyncpg.Connection,
                       copy_query: Callable[[str], tuple[str, dict[str, Any]]],
                       output: Callable[[bytes], Awaitable[None]]) -> None:
    """The file, from ``ndi_export_lines`` through the layout's ``copy_query``, handed to
    ``output`` chunk by chunk as the server sends it."""
    query, options = copy_query("ndi_export_lines")
    await conn.copy_from_query(query, output=output, **options)


# The ledger rows of a submission ($1) from the batch ($2: the state). One INSERT. Its cost is
# the table's: two index entries per row, the references' check, the WAL. The rows go in in
# the order of the actions (and so of the root actions' record ids): each index then takes
# them page by page, not at random. The root actions are read plainly, not unnested with the
# later ones (few records have any): a set-returning call per record costs more. A case
# record's root is its case.
LEDGER_SQL = f"""
INSERT INTO ndi_submission_records (submission_id, action_id, case_id, record_id, record_type)
SELECT $1, x.action_id, x.case_id, CAST($2 AS text) || '-' || x.root_id, x.record_type
FROM (SELECT CASE WHEN b.outcome <> '{CASE_OUTCOME}' THEN b.root_id END AS action_id,
             CASE WHEN b.outcome = '{CASE_OUTCOME}' THEN b.root_id END AS case_id,
             b.root_id, b.record_type
      FROM ndi_export_batch b
      UNION ALL
      SELECT l.action_id, NULL, b.root_id, b.record_type
      FROM ndi_export_batch b, unnest(b.later_ids) AS l(action_id)
      WHERE b.later_ids IS NOT NULL) x
ORDER BY x.action_id"""


async def record_submission(conn: asyncpg.Connection, *, submission_id: uuid.UUID,
                            state: str, layout_version: str, scope: str, file_name: str | None,
                            file_sha256: str, records: int, recorded_by: str) -> Any:
    """The ledger: the submission, and every action (or case) of every record it carried."""
    row = await conn.fetchrow(
        """INSERT INTO ndi_submissions (id, layout_version, scope, file_name, file_sha256,
             records, recorded_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *""",
        submission_id, layout_version, scope, file_name, file_sha256, records, recorded_by)
    await conn.execute(LEDGER_SQL, submission_id, state)
    return row


SUBMISSION_COLUMNS = """s.id, s.layout_version, s.scope, s.file_name, s.file_sha256, s.records,
  s.recorded_at, s.recorded_by,
  (SELECT count(DISTINCT r.record_id) FROM ndi_submission_records r
   WHERE r.submission_id = s.id AND r.record_type = 'new') AS new_records,
  (SELECT count(DISTINCT r.record_id) FROM ndi_submission_records r
   WHERE r.submission_id = s.id AND r.record_type = 'update') AS updates,
  (SELECT count(DISTINCT r.record_id) FROM ndi_submission_records r
   WHERE r.submission_id = s.id AND r.record_type = 'rescind') AS rescinds"""


def submissions_sql(after: bool) -> str:
    return (f"SELECT {SUBMISSION_COLUMNS} FROM ndi_submissions s "
            + ("WHERE (s.recorded_at, s.id) < (:after_at, :after_id) " if after else "")
            + "ORDER BY s.recorded_at DESC, s.id DESC LIMIT :limit")



# --- external actions (other states' records) -----------------------------------------------------

EXTERNAL_COLUMNS = """id, contributing_state, record_id, record_type, officer_id, attached_by,
  match_score, certifying_authority, verification_contact, first_name, middle_name, last_name,
  suffix, aliases, birth_year, birth_month, birth_day, certificate_number, action_type,
  action_date, suspension_start, suspension_end, reason_category, rescinded, load_run_id, raw,
  version, recorded_at, recorded_by, change_reason"""

EXTERNAL_OF_RECORDS = f"""SELECT {EXTERNAL_COLUMNS} FROM external_actions
WHERE officer_id = ANY(:records) ORDER BY action_date, contributing_state, record_id"""

EXTERNAL_OF_RECORDS_AS_OF = f"""SELECT * FROM (
  SELECT {EXTERNAL_COLUMNS} FROM external_actions
  WHERE officer_id = ANY(:records) AND recorded_at <= :at
  UNION ALL
  SELECT {EXTERNAL_COLUMNS} FROM external_actions_history
  WHERE officer_id = ANY(:records) AND recorded_at <= :at AND superseded_at > :at
) x ORDER BY action_date, contributing_state, record_id"""

EXTERNAL_BY_KEY = f"""SELECT {EXTERNAL_COLUMNS} FROM external_actions
WHERE contributing_state = $1 AND record_id = $2 FOR UPDATE"""

_WRITABLE = ("record_type", "certifying_authority", "verification_contact", "first_name",
             "middle_name", "last_name", "suffix", "aliases", "birth_year", "birth_month",
             "birth_day", "certificate_number", "action_type", "action_date",
             "suspension_start", "suspension_end", "reason_category", "rescinded",
             "load_run_id", "raw", "recorded_by", "change_reason")


async def insert_external(conn: asyncpg.Connection, values: dict[str, Any]) -> uuid.UUID:
    columns = ("contributing_state", "record_id", "officer_id", "attached_by", "match_score",
               *_WRITABLE)
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    return await conn.fetchval(
        f"INSERT INTO external_actions ({', '.join(columns)}) VALUES ({placeholders}) "
        "RETURNING id", *(values[c] for c in columns))


async def update_external(conn: asyncpg.Connection, action_id: uuid.UUID,
                          values: dict[str, Any]) -> None:
    """A new version (the trigger keeps the one before in external_actions_history)."""
    sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(_WRITABLE, start=2))
    await conn.execute(f"UPDATE external_actions SET {sets} WHERE id = $1",
                       action_id, *(values[c] for c in _WRITABLE))


async def insert_load_run(conn: asyncpg.Connection, *, run_id: uuid.UUID, kind: str,
                          file_name: str, file_sha256: str, status: str, rows_in: int,
                          rows_loaded: int, rows_already_loaded: int, rows_rejected: int,
                          counts: str, rejects_file: str | None, started_by: str) -> None:
    await conn.execute(
        """INSERT INTO load_runs (id, kind, file_name, file_sha256, status, rows_in,
             rows_loaded, rows_already_loaded, rows_rejected, counts, rejects_file,
             finished_at, started_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, CAST($10 AS jsonb), $11,
                   clock_timestamp(), $12)""",
        run_id, kind, file_name, file_sha256, status, rows_in, rows_loaded,
        rows_already_loaded, rows_rejected, counts, rejects_file, started_by)
