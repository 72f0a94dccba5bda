"""The public side's SQL, in one place: Core SQL on asyncpg rows (no ORM), each statement
reading only what the public may see.

What is public, and where each rule lives:
- people: every officer the registry holds except those known only from another state's NDI
  record (``LISTED``); their current name and their prior and maiden names. Aliases are never
  shown nor searched: they may be undercover names or a source's nicknames, and a search
  that matched them would tie them to the person.
- certifications issued by this state, with the status in effect today (``EFFECTIVE``: a
  suspension whose end date has come shows the status it interrupted) and their dated
  history, without certificate numbers, reasons or who recorded them.
- employment: agencies and years served, only where ``settings.public_employment``.
- board actions (``ACTIONS``): final orders other than "no action", with the grounds'
  categories, the order's public text and the vote tally; and the board moves a state's
  earlier records hold without a final order of this registry (ground not recorded).
- findings: sustained and marked public-releasable; category, year, discipline.
Nothing here reads dates of birth, POST ids, certificate numbers, source records, audit
events (except the time of the latest one, for the as-of date), background checks, referrals,
open cases, hearings or individual votes.
"""

import json
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg

from registry.background_checks.matching import WEIGHTS
from registry.transparency.search import NameQuery

# The headline status of a person with several certifications: the first of these they hold.
SEVERITY = ("revoked", "surrendered", "denied", "suspended", "active", "reinstated",
            "inactive", "lapsed")
BOARD_MOVES = ("revoke", "suspend", "surrender", "deny")
# Scores are kept as integers (basis points) so that cursors compare exactly.
SCALE = 10_000
MIN_SCORE = 0.5
NOT_RECORDED = "not_recorded"

# A person the public may see: not someone the registry knows only from another state's
# NDI record (a person created for it), which the NDI shares with agencies, not the public.
LISTED = """NOT EXISTS (SELECT 1 FROM external_actions x
                       WHERE x.officer_id = {person} AND x.attached_by = 'new_person')"""

# The status of certification ``c`` in effect on $today.
EFFECTIVE = """CASE WHEN c.status = 'suspended' AND c.suspended_until <= {today}
  THEN coalesce((SELECT e.from_status FROM certification_status_events e
                 WHERE e.certification_id = c.id AND e.to_status = 'suspended'
                 ORDER BY e.effective_on DESC, e.recorded_at DESC, e.id DESC LIMIT 1),
                'suspended')
  ELSE c.status END"""
EFFECTIVE_SINCE = """CASE WHEN c.status = 'suspended' AND c.suspended_until <= {today}
  THEN c.suspended_until ELSE c.status_since END"""
_SEVERITY = "ARRAY[" + ", ".join(f"'{s}'" for s in SEVERITY) + "]"


def headline(person: str, today: str, state: str) -> str:
    """The headline status of ``person`` (SQL expression): NULL without a certification of
    this state."""
    return f"""(SELECT ({_SEVERITY})[min(array_position({_SEVERITY},
                  {EFFECTIVE.format(today=today)}))]
               FROM officers r JOIN certifications c ON c.officer_id = r.id
               WHERE r.canonical_id = {person} AND c.state = {state})"""


# --- search ---------------------------------------------------------------------------------

W = WEIGHTS
# Evidence of each name part, as the background check scores it (matching.py): exact,
# initial, nickname, phonetic, middle name as first name; exact, compound surname part,
# phonetic. pg_trgm similarity (at or above the background check's default trigram floor)
# counts for a part when the other part has evidence of its own: a row with neither is not
# worth the similarity computations (most rows scored against the swapped name form).
TRIGRAM_FLOOR = 0.3
_FIRST = f"""CASE WHEN p.first_key = '' THEN NULL
     WHEN b.first_key = p.first_key THEN 1
     WHEN length(b.first_key) = 1 OR length(p.first_key) = 1 THEN
       CASE WHEN left(b.first_key, 1) = left(p.first_key, 1) THEN {W.first_initial} ELSE 0 END
     WHEN b.first_key = ANY(p.nicks) THEN {W.first_nickname}
     WHEN b.first_meta = p.first_meta AND p.first_meta <> '' THEN {W.first_phonetic}
     WHEN b.middle_key <> '' AND b.middle_key = p.first_key THEN {W.first_middle}
     ELSE 0 END"""
_LAST = f"""CASE WHEN replace(b.last_key, ' ', '') = replace(p.last_key, ' ', '') THEN 1
     WHEN b.last_token = ANY(p.tokens) THEN {W.last_compound}
     WHEN b.last_meta = ANY(p.metas) THEN {W.last_phonetic}
     ELSE 0 END"""
_FIRST_TRIGRAM = f"""CASE WHEN fl0.f <> 0 OR fl0.f IS NULL OR fl0.l = 0 THEN fl0.f
     WHEN similarity(b.first_key, p.first_key) >= {TRIGRAM_FLOOR}
       THEN similarity(b.first_key, p.first_key) ELSE 0 END"""
