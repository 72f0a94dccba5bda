"""Finding the registry's own agencies and people for what a source file names.

Agencies: by ORI when the row gives one, else by state and folded name, else by state and a
folded alias. An agency found nowhere is created (state, name, ORI, a type guessed from the
name). The directory of a state's agencies is read once per run; agencies are few.

People: a source that has its own ids finds a person by its source record
``(source, source key)`` and by nothing else (a new id is a new person; POST staff merge
people that two sources describe). Rows without an id are matched with the background
check's matching (``registry.background_checks.matching.find_matches``) and attached to an
existing person only on strong evidence:

- a score of at least ``REGISTRY_LOAD_MATCH_THRESHOLD`` (0.9 by default: a certificate
  number, or the full name with the full date of birth), or
- at least ``NAME_ONLY_SCORE`` (0.7: first and last name exactly, no conflicting middle
  initial or suffix) and a stint of that person at the agency the row names: a name alone is
  what every namesake has, the agency is what tells them apart;

and never when two people qualify within ``AMBIGUITY_MARGIN`` of each other (then a new
person is made, and the report lists the row as ambiguous). Attaching a decertification to
the wrong person is worse than a duplicate that staff can merge.
"""

import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection

from loaders.fields import fold
from registry.agencies.service import ORI_PATTERN
from registry.background_checks.candidate import Candidate, CertificateNumber
from registry.background_checks.matching import find_matches
from registry.dates import PartialDate
from registry.names import clean

NAME_ONLY_SCORE = 0.7
AMBIGUITY_MARGIN = 0.02

# The agency type a name suggests, first match wins.
_TYPES = (
    (re.compile(r"\b(state police|highway patrol|state patrol|department of public safety)\b"),
     "state"),
    (re.compile(r"\bsheriff"), "sheriff"),
    (re.compile(r"\b(jail|detention|regional security)\b"), "jail"),
    (re.compile(r"\b(correction|correctional|prison|probation|parole)"), "corrections"),
    (re.compile(r"\b(university|college|campus)\b"), "university"),
    (re.compile(r"\b(school|isd)\b"), "school"),
    (re.compile(r"\btransit\b"), "transit"),
    (re.compile(r"\bairport\b"), "airport"),
    (re.compile(r"\b(tribal|nation|reservation)\b"), "tribal"),
    (re.compile(r"\b(police|marshal|constable|public safety)\b"), "police"),
)


def agency_type(name: str) -> str:
    key = fold(name)
    for pattern, kind in _TYPES:
        if pattern.search(key):
            return kind
    return "other"


def check_ori(ori: str | None, state: str) -> str | None:
    """The ORI upper-cased, or None when not given; ValueError with the reason when wrong."""
    value = clean(ori)
    if value is None:
        return None
    value = value.upper()
    if not ORI_PATTERN.match(value):
        raise ValueError(f"agency_ori '{ori}' is not an ORI (9 characters: the state's two "
                         "letters, then 7 letters or digits)")
    if value[:2] != state:
        raise ValueError(f"agency_ori {value} belongs to state {value[:2]}, not {state}")
    return value


@dataclass
class NewAgency:
    id: uuid.UUID
    state: str
    name: str
    name_key: str
    ori: str | None
    agency_type: str


@dataclass
class Agencies:
    """The agencies known to the registry, and those this run is about to create."""

    by_ori: dict[str, uuid.UUID] = field(default_factory=dict)
    by_name: dict[tuple[str, str], uuid.UUID] = field(default_factory=dict)
    ori_of: dict[uuid.UUID, str | None] = field(default_factory=dict)
    pending: dict[tuple[str, str], NewAgency] = field(default_factory=dict)
    types: dict[uuid.UUID, str] = field(default_factory=dict)
    # The reader thread resolves while the event loop takes the pending ones.
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    async def read(cls, conn: asyncpg.Connection) -> "Agencies":
        found = cls()
        for r in await conn.fetch("SELECT id, state, ori, name_key, aliases, agency_type "
                                  "FROM agencies"):
            found._add(r["id"], r["state"], r["ori"], r["name_key"], r["agency_type"])
            for alias in r["aliases"]:
                found.by_name.setdefault((r["state"], fold(alias)), r["id"])
        return found

    def _add(self, agency_id: uuid.UUID, state: str, ori: str | None, name_key: str,
             kind: str) -> None:
        if ori:
            self.by_ori[ori] = agency_id
        self.by_name[(state, name_key)] = agency_id
        self.ori_of[agency_id] = ori
        self.types[agency_id] = kind

    def find(self, state: str, name: str | None, ori: str | None) -> uuid.UUID | None:
        if ori and ori in self.by_ori:
            return self.by_ori[ori]
        key = fold(name)
        return self.by_name.get((state, key)) if key else None

    def resolve(self, state: str, name: str | None, ori: str | None) -> uuid.UUID:
        """The agency's id, creating it (pending until the chunk's transaction) if needed.
        ValueError with the reason when the row contradicts the registry."""
        with self.lock:
            return self._resolve(state, name, ori)

    def _resolve(self, state: str, name: str | None, ori: str | None) -> uuid.UUID:
        if ori and ori in self.by_ori:
            return self.by_ori[ori]
        key = fold(name)
        if not key:
            raise ValueError("the agency has no name" + (" and an unknown ORI" if ori else ""))
        known = self.by_name.get((state, key))
        if known is not None:
            on_file = self.ori_of.get(known)
            if ori and on_file and on_file != ori:
                raise ValueError(f"agency '{clean(name)}' is on file with ORI {on_file}; the "
                                 f"row gives ORI {ori}")
            return known
        assert name is not None
        display = clean(name) or name
        if len(display) > 200:
            raise ValueError("the agency name is longer than 200 characters")
        new = NewAgency(uuid.uuid4(), state, display, key, ori, agency_type(display))
        self.pending[(state, key)] = new
        self._add(new.id, state, ori, key, new.agency_type)
        return new.id

    def take_pending(self) -> list[NewAgency]:
        with self.lock:
            pending = list(self.pending.values())
            self.pending.clear()
        return pending

    def pending_count(self) -> int:
        with self.lock:
            return len(self.pending)

    def remap(self, old: uuid.UUID, new: uuid.UUID, agency: NewAgency) -> None:
        """Another process created the same agency first: use its id."""
        with self.lock:
            self._remap(old, new, agency)

    def _remap(self, old: uuid.UUID, new: uuid.UUID, agency: NewAgency) -> None:
        self.by_name[(agency.state, agency.name_key)] = new
        if agency.ori:
            self.by_ori[agency.ori] = new
        self.ori_of.pop(old, None)
        self.ori_of[new] = agency.ori
        self.types[new] = self.types.pop(old, agency.agency_type)


