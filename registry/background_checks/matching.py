"""How a background check finds and ranks people: the one place the scoring is defined.

Blocking (which records are looked at), all through indexes on ``match_keys`` and
``certifications``, never a scan of every officer:
  1. a certificate number given by the candidate (state and number, case-insensitive), on a
     certification or on another state's NDI record (``external_actions``);
  2. a full date of birth as entered and with day and month swapped: this block alone finds
     any spelling of the name;
  3. a surname's phonetic code (double metaphone of each surname token, so "Garcia-Lopez" is
     found by "Garcia" and by "Lopez") together with the first name, any of its nicknames,
     its phonetic code, or its initial;
  4. when only the birth year (or year and month) is known: the surname's phonetic code and
     the year, or the first name (with nicknames) and the year, which finds misspelt surnames
     and unrelated first names.
Each block is tried for every probe: the name as entered, the first and last names swapped,
and each prior name (a maiden name alone takes the candidate's first name). Records are
searched under every name they are known by (current, prior, maiden, alias).

Scoring, for every record name x probe in the blocks; a person's score is their best:
  first name  1 exact; ``nickname`` (0.9) from the nicknames dataset; ``initial`` (0.7) when
              one side is a single letter; ``phonetic`` (0.85) same double metaphone;
              ``middle`` (0.8) one side's first name is the other's middle name; ``trigram``:
              the pg_trgm similarity itself when it reaches ``trigram_floor``; otherwise 0.
  surname     1 exact (spaces and punctuation ignored); ``compound`` (0.9) one surname token
              is shared (hyphenated, double or married names); ``phonetic`` (0.85); ``trigram``
              similarity; otherwise 0.
  name        first_weight x first + (1 - first_weight) x surname, multiplied by
              ``prior_factor`` when a prior name matched (either side), ``swapped_factor`` for
              swapped parts, ``middle_conflict`` when both middle initials are given and
              differ, ``suffix_conflict`` when both suffixes are given and differ (Jr. / Sr.),
              ``one_part_factor`` (0.6) when the first name or the surname has no evidence at
              all (a sibling or a stranger born the same day shares only one part).
  birth date  1 exact; ``dob_transposed`` (0.7); when either side is partial, agreement at
              the shared precision gives ``dob_month`` (0.6) or ``dob_year`` (0.35); unknown
              on either side 0; disagreement is a conflict.
  score       with a certificate number match: certificate_base + (1 - certificate_base) x
              (name + birth date) / 2, so a certificate match always ranks first;
              otherwise name_weight x name + (1 - name_weight) x birth date, so a name alone
              reaches at most ``name_weight`` (0.7) and never the top score; a birth date
              conflict multiplies the score by ``dob_conflict_factor``, which separates
              namesakes.
The report threshold, the trigram floor and the number of matches returned are settings
(``REGISTRY_MATCH_*``); the weights below are the model, measured by ``registry checks
evaluate`` (registry/background_checks/evaluation.py).
"""

import json
import re
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from registry.background_checks.candidate import (
    Candidate,
    birth_dates,
    first_name_forms,
    probes,
)
from registry.database import run_sql


@dataclass(frozen=True)
class Weights:
    first_nickname: float = 0.9
    first_phonetic: float = 0.85
    first_initial: float = 0.7
    first_middle: float = 0.8
    last_compound: float = 0.9
    last_phonetic: float = 0.85
    first_weight: float = 0.45
    prior_factor: float = 0.97
    swapped_factor: float = 0.95
    middle_conflict: float = 0.9
    suffix_conflict: float = 0.85
    dob_transposed: float = 0.7
    dob_month: float = 0.6
    dob_year: float = 0.35
    dob_conflict_factor: float = 0.5
    name_weight: float = 0.7
    certificate_base: float = 0.9
    one_part_factor: float = 0.6


WEIGHTS = Weights()