_LAST_TRIGRAM = f"""CASE WHEN fl0.l <> 0 OR coalesce(fl0.f, 0) = 0 THEN fl0.l
     WHEN similarity(b.last_key, p.last_key) >= {TRIGRAM_FLOOR}
       THEN similarity(b.last_key, p.last_key) ELSE 0 END"""
# The background check's name score without the date of birth (matching.py): first and last
# names weighted, a prior or maiden name, swapped parts, a middle initial or suffix that
# conflicts, and a name with evidence for one part only each lower it. A surname searched
# alone scores on the surname.
_SCORE = f"""CAST(round({SCALE} *
    CASE WHEN fl.f IS NULL THEN fl.l
         ELSE {W.first_weight} * fl.f + {1 - W.first_weight} * fl.l END
    * CASE WHEN b.name_kind <> 'current' THEN {W.prior_factor} ELSE 1 END
    * CASE WHEN p.kind = 'swapped' THEN {W.swapped_factor} ELSE 1 END
    * CASE WHEN b.middle_key <> '' AND p.middle_key <> ''
            AND left(b.middle_key, 1) <> left(p.middle_key, 1) THEN {W.middle_conflict}
           ELSE 1 END
    * CASE WHEN b.suffix_key <> '' AND p.suffix_key <> '' AND b.suffix_key <> p.suffix_key
           THEN {W.suffix_conflict} ELSE 1 END
    * CASE WHEN fl.f = 0 OR fl.l = 0 THEN {W.one_part_factor} ELSE 1 END) AS int)"""


# A person's public other names (prior and maiden, never aliases) as JSON, for a page of
# results; and the agency they serve at, or last served at.
OTHER_NAMES = """(SELECT jsonb_agg(jsonb_build_object(
                 'kind', n.kind, 'first_name', coalesce(n.first_name, o.first_name),
                 'middle_name', CASE WHEN n.first_name IS NULL THEN o.middle_name
                                     ELSE n.middle_name END,
                 'last_name', n.last_name, 'suffix', n.suffix)
                 ORDER BY n.used_until NULLS LAST, n.recorded_at, n.id)
        FROM officers r JOIN officer_names n ON n.officer_id = r.id
        WHERE r.canonical_id = o.id AND n.kind IN ('prior', 'maiden'))"""
LATEST_AGENCY = """LEFT JOIN LATERAL (
  SELECT a.name, st.started_on, st.ended_on FROM officers r
  JOIN stints st ON st.officer_id = r.id JOIN agencies a ON a.id = st.agency_id
  WHERE r.canonical_id = o.id
  ORDER BY st.ended_on IS NULL DESC, st.ended_on DESC, st.started_on DESC LIMIT 1
) ag ON true"""


@dataclass(frozen=True)
class SearchFilter:
    status: str | None = None
    agency_ids: tuple[uuid.UUID, ...] | None = None


# What a page of results may carry besides the names: the headline status, the public other
# names, the latest agency. A caller that shows none of one leaves it out of the statement.
RESULT_EXTRAS = frozenset({"status", "other_names", "agency"})


def _extras(extras: frozenset[str]) -> tuple[str, str]:
    """The select list and the join of a page's extras (NULL for those left out)."""
    columns = [
        f"{headline('o.id', '$2', '$3')} AS status" if "status" in extras
        else "CAST(NULL AS text) AS status",
        f"{OTHER_NAMES} AS other_names" if "other_names" in extras
        else "CAST(NULL AS jsonb) AS other_names",
        "ag.name AS agency_name, ag.started_on, ag.ended_on" if "agency" in extras
        else "CAST(NULL AS text) AS agency_name, CAST(NULL AS date) AS started_on, "
             "CAST(NULL AS date) AS ended_on"]
    return ",\n       ".join(columns), LATEST_AGENCY if "agency" in extras else ""