async def create_agencies(conn: asyncpg.Connection, agencies: Agencies, recorded_by: str,
                          reason: str) -> tuple[int, dict[uuid.UUID, uuid.UUID]]:
    """Insert the pending agencies; return how many, and {pending id: id on file} for those
    another process created meanwhile (the caller repoints its rows)."""
    pending = agencies.take_pending()
    if not pending:
        return 0, {}
    inserted = {r["id"] for r in await conn.fetch(
        """
        INSERT INTO agencies (id, state, ori, name, name_key, agency_type, recorded_by,
                              change_reason)
        SELECT * , $7::text, $8::text FROM unnest($1::uuid[], $2::text[], $3::text[],
                                                 $4::text[], $5::text[], $6::text[])
        ON CONFLICT DO NOTHING RETURNING id
        """,
        [a.id for a in pending], [a.state for a in pending], [a.ori for a in pending],
        [a.name for a in pending], [a.name_key for a in pending],
        [a.agency_type for a in pending], recorded_by, reason)}
    moved: dict[uuid.UUID, uuid.UUID] = {}
    for a in pending:
        if a.id in inserted:
            continue
        existing = await conn.fetchval(
            "SELECT id FROM agencies WHERE ori = $1 OR (state = $2 AND name_key = $3) "
            "ORDER BY (ori = $1) DESC NULLS LAST LIMIT 1", a.ori, a.state, a.name_key)
        moved[a.id] = existing
        agencies.remap(a.id, existing, a)
    return len(inserted), moved


# --- people ---------------------------------------------------------------------------------

@dataclass
class PersonQuery:
    """What a row says about a person who has no id in its source."""

    first: str
    last: str
    middle: str | None = None
    suffix: str | None = None
    prior_names: tuple[str, ...] = ()
    birth: PartialDate | None = None
    certificate: tuple[str, str] | None = None  # (state, number)
    agency_id: uuid.UUID | None = None


@dataclass
class PersonMatch:
    officer_id: uuid.UUID | None
    outcome: str  # matched | new | ambiguous
    score: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class PersonMatcher:
    """``find_matches`` with the loader's rule for strong evidence (module docstring)."""

    def __init__(self, conn: AsyncConnection, threshold: float, trigram_floor: float) -> None:
        self.conn = conn
        self.threshold = threshold
        self.trigram_floor = trigram_floor

    async def match(self, q: PersonQuery, pg: asyncpg.Connection) -> PersonMatch:
        certificates = ((CertificateNumber(q.certificate[0], q.certificate[1].upper()),)
                        if q.certificate else ())
        candidate = Candidate(first_name=q.first, last_name=q.last, middle_name=q.middle,
                              suffix=q.suffix, prior_names=q.prior_names,
                              date_of_birth=q.birth, certificate_numbers=certificates)
        found = await find_matches(self.conn, candidate, threshold=min(NAME_ONLY_SCORE,
                                                                          self.threshold),
                                   trigram_floor=self.trigram_floor, limit=5)
        if not found:
            return PersonMatch(None, "new")
        worked: set[uuid.UUID] = set()
        if q.agency_id is not None:
            worked = {r["person"] for r in await pg.fetch(
                "SELECT DISTINCT o.canonical_id AS person FROM stints s "
                "JOIN officers o ON o.id = s.officer_id "
                "WHERE s.agency_id = $1 AND o.canonical_id = ANY($2::uuid[])",
                q.agency_id, [m.officer_id for m in found])}
        strong = [m for m in found
                  if m.score >= self.threshold
                  or (m.score >= NAME_ONLY_SCORE and m.officer_id in worked)]
        if not strong:
            return PersonMatch(None, "new", found[0].score,
                               {"near": str(found[0].officer_id), "score": found[0].score})
        if len(strong) > 1 and strong[0].score - strong[1].score < AMBIGUITY_MARGIN:
            return PersonMatch(None, "ambiguous", strong[0].score,
                               {"candidates": [str(m.officer_id) for m in strong[:3]]})
        best = strong[0]
        return PersonMatch(best.officer_id, "matched", best.score,
                           {"agency_corroborated": best.officer_id in worked})