@dataclass(frozen=True)
class Match:
    """One person a check found, with the evidence behind the score."""

    officer_id: uuid.UUID
    score: float
    probe: str  # entered | swapped | prior
    record_name_kind: str  # current | prior | maiden | alias
    record_name: str
    first: str | None  # how the first name matched (exact, nickname, ...) or None
    last: str | None
    middle_conflict: bool
    suffix_conflict: bool
    birth: str  # exact | transposed | month | year | unknown | conflict
    certificate: bool

    def as_json(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it deep-copies every value, a millisecond per check.
        return {**vars(self), "officer_id": str(self.officer_id)}


MATCH_SQL = """
WITH w AS (
  SELECT * FROM jsonb_to_record(CAST(:weights AS jsonb)) AS w(
    first_nickname real, first_phonetic real, first_initial real, first_middle real,
    last_compound real, last_phonetic real, first_weight real, prior_factor real,
    swapped_factor real, middle_conflict real, suffix_conflict real, dob_transposed real,
    dob_month real, dob_year real, dob_conflict_factor real, name_weight real,
    certificate_base real, one_part_factor real)
),
p AS (
  SELECT * FROM jsonb_to_recordset(CAST(:probes AS jsonb)) AS p(
    n int, kind text, first_key text, first_meta text, middle_key text, last_key text,
    tokens text[], metas text[], suffix_key text, nicks text[])
),
dobs AS (
  SELECT * FROM jsonb_to_recordset(CAST(:dobs AS jsonb)) AS d(y int, m int, d int, kind text)
),
cert AS (
  SELECT o.canonical_id AS person_id FROM certifications c JOIN officers o ON o.id = c.officer_id
  WHERE registry_certificate_key(c.number) = ANY(CAST(:numbers AS text[]))
    AND c.state || ' ' || registry_certificate_key(c.number)
        = ANY(CAST(:certificates AS text[]))
  UNION
  -- Another state's NDI record (registry/ndi) names its certificate too.
  SELECT o.canonical_id FROM external_actions x JOIN officers o ON o.id = x.officer_id
  WHERE x.certificate_number IS NOT NULL
    AND registry_certificate_key(x.certificate_number) = ANY(CAST(:numbers AS text[]))
    AND x.contributing_state || ' ' || registry_certificate_key(x.certificate_number)
        = ANY(CAST(:certificates AS text[]))
),
persons AS (
  SELECT person_id FROM cert
  UNION
  SELECT k.person_id FROM dobs JOIN match_keys k
    ON (k.birth_year, k.birth_month, k.birth_day) = (dobs.y, dobs.m, dobs.d)
  UNION
  -- The names' blocks take the keys of every probe at once, as bound arrays: the planner
  -- then sees the values and picks the index that fits them.
  SELECT person_id FROM (
    SELECT k.person_id, k.birth_year FROM match_keys k
    WHERE k.last_meta = ANY(CAST(:metas AS text[]))
      AND k.first_key = ANY(CAST(:nicks AS text[]))
    UNION ALL
    SELECT k.person_id, k.birth_year FROM match_keys k
    WHERE k.last_meta = ANY(CAST(:metas AS text[]))
      AND k.first_meta = ANY(CAST(:first_metas AS text[]))
    UNION ALL
    SELECT k.person_id, k.birth_year FROM match_keys k
    WHERE k.last_meta = ANY(CAST(:metas AS text[]))
      AND k.first_key >= CAST(:initial AS text) AND k.first_key < CAST(:initial AS text) || '~'
    UNION ALL
    -- Year known (or the record knows only the year), first name unlike any form of the
    -- one entered: a typo, or the middle name.
    SELECT k.person_id, k.birth_year FROM match_keys k
    WHERE (CAST(:birth_day AS int) IS NULL OR k.birth_day IS NULL)
      AND k.last_meta = ANY(CAST(:metas AS text[])) AND k.birth_year = CAST(:birth_year AS int)
      AND (similarity(k.first_key, CAST(:first_key AS text)) >= CAST(:trigram_floor AS real)
           OR k.middle_key = CAST(:first_key AS text))
    UNION ALL
    -- Year known (or the record knows only the year), surname sounding unlike the one
    -- entered: a typo that changes its sound.
    SELECT k.person_id, k.birth_year FROM match_keys k
    WHERE (CAST(:birth_day AS int) IS NULL OR k.birth_day IS NULL)
      AND k.first_key = ANY(CAST(:nicks AS text[])) AND k.birth_year = CAST(:birth_year AS int)
      AND similarity(k.last_key, CAST(:last_key AS text)) >= CAST(:trigram_floor AS real)
  ) by_name
  -- A person born in another year than any the candidate may have meant has a birth date
  -- conflict; when even a perfect name cannot then reach the threshold, skip them early.
  WHERE NOT CAST(:prune AS boolean) OR by_name.birth_year IS NULL
     OR by_name.birth_year = ANY(CAST(:birth_years AS int[]))
),
-- Every name of every person hit (all records merged into them), and whether one of their
-- records holds a certificate given.
rows AS (
  SELECT k.*, k.person_id IN (SELECT person_id FROM cert) AS certificate
  FROM match_keys k WHERE k.person_id = ANY(ARRAY(SELECT person_id FROM persons))
),
how AS (
  SELECT r.person_id, r.name_kind, r.first_key AS record_first, r.last_key AS record_last,
         r.certificate, p.kind AS probe,
         CASE
           WHEN r.first_key = p.first_key THEN 'exact'
           WHEN length(r.first_key) = 1 OR length(p.first_key) = 1 THEN
             CASE WHEN left(r.first_key, 1) = left(p.first_key, 1) THEN 'initial' END
           WHEN r.first_key = ANY(p.nicks) THEN 'nickname'
           WHEN r.first_meta = p.first_meta AND p.first_meta <> '' THEN 'phonetic'
           WHEN (r.middle_key <> '' AND r.middle_key = p.first_key)
             OR (p.middle_key <> '' AND p.middle_key = r.first_key) THEN 'middle'
           WHEN similarity(r.first_key, p.first_key) >= CAST(:trigram_floor AS real)
             THEN 'trigram'
         END AS first_how,
         similarity(r.first_key, p.first_key) AS first_sim,
         CASE
           WHEN replace(r.last_key, ' ', '') = replace(p.last_key, ' ', '') THEN 'exact'
           WHEN r.last_token = ANY(p.tokens) THEN 'compound'
           WHEN r.last_meta = ANY(p.metas) THEN 'phonetic'
           WHEN similarity(r.last_key, p.last_key) >= CAST(:trigram_floor AS real)
             THEN 'trigram'
         END AS last_how,
         similarity(r.last_key, p.last_key) AS last_sim,
         r.middle_key <> '' AND p.middle_key <> ''
           AND left(r.middle_key, 1) <> left(p.middle_key, 1) AS middle_conflict,
         r.middle_key <> '' AND p.middle_key <> ''
           AND left(r.middle_key, 1) = left(p.middle_key, 1) AS middle_agrees,
         r.suffix_key <> '' AND p.suffix_key <> '' AND r.suffix_key <> p.suffix_key
           AS suffix_conflict,
         CASE
           WHEN CAST(:birth_year AS int) IS NULL OR r.birth_year IS NULL THEN 'unknown'
           WHEN r.birth_month IS NOT NULL AND r.birth_day IS NOT NULL
            AND CAST(:birth_day AS int) IS NOT NULL THEN coalesce(
             (SELECT dobs.kind FROM dobs WHERE (dobs.y, dobs.m, dobs.d)
                = (r.birth_year, r.birth_month, r.birth_day) ORDER BY dobs.kind LIMIT 1),
             'conflict')
           WHEN r.birth_year <> CAST(:birth_year AS int) THEN 'conflict'
           WHEN r.birth_month IS NULL OR CAST(:birth_month AS int) IS NULL THEN 'year'
           WHEN r.birth_month <> CAST(:birth_month AS int) THEN 'conflict'
           ELSE 'month'
         END AS birth
  FROM rows r CROSS JOIN p
),
scored AS (
  SELECT h.*, name * (CASE WHEN h.probe = 'prior' OR h.name_kind <> 'current'
                           THEN w.prior_factor ELSE 1 END)
                    * (CASE WHEN h.probe = 'swapped' THEN w.swapped_factor ELSE 1 END)
                    * (CASE WHEN h.middle_conflict THEN w.middle_conflict ELSE 1 END)
                    * (CASE WHEN h.suffix_conflict THEN w.suffix_conflict ELSE 1 END)
                    * (CASE WHEN h.first_how IS NULL OR h.last_how IS NULL
                            THEN w.one_part_factor ELSE 1 END)
              AS name_score,
         CASE h.birth WHEN 'exact' THEN 1 WHEN 'transposed' THEN w.dob_transposed
                      WHEN 'month' THEN w.dob_month WHEN 'year' THEN w.dob_year
                      ELSE 0 END AS birth_score
  FROM how h CROSS JOIN w
  CROSS JOIN LATERAL (SELECT
    w.first_weight * CASE h.first_how WHEN 'exact' THEN 1 WHEN 'nickname' THEN w.first_nickname
                       WHEN 'initial' THEN w.first_initial WHEN 'phonetic' THEN w.first_phonetic
                       WHEN 'middle' THEN w.first_middle WHEN 'trigram' THEN h.first_sim
                       ELSE 0 END
    + (1 - w.first_weight) * CASE h.last_how WHEN 'exact' THEN 1
                       WHEN 'compound' THEN w.last_compound WHEN 'phonetic' THEN w.last_phonetic
                       WHEN 'trigram' THEN h.last_sim ELSE 0 END AS name) n
),
ranked AS (
  SELECT s.*,
         CASE WHEN s.certificate
              THEN w.certificate_base
                   + (1 - w.certificate_base) * (s.name_score + s.birth_score) / 2
              ELSE (w.name_weight * s.name_score + (1 - w.name_weight) * s.birth_score)
                   * CASE WHEN s.birth = 'conflict' THEN w.dob_conflict_factor ELSE 1 END
         END AS score
  FROM scored s CROSS JOIN w
),
best AS (
  SELECT DISTINCT ON (person_id) * FROM ranked
  ORDER BY person_id, score DESC, middle_agrees DESC, probe, name_kind
)
SELECT person_id, round(CAST(score AS numeric), 4) AS score, probe, name_kind,
       record_first, record_last, first_how, last_how, middle_conflict, suffix_conflict,
       birth, certificate
FROM best
WHERE score >= CAST(:threshold AS real)
-- Between equal scores, an agreeing middle initial ranks first.
ORDER BY score DESC, middle_agrees DESC, person_id
LIMIT CAST(:limit AS int)
"""


def certificate_key(number: str) -> str:
    """Python twin of the SQL registry_certificate_key: letters and digits, upper case."""
    return re.sub(r"[^A-Za-z0-9]+", "", number).upper()


KEYS_SQL = """
SELECT p.n, registry_fold(p.first) AS first_key,
       dmetaphone(split_part(registry_fold(p.first), ' ', 1)) AS first_meta,
       coalesce(registry_fold(p.middle), '') AS middle_key,
       registry_fold(p.last) AS last_key, registry_surname_tokens(p.last) AS tokens,
       ARRAY(SELECT dmetaphone(t) FROM unnest(registry_surname_tokens(p.last)) t) AS metas,
       coalesce(registry_fold(p.suffix), '') AS suffix_key
FROM jsonb_to_recordset(CAST(:probes AS jsonb))
  AS p(n int, first text, middle text, last text, suffix text)
ORDER BY p.n
"""


async def probe_keys(connection: AsyncSession | AsyncConnection, candidate: Candidate
                     ) -> list[dict[str, Any]]:
    """Each probe's keys, folded and coded by the same SQL functions that fill match_keys,
    with the first name's nickname forms."""
    found = probes(candidate)
    rows = await run_sql(connection, KEYS_SQL, {"probes": json.dumps([
        {"n": p.n, "first": p.first, "middle": p.middle, "last": p.last, "suffix": p.suffix}
        for p in found])})
    return [{"kind": p.kind, **row._mapping, "nicks": list(first_name_forms(row.first_key))}
            for p, row in zip(found, rows, strict=True)]


def match_parameters(candidate: Candidate, keys: list[dict[str, Any]], *, threshold: float,
                     trigram_floor: float, limit: int, weights: Weights = WEIGHTS
                     ) -> dict[str, Any]:
    """The bound parameters of MATCH_SQL for one candidate and its probes' keys."""
    dob = candidate.date_of_birth
    entered = keys[0]
    return {
        "weights": json.dumps(vars(weights)),
        "probes": json.dumps(keys),
        "metas": sorted({m for k in keys for m in k["metas"] if m}),
        "nicks": sorted({n for k in keys for n in k["nicks"]}),
        "first_metas": sorted({k["first_meta"] for k in keys if k["first_meta"]}),
        # Only a first name entered as an initial searches by initial.
        "initial": entered["first_key"] if len(entered["first_key"]) == 1 else None,
        "first_key": entered["first_key"],
        "last_key": entered["last_key"],
        "dobs": json.dumps(birth_dates(candidate)),
        "numbers": [certificate_key(c.number) for c in candidate.certificate_numbers],
        "certificates": [f"{c.state} {certificate_key(c.number)}"
                         for c in candidate.certificate_numbers],
        "birth_year": dob.year if dob else None,
        "birth_month": dob.month if dob else None,
        "birth_day": dob.day if dob else None,
        "birth_years": sorted({d["y"] for d in birth_dates(candidate)}
                              | ({dob.year} if dob else set())),
        # Scores with a birth date conflict stay at or below this: below the threshold, the
        # blocks can leave such people out.
        "prune": dob is not None
                 and threshold > weights.name_weight * weights.dob_conflict_factor,
        "trigram_floor": trigram_floor,
        "threshold": threshold,
        "limit": limit,
    }


async def find_matches(connection: AsyncSession | AsyncConnection, candidate: Candidate, *,
                       threshold: float, trigram_floor: float, limit: int,
                       weights: Weights = WEIGHTS) -> list[Match]:
    """The people the registry holds who may be ``candidate``, best first."""
    keys = await probe_keys(connection, candidate)
    params = match_parameters(candidate, keys, threshold=threshold,
                              trigram_floor=trigram_floor, limit=limit, weights=weights)
    result = await run_sql(connection, MATCH_SQL, params)
    return [
        Match(officer_id=row.person_id, score=float(row.score), probe=row.probe,
              record_name_kind=row.name_kind,
              record_name=f"{row.record_first} {row.record_last}",
              first=row.first_how, last=row.last_how, middle_conflict=row.middle_conflict,
              suffix_conflict=row.suffix_conflict, birth=row.birth,
              certificate=row.certificate)
        for row in result
    ]


class Evidence(StrEnum):
    CERTIFICATE_NUMBER = "certificate_number"
    FIRST_NAME = "first_name"
    LAST_NAME = "last_name"
    NAME = "name"
    MIDDLE_NAME = "middle_name"
    SUFFIX = "suffix"
    DATE_OF_BIRTH = "date_of_birth"


class Method(StrEnum):
    EXACT = "exact"
    NICKNAME = "nickname"
    INITIAL = "initial"
    PHONETIC = "phonetic"
    MIDDLE_NAME = "middle_name"
    TRIGRAM = "trigram"
    COMPOUND_SURNAME = "compound_surname"
    PRIOR_NAME = "prior_name"
    SWAPPED_NAME_PARTS = "swapped_name_parts"
    TRANSPOSED = "transposed"
    PARTIAL = "partial"
    CONFLICT = "conflict"


@dataclass(frozen=True)
class Reason:
    evidence: Evidence
    method: Method
    detail: str


_FIRST = {"exact": (Method.EXACT, "first name is the same"),
          "nickname": (Method.NICKNAME, "first names are nickname and given name"),
          "initial": (Method.INITIAL, "first name initial agrees"),
          "phonetic": (Method.PHONETIC, "first names sound alike"),
          "middle": (Method.MIDDLE_NAME, "one's first name is the other's middle name"),
          "trigram": (Method.TRIGRAM, "first names are spelt similarly")}
_LAST = {"exact": (Method.EXACT, "surname is the same"),
         "compound": (Method.COMPOUND_SURNAME, "shares a part of a compound surname"),
         "phonetic": (Method.PHONETIC, "surnames sound alike"),
         "trigram": (Method.TRIGRAM, "surnames are spelt similarly")}
_BIRTH = {"exact": (Method.EXACT, "date of birth is the same"),
          "transposed": (Method.TRANSPOSED, "date of birth matches with day and month "
                                            "swapped"),
          "month": (Method.PARTIAL, "year and month of birth agree (one date is partial)"),
          "year": (Method.PARTIAL, "year of birth agrees (one date is partial)"),
          "conflict": (Method.CONFLICT, "dates of birth differ")}


def explain(match: Match) -> list[Reason]:
    """The evidence behind a match, strongest first, in words an investigator can check."""
    reasons = []
    if match.certificate:
        reasons.append(Reason(Evidence.CERTIFICATE_NUMBER, Method.EXACT,
                              "holds a certificate with the number and state given"))
    if match.probe == "swapped":
        reasons.append(Reason(Evidence.NAME, Method.SWAPPED_NAME_PARTS,
                              f"first and last names entered the other way round "
                              f"(recorded as {match.record_name})"))
    if match.probe == "prior" or match.record_name_kind != "current":
        whose = ("a prior name the candidate gave" if match.probe == "prior"
                 else f"the record's {match.record_name_kind} name")
        reasons.append(Reason(Evidence.NAME, Method.PRIOR_NAME,
                              f"matched {whose} ({match.record_name})"))
    for evidence, how, table in ((Evidence.FIRST_NAME, match.first, _FIRST),
                                 (Evidence.LAST_NAME, match.last, _LAST),
                                 (Evidence.DATE_OF_BIRTH, match.birth, _BIRTH)):
        if how in table:
            method, detail = table[how]
            reasons.append(Reason(evidence, method, detail))
    if match.middle_conflict:
        reasons.append(Reason(Evidence.MIDDLE_NAME, Method.CONFLICT, "middle initials differ"))
    if match.suffix_conflict:
        reasons.append(Reason(Evidence.SUFFIX, Method.CONFLICT,
                              "suffixes differ (e.g. Jr. and Sr.)"))
    return reasons