def search_sql(query: NameQuery, where: SearchFilter, after: bool,
               extras: frozenset[str] = RESULT_EXTRAS) -> str:
    """One statement: fold and code the name forms, block through the background check's
    indexes on ``match_keys`` (surname sound with the first name, a nickname, its sound or
    initial), score, keep each person's best name, filter, page by keyset, and read the page's
    people with their headline status and latest agency.

    Parameters: $1 forms (jsonb), $2 today, $3 state, $4 limit, $5 the initial when the
    first name is one, then the filters' and the cursor's as they occur (``search_args``)."""
    params = 4
    blocks = "k.last_meta = ANY(ARRAY(SELECT DISTINCT m FROM p, unnest(p.metas) m))"
    if not query.surname_only:
        blocks += """
    AND (k.first_key = ANY(ARRAY(SELECT DISTINCT n FROM p, unnest(p.nicks) n))
         OR k.first_meta = ANY(ARRAY(SELECT DISTINCT p.first_meta FROM p
                                     WHERE p.first_meta <> ''))"""
        if query.initial:
            params += 1
            blocks += "\n         OR (k.first_key >= $5 AND k.first_key < $5 || '~')"
        blocks += ")"
    filters = [f"s.score >= {int(MIN_SCORE * SCALE)}", LISTED.format(person="s.person_id")]
    if where.status:
        params += 1
        filters.append(f"{headline('s.person_id', '$2', '$3')} = ${params}")
    if where.agency_ids is not None:
        params += 1
        filters.append(f"""EXISTS (SELECT 1 FROM officers r JOIN stints st
                                   ON st.officer_id = r.id
                                   WHERE r.canonical_id = s.person_id
                                     AND st.agency_id = ANY(${params}::uuid[]))""")
    if after:
        n = params
        params += 5
        filters.append(f"""(-s.score, s.last_key, s.first_key, s.middle_key, s.person_id)
              > (-${n + 1}::int, ${n + 2}::text, ${n + 3}::text, ${n + 4}::text,
                 (SELECT o.id FROM officers o WHERE o.public_id = ${n + 5}))""")
    return f"""
WITH typed AS (
  -- Today and the state are read by the headline status only: typed here for the statements
  -- that leave it out.
  SELECT CAST($2 AS date) AS today, CAST($3 AS text) AS state
),
q AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb)
    AS q(kind text, first text, middle text, last text, suffix text, nicks text[])
),
p AS (
  SELECT q.kind, coalesce(registry_fold(q.first), '') AS first_key,
         coalesce(dmetaphone(split_part(registry_fold(q.first), ' ', 1)), '') AS first_meta,
         coalesce(registry_fold(q.middle), '') AS middle_key,
         registry_fold(q.last) AS last_key, registry_surname_tokens(q.last) AS tokens,
         ARRAY(SELECT dmetaphone(t) FROM unnest(registry_surname_tokens(q.last)) t) AS metas,
         coalesce(registry_fold(q.suffix), '') AS suffix_key,
         q.nicks || coalesce(registry_fold(q.first), '') AS nicks
  FROM q
),
blocked AS (
  SELECT k.person_id, k.name_kind, k.first_key, k.first_meta, k.middle_key, k.last_key,
         k.last_token, k.last_meta, k.suffix_key
  FROM match_keys k
  WHERE {blocks}
    AND k.name_kind <> 'alias'
),
scored AS (
  SELECT DISTINCT ON (b.person_id) b.person_id, b.name_kind, b.first_key, b.middle_key,
         b.last_key, sc.score
  FROM blocked b CROSS JOIN p
  -- OFFSET 0 keeps each step a step: flattened, every use of f and l below would
  -- repeat the whole expression behind it (measured: 3 to 5 times the work).
  CROSS JOIN LATERAL (SELECT CAST({_FIRST} AS float8) AS f,
                             CAST({_LAST} AS float8) AS l OFFSET 0) fl0
  CROSS JOIN LATERAL (SELECT {_FIRST_TRIGRAM} AS f, {_LAST_TRIGRAM} AS l OFFSET 0) fl
  CROSS JOIN LATERAL (SELECT {_SCORE} AS score OFFSET 0) sc
  ORDER BY b.person_id, sc.score DESC, b.name_kind = 'current' DESC
),
page AS (
  SELECT s.* FROM scored s
  WHERE {" AND ".join(filters)}
  ORDER BY s.score DESC, s.last_key, s.first_key, s.middle_key, s.person_id
  LIMIT $4
)
SELECT s.person_id AS id, s.score, s.name_kind AS matched, s.last_key, s.first_key,
       s.middle_key, o.public_id, o.first_name, o.middle_name, o.last_name, o.suffix,
       {_extras(extras)[0]}
FROM page s JOIN officers o ON o.id = s.person_id {_extras(extras)[1]}
ORDER BY s.score DESC, s.last_key, s.first_key, s.middle_key, s.person_id
"""


async def search(conn: asyncpg.Connection, query: NameQuery, *, today: date, state: str,
                 limit: int, where: SearchFilter,
                 after: tuple[int, str, str, str, str] | None,
                 extras: frozenset[str] = RESULT_EXTRAS) -> list[asyncpg.Record]:
    """People whose public names match ``query``, best first, ``limit`` of them after the
    keyset position ``after`` (score, last, first, middle keys, public id)."""
    args: list[Any] = [json.dumps([f.as_json() for f in query.forms]), today, state, limit]
    if query.initial and not query.surname_only:
        args.append(query.initial)
    if where.status:
        args.append(where.status)
    if where.agency_ids is not None:
        args.append(list(where.agency_ids))
    if after:
        args.extend(after)
    return await conn.fetch(search_sql(query, where, after is not None, extras), *args)


# Past the sound of the name: when no surname sounds like the one typed (a misspelling that
# changes its sound, "Smiht"), the search falls back to the trigram indexes on the folded
# full names (officers.name_key, officer_names.name_key) with this similarity threshold.
SPELLING_THRESHOLD = 0.5


async def search_spellings(conn: asyncpg.Connection, text: str, *, today: date, state: str,
                           limit: int, where: SearchFilter) -> list[asyncpg.Record]:
    """People whose current, prior or maiden name is spelt like ``text`` (folded), most
    similar first: one page, the same columns as ``search``."""
    args: list[Any] = [text, today, state, limit]
    filters = [LISTED.format(person="s.person_id")]
    if where.status:
        args.append(where.status)
        filters.append(f"{headline('s.person_id', '$2', '$3')} = ${len(args)}")
    if where.agency_ids is not None:
        args.append(list(where.agency_ids))
        filters.append(f"""EXISTS (SELECT 1 FROM officers r JOIN stints st
                                   ON st.officer_id = r.id
                                   WHERE r.canonical_id = s.person_id
                                     AND st.agency_id = ANY(${len(args)}::uuid[]))""")
    async with conn.transaction():
        await conn.execute(f"SET LOCAL pg_trgm.similarity_threshold = {SPELLING_THRESHOLD}")
        return await conn.fetch(f"""
WITH hits AS (
  SELECT o.canonical_id AS person_id, 'current' AS name_kind,
         similarity(o.name_key, $1) AS sim FROM officers o WHERE o.name_key % $1
  UNION ALL
  SELECT r.canonical_id, n.kind, similarity(n.name_key, $1)
  FROM officer_names n JOIN officers r ON r.id = n.officer_id
  WHERE n.kind IN ('prior', 'maiden') AND n.name_key % $1
),
best AS (
  SELECT DISTINCT ON (person_id) person_id, name_kind, sim FROM hits
  ORDER BY person_id, sim DESC, name_kind = 'current' DESC
),
page AS (
  SELECT s.* FROM best s WHERE {" AND ".join(filters)}
  ORDER BY s.sim DESC, s.person_id LIMIT $4
)
SELECT o.id, CAST(round({SCALE} * s.sim) AS int) AS score, s.name_kind AS matched, '' AS last_key,
       '' AS first_key, '' AS middle_key, o.public_id, o.first_name, o.middle_name,
       o.last_name, o.suffix, {headline('o.id', '$2', '$3')} AS status,
       {OTHER_NAMES} AS other_names, ag.name AS agency_name, ag.started_on, ag.ended_on
FROM page s JOIN officers o ON o.id = s.person_id {LATEST_AGENCY}
ORDER BY s.sim DESC, o.sort_key, o.public_id""", *args)


# --- people ---------------------------------------------------------------------------------


def full_name(row: Any) -> str:
    return " ".join(p for p in (row["first_name"], row["middle_name"], row["last_name"],
                                row["suffix"]) if p)


def named(row: Any) -> dict[str, Any]:
    """A person's or a name's row as a dict with its ``full_name`` (what the public types
    read)."""
    out = dict(row)
    out["full_name"] = full_name(out)
    return out


PERSON_COLUMNS = "o.id, o.public_id, o.first_name, o.middle_name, o.last_name, o.suffix"


async def person_by_public_id(conn: asyncpg.Connection, public_id: str
                              ) -> tuple[asyncpg.Record | None, str | None]:
    """(the person, None) for a person's public id; (None, the survivor's public id) for the
    public id of a record since merged into another; (None, None) when nobody has it."""
    row = await conn.fetchrow(f"""
        SELECT {PERSON_COLUMNS}, o.canonical_id = o.id AS is_person,
               (SELECT p.public_id FROM officers p WHERE p.id = o.canonical_id) AS survivor,
               {LISTED.format(person='o.canonical_id')} AS listed
        FROM officers o WHERE o.public_id = $1""", public_id)
    if row is None or not row["listed"]:
        return None, None
    if not row["is_person"]:
        return None, row["survivor"]
    return row, None


async def roster(conn: asyncpg.Connection, *, name_key: str | None, limit: int,
                 after: tuple[str, str] | None) -> list[asyncpg.Record]:
    """People in roster order (last, first, middle), optionally those whose current, prior
    or maiden name contains the words ``name_key`` (folded)."""
    args: list[Any] = [limit]
    filters = ["o.canonical_id = o.id", LISTED.format(person="o.id")]
    if name_key:
        args.append(f"%{name_key}%")
        filters.append(f"""(o.name_key LIKE ${len(args)} OR o.id IN (
            SELECT r.canonical_id FROM officer_names n JOIN officers r ON r.id = n.officer_id
            WHERE n.kind IN ('prior', 'maiden') AND n.name_key LIKE ${len(args)}))""")
    if after:
        args.extend(after)
        filters.append(f"(o.sort_key, o.public_id) > (${len(args) - 1}, ${len(args)})")
    return await conn.fetch(f"""
        SELECT {PERSON_COLUMNS}, o.sort_key FROM officers o
        WHERE {" AND ".join(filters)}
        ORDER BY o.sort_key, o.public_id LIMIT $1""", *args)


async def other_names(conn: asyncpg.Connection, ids: list[uuid.UUID]
                      ) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """Prior and maiden names (never aliases); a maiden surname alone takes the person's own
    first name, as the search does."""
    rows = await conn.fetch("""
        SELECT r.canonical_id AS person, n.kind, coalesce(n.first_name, o.first_name)
               AS first_name, CASE WHEN n.first_name IS NULL THEN o.middle_name
                                   ELSE n.middle_name END AS middle_name,
               n.last_name, n.suffix
        FROM officer_names n JOIN officers r ON r.id = n.officer_id
        JOIN officers o ON o.id = r.canonical_id
        WHERE r.canonical_id = ANY($1::uuid[]) AND n.kind IN ('prior', 'maiden')
        ORDER BY n.used_until NULLS LAST, n.recorded_at, n.id""", ids)
    out: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        out[r["person"]].append(named(r))
    return out


async def headlines(conn: asyncpg.Connection, ids: list[uuid.UUID], *, today: date,
                    state: str) -> dict[uuid.UUID, str | None]:
    rows = await conn.fetch(f"""
        SELECT p.id, {headline('p.id', '$2', '$3')} AS status
        FROM unnest($1::uuid[]) AS p(id)""", ids, today, state)
    return {r["id"]: r["status"] for r in rows}


async def certifications(conn: asyncpg.Connection, ids: list[uuid.UUID], *, today: date,
                         state: str) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """Each person's certifications from this state, with the status in effect today."""
    rows = await conn.fetch(f"""
        SELECT r.canonical_id AS person, c.id, c.state, c.discipline, c.level, c.issued_on,
               c.expires_on, {EFFECTIVE.format(today='$2')} AS status,
               {EFFECTIVE_SINCE.format(today='$2')} AS status_since,
               CASE WHEN c.status = 'suspended' AND c.suspended_until > $2
                    THEN c.suspended_until END AS suspended_until
        FROM certifications c JOIN officers r ON r.id = c.officer_id
        WHERE r.canonical_id = ANY($1::uuid[]) AND c.state = $3
        ORDER BY c.issued_on, c.level, c.id""", ids, today, state)
    out: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        out[r["person"]].append(dict(r))
    return out


# What each recorded move is called in public.
CHANGES = {"issue": "issued", "reactivate": "reactivated", "inactivate": "inactivated",
           "lapse": "lapsed", "suspend": "suspended", "revoke": "revoked",
           "surrender": "surrendered", "deny": "denied", "reinstate": "reinstated",
           "restore": "restored_on_appeal"}


async def status_histories(conn: asyncpg.Connection, cert_ids: list[uuid.UUID], *,
                           today: date) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """Each certification's public status history: the dated moves (renewals that keep the
    status left out), and the day a suspension ended by itself. No reasons, no recorders."""
    rows = await conn.fetch("""
        SELECT certification_id, action, from_status, to_status, effective_on, until_on
        FROM certification_status_events WHERE certification_id = ANY($1::uuid[])
        ORDER BY effective_on, recorded_at, id""", cert_ids)
    grouped: dict[uuid.UUID, list[asyncpg.Record]] = defaultdict(list)
    for r in rows:
        grouped[r["certification_id"]].append(r)
    out: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for cert, events in grouped.items():
        history: list[dict[str, Any]] = []
        for i, e in enumerate(events):
            if e["action"] not in CHANGES:
                continue  # a renewal: the expiry moved, the status did not
            history.append({"change": CHANGES[e["action"]], "status": e["to_status"],
                            "previous_status": e["from_status"],
                            "effective_on": e["effective_on"], "until": e["until_on"]})
            until = e["until_on"]
            if e["to_status"] == "suspended" and until is not None and until <= today:
                later = events[i + 1:]
                if not later or later[0]["effective_on"] > until:
                    history.append({"change": "suspension_ended", "status": e["from_status"]
                                    or "active", "previous_status": "suspended",
                                    "effective_on": until, "until": None})
        out[cert] = history
    return out


async def employment(conn: asyncpg.Connection, ids: list[uuid.UUID]
                     ) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """Agencies and years served (the caller checks that the state makes them public)."""
    rows = await conn.fetch("""
        SELECT r.canonical_id AS person, a.state, a.ori, a.name, a.agency_type,
               st.started_on, st.ended_on
        FROM stints st JOIN officers r ON r.id = st.officer_id
        JOIN agencies a ON a.id = st.agency_id
        WHERE r.canonical_id = ANY($1::uuid[])
        ORDER BY st.started_on, st.ended_on NULLS LAST, a.name""", ids)
    out: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        out[r["person"]].append({
            "agency": {"state": r["state"], "ori": r["ori"], "name": r["name"],
                       "agency_type": r["agency_type"]},
            "from_year": r["started_on"].year,
            "to_year": r["ended_on"].year if r["ended_on"] else None})
    return out


async def findings(conn: asyncpg.Connection, ids: list[uuid.UUID]
                   ) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """Sustained findings marked public-releasable: category, year, discipline."""
    rows = await conn.fetch("""
        SELECT r.canonical_id AS person, f.category,
               CAST(extract(year FROM f.incident_on) AS int) AS year, f.discipline,
               f.suspension_days
        FROM findings f JOIN officers r ON r.id = f.officer_id
        WHERE r.canonical_id = ANY($1::uuid[]) AND f.final_disposition = 'sustained'
          AND f.public_releasable
        ORDER BY f.incident_on, f.category""", ids)
    out: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        out[r["person"]].append(dict(r))
    return out


# --- board actions ------------------------------------------------------------------------------

def actions_cte(since: str | None = None) -> str:
    """Every public board action of this state, one row each (the ``actions`` CTE), those
    that took effect on or after the date parameter ``since`` when given. Parameters: $1
    state, $2 ground codes, $3 their categories (the grounds file's), then the caller's."""
    window = f"AND fo.effective_on >= {since}" if since else ""
    moves_window = f"AND e.effective_on >= {since}" if since else ""
    return f"""
WITH ground_map AS (
  SELECT * FROM unnest($2::text[], $3::text[]) AS g(code, category)
),
orders AS (
  SELECT CAST(fo.id AS text) AS action_id, r.canonical_id AS person_id, fo.effective_on,
         fo.outcome, fo.suspended_until AS until_on, c.grounds, fo.public_text,
         fo.tally, ap.status AS appeal, ap.decided_on AS appeal_decided_on,
         (SELECT min(da.effective_on) FROM decertification_actions da
          WHERE da.case_id = c.id AND da.kind = 'reinstatement') AS reinstated_on
  FROM final_orders fo JOIN cases c ON c.id = fo.case_id
  JOIN officers r ON r.id = c.officer_id
  LEFT JOIN LATERAL (SELECT a.status, a.decided_on FROM appeals a
                     WHERE a.case_id = c.id AND a.status <> 'pending'
                     ORDER BY a.decided_on DESC LIMIT 1) ap ON true
  WHERE fo.outcome <> 'no_action' {window}
),
moves AS (
  SELECT min(CAST(e.id AS text)) AS action_id, r.canonical_id AS person_id, e.effective_on,
         CASE e.action WHEN 'revoke' THEN 'revocation' WHEN 'suspend' THEN 'suspension'
                       WHEN 'surrender' THEN 'surrender' ELSE 'denial' END AS outcome,
         max(e.until_on) AS until_on, CAST('{{}}' AS text[]) AS grounds,
         CAST(NULL AS text) AS public_text, CAST(NULL AS jsonb) AS tally,
         CAST(NULL AS text) AS appeal, CAST(NULL AS date) AS appeal_decided_on,
         (SELECT min(l.effective_on) FROM certification_status_events l
          WHERE l.certification_id = ANY(array_agg(e.certification_id))
            AND l.action = 'reinstate' AND l.effective_on >= e.effective_on) AS reinstated_on
  FROM certification_status_events e
  JOIN certifications c ON c.id = e.certification_id AND c.state = $1
  JOIN officers r ON r.id = c.officer_id
  WHERE e.action IN {tuple(BOARD_MOVES)!r}
    AND NOT EXISTS (SELECT 1 FROM decertification_actions da
                    WHERE da.certification_id = e.certification_id
                      AND da.kind = 'final_order' AND da.effective_on = e.effective_on)
    {moves_window}
  GROUP BY e.effective_on, e.action, r.canonical_id
),
actions AS (
  SELECT a.*, left(md5(a.action_id), 12) AS key,
         coalesce(ARRAY(SELECT DISTINCT coalesce(g.category, 'other')
                        FROM unnest(a.grounds) code LEFT JOIN ground_map g USING (code)
                        ORDER BY 1), '{{}}') AS categories
  FROM (SELECT * FROM orders UNION ALL SELECT * FROM moves) a
  WHERE {LISTED.format(person='a.person_id')}
)"""


ACTIONS = actions_cte()

# The agency the person served at (or last served at) when the action took effect.
ACTION_AGENCY = """LEFT JOIN LATERAL (
  SELECT ag.id AS agency_id, ag.state AS agency_state, ag.ori AS agency_ori,
         ag.name AS agency_name, ag.agency_type
  FROM officers r2 JOIN stints st ON st.officer_id = r2.id
  JOIN agencies ag ON ag.id = st.agency_id
  WHERE r2.canonical_id = a.person_id AND st.started_on <= a.effective_on
  ORDER BY st.started_on DESC, st.id LIMIT 1
) agency ON true"""


@dataclass(frozen=True)
class ActionFilter:
    year: int | None = None
    outcome: str | None = None
    category: str | None = None
    agency_ids: tuple[uuid.UUID, ...] | None = None
    person_ids: tuple[uuid.UUID, ...] | None = None


def _action_filters(where: ActionFilter, args: list[Any]) -> list[str]:
    filters = ["true"]
    if where.year is not None:
        args.append(date(where.year, 1, 1))
        args.append(date(where.year + 1, 1, 1))
        filters.append(f"a.effective_on >= ${len(args) - 1} AND a.effective_on < ${len(args)}")
    if where.outcome:
        args.append(where.outcome)
        filters.append(f"a.outcome = ${len(args)}")
    if where.category:
        args.append(where.category)
        filters.append(f"""(${len(args)} = ANY(a.categories)
                           OR (${len(args)} = '{NOT_RECORDED}' AND a.categories = '{{}}'))""")
    if where.agency_ids is not None:
        args.append(list(where.agency_ids))
        filters.append(f"agency.agency_id = ANY(${len(args)}::uuid[])")
    if where.person_ids is not None:
        args.append(list(where.person_ids))
        filters.append(f"a.person_id = ANY(${len(args)}::uuid[])")
    return filters


ACTION_COLUMNS = """a.key, a.person_id, a.effective_on, a.outcome, a.until_on, a.categories,
       a.grounds, a.public_text, a.tally, a.appeal, a.appeal_decided_on, a.reinstated_on,
       agency.agency_state, agency.agency_ori, agency.agency_name, agency.agency_type,
       o.public_id, o.first_name, o.middle_name, o.last_name, o.suffix"""


def _ground_args(grounds: dict[str, str]) -> list[Any]:
    return [list(grounds), list(grounds.values())]


async def actions_page(conn: asyncpg.Connection, *, state: str, grounds: dict[str, str],
                       where: ActionFilter, limit: int,
                       after: tuple[date, str] | None) -> list[asyncpg.Record]:
    """Board actions, latest first, ``limit`` after the keyset position (date, key). The page
    is chosen first and only its rows read their officer and agency (unless the filter is
    the agency itself)."""
    if where.person_ids is not None:
        return await _actions_page(conn, state=state, grounds=grounds, where=where,
                                   limit=limit, after=after, since=None)
    # Latest first: the page lies among the latest board moves. Look at the latest
    # ``window`` of them first (an index range), and widen until the page is full or the
    # window holds everything: a row outside a window ranks after every row inside it.
    window = max(4 * limit, 200)
    upto = [d for d in (after[0] if after else None,
                        date(where.year, 12, 31) if where.year else None) if d]
    while True:
        since = await conn.fetchval(f"""
            SELECT effective_on FROM certification_status_events
            WHERE action IN {tuple(BOARD_MOVES)!r} AND ($1::date IS NULL OR effective_on <= $1)
            ORDER BY effective_on DESC OFFSET $2 LIMIT 1""", min(upto) if upto else None,
                                    window - 1)
        rows = await _actions_page(conn, state=state, grounds=grounds, where=where,
                                   limit=limit, after=after, since=since)
        if since is None or len(rows) >= limit:
            return rows
        window *= 8


async def _actions_page(conn: asyncpg.Connection, *, state: str, grounds: dict[str, str],
                        where: ActionFilter, limit: int, after: tuple[date, str] | None,
                        since: date | None) -> list[asyncpg.Record]:
    args: list[Any] = [state, *_ground_args(grounds), limit]
    filters = _action_filters(where, args)
    if after:
        args.extend(after)
        filters.append(f"(a.effective_on, a.key) < (${len(args) - 1}::date, ${len(args)})")
    since_param = None
    if since is not None:
        args.append(since)
        since_param = f"${len(args)}::date"
    by_agency = where.agency_ids is not None
    return await conn.fetch(f"""{actions_cte(since_param)},
        page AS (
          SELECT a.* FROM actions a {ACTION_AGENCY if by_agency else ""}
          WHERE {" AND ".join(filters)}
          ORDER BY a.effective_on DESC, a.key DESC LIMIT $4
        )
        SELECT {ACTION_COLUMNS}
        FROM page a JOIN officers o ON o.id = a.person_id {ACTION_AGENCY}
        ORDER BY a.effective_on DESC, a.key DESC""", *args)


async def actions_of_people(conn: asyncpg.Connection, ids: list[uuid.UUID], *, state: str,
                            grounds: dict[str, str]) -> dict[uuid.UUID, list[dict[str, Any]]]:
    rows = await actions_page(conn, state=state, grounds=grounds,
                              where=ActionFilter(person_ids=tuple(ids)), limit=10_000,
                              after=None)
    out: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for r in reversed(rows):  # oldest first on a record
        out[r["person_id"]].append(action_row(r))
    return out


def action_row(r: asyncpg.Record) -> dict[str, Any]:
    """A board action as the public types and pages read it."""
    tally = r["tally"]
    if isinstance(tally, str):
        tally = json.loads(tally)
    agency = ({"state": r["agency_state"], "ori": r["agency_ori"], "name": r["agency_name"],
               "agency_type": r["agency_type"]} if r["agency_name"] else None)
    return {
        "key": r["key"], "person_id": r["person_id"], "effective_on": r["effective_on"],
        "outcome": r["outcome"], "until_on": r["until_on"],
        "categories": list(r["categories"]) or [NOT_RECORDED], "grounds": list(r["grounds"]),
        "public_text": r["public_text"],
        "tally": ({k: int(tally.get(k, 0)) for k in ("yes", "no", "abstain", "recused")}
                  if tally else None),
        "appeal": r["appeal"], "appeal_decided_on": r["appeal_decided_on"],
        "reinstated_on": r["reinstated_on"], "agency": agency,
        "officer": named({"id": r["person_id"], "public_id": r["public_id"],
                          "first_name": r["first_name"], "middle_name": r["middle_name"],
                          "last_name": r["last_name"], "suffix": r["suffix"]}),
    }


async def stream_actions(conn: asyncpg.Connection, *, state: str, grounds: dict[str, str],
                         where: ActionFilter, prefetch: int = 500) -> Any:
    """Every action matching ``where``, latest first, through a server-side cursor (the
    caller holds the transaction open while it iterates)."""
    args: list[Any] = [state, *_ground_args(grounds)]
    filters = _action_filters(where, args)
    return conn.cursor(f"""{ACTIONS}
        SELECT {ACTION_COLUMNS}
        FROM actions a JOIN officers o ON o.id = a.person_id {ACTION_AGENCY}
        WHERE {" AND ".join(filters)}
        ORDER BY a.effective_on DESC, a.key DESC""", *args, prefetch=prefetch)


async def by_year(conn: asyncpg.Connection, *, state: str, grounds: dict[str, str],
                  outcome: str | None) -> list[asyncpg.Record]:
    """(year, category, count) and (year, NULL, total) of the actions in force: an order
    overturned on appeal is not counted. An action with grounds in several categories counts
    once in each, and once in its year's total."""
    args: list[Any] = [state, *_ground_args(grounds)]
    extra = ""
    if outcome:
        args.append(outcome)
        extra = f"AND a.outcome = ${len(args)}"
    return await conn.fetch(f"""{ACTIONS}
        SELECT CAST(extract(year FROM a.effective_on) AS int) AS year, cat AS category,
               count(*) AS n
        FROM actions a CROSS JOIN LATERAL unnest(
          CASE WHEN a.categories = '{{}}' THEN ARRAY['{NOT_RECORDED}'] ELSE a.categories END
        ) cat
        WHERE a.appeal IS DISTINCT FROM 'overturned' {extra}
        GROUP BY GROUPING SETS ((1, 2), (1))
        ORDER BY 1, 2 NULLS FIRST""", *args)


async def by_agency(conn: asyncpg.Connection, *, state: str, grounds: dict[str, str],
                    year: int | None, limit: int) -> list[asyncpg.Record]:
    """Actions in force per agency served at the time (most first); agency NULL when the
    registry holds no employment for the person then."""
    args: list[Any] = [state, *_ground_args(grounds), limit]
    filters = _action_filters(ActionFilter(year=year), args)
    return await conn.fetch(f"""{ACTIONS}
        SELECT agency.agency_state, agency.agency_ori, agency.agency_name,
               agency.agency_type, count(*) AS n
        FROM actions a {ACTION_AGENCY}
        WHERE a.appeal IS DISTINCT FROM 'overturned' AND {" AND ".join(filters)}
        GROUP BY 1, 2, 3, 4, agency.agency_id
        ORDER BY n DESC, agency.agency_name NULLS LAST LIMIT $4""", *args)


# --- agencies and the registry itself --------------------------------------------------------


async def agencies_page(conn: asyncpg.Connection, *, state: str | None, name_key: str | None,
                        limit: int, after: tuple[str, str] | None) -> list[asyncpg.Record]:
    args: list[Any] = [limit]
    filters = ["true"]
    if state:
        args.append(state)
        filters.append(f"a.state = ${len(args)}")
    if name_key:
        args.append(f"%{name_key}%")
        filters.append(f"a.name_key LIKE ${len(args)}")
    if after:
        args.extend(after)
        filters.append(f"(a.state, a.name_key) > (${len(args) - 1}, ${len(args)})")
    return await conn.fetch(f"""
        SELECT a.state, a.ori, a.name, a.name_key, a.agency_type FROM agencies a
        WHERE {" AND ".join(filters)} ORDER BY a.state, a.name_key LIMIT $1""", *args)


MAX_AGENCY_MATCHES = 200


async def agency_ids(conn: asyncpg.Connection, text: str, name_key: str
                     ) -> list[uuid.UUID]:
    """Agencies an agency filter names: by ORI, else every agency whose name contains the
    words typed (at most MAX_AGENCY_MATCHES + 1, so the caller can tell "too many")."""
    rows = await conn.fetch("""
        SELECT id FROM agencies WHERE ori = upper($1) OR name_key LIKE $2
        OR $3 = ANY(aliases) ORDER BY name_key LIMIT $4""",
                            text.strip(), f"%{name_key}%", text.strip(),
                            MAX_AGENCY_MATCHES + 1)
    return [r["id"] for r in rows]


async def data_as_of(conn: asyncpg.Connection) -> Any:
    """When the registry last recorded a change: its latest audit event (every write appends
    one) or board action, whichever is later; None for an empty registry."""
    return await conn.fetchval("""
        SELECT greatest((SELECT occurred_at FROM audit_events ORDER BY id DESC LIMIT 1),
                        (SELECT max(recorded_at) FROM decertification_actions))""")
