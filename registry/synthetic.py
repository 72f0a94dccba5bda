"""A synthetic state for ``registry serve --demo`` and the benchmarks.

Realistic where searches, rosters and reports care: surnames and first names drawn with their
census-like frequencies (so "Smith" and "Garcia" are as crowded as in life), a long tail from
other locales, accents, hyphenated and double surnames, suffixes, maiden and prior names,
nicknames and typos as aliases; agencies of very different sizes; careers of several stints
with realistic separation reasons; certifications whose status and dated history follow the
career, with a few revocations, surrenders and suspensions. The board's side too: sustained
misconduct findings behind every career that ended in a misconduct separation (termination,
or a resignation or retirement in lieu of termination or under investigation), a background of
mostly unsustained complaints for a few percent of officers, and a few criminal convictions,
so that the referral rules (``registry.referrals``) find work for POST staff.

Deterministic for a seed: every chunk of officers draws from its own ``random.Random`` seeded
by (seed, chunk), so the result does not depend on how chunks are scheduled. Careers are
computed as of the fixed date ``AS_OF`` for the same reason. Findings and convictions draw
from a second generator per chunk, so adding them left the other tables as a seed made them.

Rows carry the computed columns exactly as the services write them (``registry.names``);
``version`` is 1 and no ``*_history`` rows exist: each row is as first recorded.
"""

import asyncio
import itertools
import random
import sys
import time
import unicodedata
from bisect import bisect
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

import asyncpg
from asyncpg.pgproto.pgproto import UUID

from registry.names import fold, name_key, sort_key
from registry.states import STATE_CODES, STATE_NAMES

# "Today" for the synthetic careers: fixed so that a seed always gives the same state.
AS_OF = date(2026, 10, 31)
CHUNK = 50_000
RECORDED_BY = "synthetic"

# Tables in load order (foreign keys point backwards), with the columns each COPY fills.
COLUMNS: dict[str, tuple[str, ...]] = {
    "agencies": ("id", "state", "ori", "name", "name_key", "aliases", "agency_type", "version",
                 "recorded_at", "recorded_by"),
    "officers": ("id", "canonical_id", "public_id", "first_name", "middle_name", "last_name",
                 "suffix", "name_key", "sort_key", "birth_year", "birth_month", "birth_day",
                 "post_id", "sex", "race", "version", "recorded_at", "recorded_by"),
    "officer_names": ("id", "officer_id", "kind", "first_name", "middle_name", "last_name",
                      "suffix", "name_key", "used_until", "recorded_at", "recorded_by"),
    "certifications": ("id", "officer_id", "state", "number", "issuing_board", "discipline",
                       "level", "issued_on", "expires_on", "status", "status_since",
                       "suspended_until", "version", "recorded_at", "recorded_by"),
    "certification_status_events": ("id", "certification_id", "action", "from_status",
                                    "to_status", "effective_on", "until_on", "expires_on",
                                    "reason", "recorded_at", "recorded_by"),
    "stints": ("id", "officer_id", "agency_id", "rank", "started_on", "ended_on",
               "separation_reason", "reported_by_agency_id", "reported_at", "version",
               "recorded_at", "recorded_by"),
    "findings": ("id", "officer_id", "agency_id", "incident_on", "reported_on", "category",
                 "recommended_disposition", "final_disposition", "discipline",
                 "suspension_days", "completed_after_separation", "public_releasable",
                 "summary", "version", "recorded_at", "recorded_by"),
    "convictions": ("id", "officer_id", "reported_by_agency_id", "offense", "level",
                    "domestic_violence", "convicted_on", "court", "version", "recorded_at",
                    "recorded_by"),
}
TABLES = tuple(COLUMNS)
PER_OFFICER = TABLES[1:]

Progress = Callable[[str, int, int], None]

BOARDS = {
    "VA": "Virginia Criminal Justice Services Board",
    "CA": "California Commission on Peace Officer Standards and Training",
    "TX": "Texas Commission on Law Enforcement",
    "FL": "Florida Criminal Justice Standards and Training Commission",
    "GA": "Georgia Peace Officer Standards and Training Council",
    "NY": "New York State Municipal Police Training Council",
    "WA": "Washington State Criminal Justice Training Commission",
}

# A weighted table: values and their cumulative weights, drawn from with one bisect.
Weighted = tuple[tuple[Any, ...], tuple[float, ...]]


def _weighted(weights: Mapping[Any, float]) -> Weighted:
    return tuple(weights), tuple(itertools.accumulate(weights.values()))


def _pick(rng: random.Random, table: Weighted) -> Any:
    values, cum = table
    return values[bisect(cum, rng.random() * cum[-1])]


# --- agencies ---------------------------------------------------------------------------------

# Shares of agency types (about the BJS census of agencies) and how many officers one of each
# employs relative to a town police department.
AGENCY_TYPES = {"police": 0.66, "sheriff": 0.17, "jail": 0.05, "university": 0.07,
                "school": 0.035, "transit": 0.015}
SIZE_FACTOR = {"police": 1.0, "sheriff": 1.6, "jail": 1.3, "university": 0.35, "school": 0.25,
               "transit": 0.8}
STATE_POLICE_SHARE = 0.03
# Rank titles by seniority band (entry, senior, supervisor, command).
RANKS = {
    "police": (("Officer", "Police Officer", "Patrol Officer"), ("Senior Officer", "Corporal",
               "Detective"), ("Sergeant",), ("Lieutenant", "Captain", "Chief of Police")),
    "sheriff": (("Deputy", "Deputy Sheriff"), ("Senior Deputy", "Corporal", "Investigator"),
                ("Sergeant",), ("Lieutenant", "Captain", "Major")),
    "jail": (("Jail Officer", "Correctional Officer"), ("Senior Correctional Officer",),
             ("Sergeant",), ("Lieutenant", "Captain")),
    "state": (("Trooper",), ("Senior Trooper", "Master Trooper"), ("Sergeant", "First Sergeant"),
              ("Lieutenant", "Captain")),
    "university": (("Officer",), ("Senior Officer",), ("Sergeant",), ("Lieutenant", "Chief")),
    "school": (("School Resource Officer", "Officer"), ("Senior Officer",), ("Sergeant",),
               ("Chief",)),
    "transit": (("Transit Officer",), ("Senior Officer", "Detective"), ("Sergeant",),
                ("Lieutenant",)),
}
TOWN_SUFFIXES = ("ville", "burg", "ton", "field", "port", "wood", "dale", "ford", "boro", "land",
                 "view", "bury", "mont", "haven")
TOWN_PREFIXES = ("Mount", "Fort", "Lake", "Port", "New", "East", "West", "North", "South", "Glen")
TOWN_WORDS = ("Springs", "Falls", "Heights", "Hills", "Park", "Grove", "City", "Beach", "Creek",
              "Valley", "Junction", "Bluff", "Ridge", "Harbor")
NATURE = ("Oak", "Cedar", "Pine", "Maple", "Elm", "Willow", "Red", "Green", "Rock", "Clear",
          "Spring", "Bear", "Eagle", "Fox", "Deer", "Silver", "Stone", "Sandy", "Blue", "White")
# Short forms seen for the same agency in source files.
ABBREVIATIONS = (("Police Department", "PD"), ("Police Department", "Police Dept."),
                 ("Sheriff's Office", "SO"), ("Sheriff's Office", "Sheriff's Dept."),
                 ("County", "Co."), ("Regional Jail", "Reg. Jail"))


@dataclass(frozen=True)
class _Agencies:
    ids: list[UUID]
    types: list[str]
    cum_weights: list[float]

    def pick(self, rng: random.Random) -> int:
        return bisect(self.cum_weights, rng.random() * self.cum_weights[-1])


# --- names ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Pool:
    names: tuple[str, ...]
    cum_weights: tuple[float, ...]

    def draw(self, rng: random.Random, k: int) -> list[str]:
        return rng.choices(self.names, cum_weights=self.cum_weights, k=k)


def _latin(name: str) -> bool:
    """Latin script only: other scripts would not be written so in a US registry."""
    return all(ch in " -'" or unicodedata.name(ch, "").startswith("LATIN") for ch in name)


def _mix(*parts: tuple[float, Mapping[str, float] | Sequence[str]]) -> _Pool:
    """One pool from (share, names) parts: a mapping keeps its frequency weights (Faker's
    census-based lists), a plain list is uniform."""
    weights: dict[str, float] = {}
    for share, names in parts:
        if isinstance(names, Mapping):
            total = sum(names.values())
            items = [(n, w / total) for n, w in names.items()]
        else:
            items = [(n, 1 / len(names)) for n in names]
        for n, w in items:
            if _latin(n):
                weights[n] = weights.get(n, 0.0) + share * w
    return _Pool(tuple(weights), tuple(itertools.accumulate(weights.values())))


@dataclass(frozen=True)
class _Origin:
    """Where a family's names come from: first names by sex, surnames, recorded race."""
    male: _Pool
    female: _Pool
    last: _Pool
    races: Weighted
    hispanic: bool = False


@cache
def _origins() -> tuple[tuple[float, ...], tuple[_Origin, ...]]:
    from faker.providers.person import (
        cs_CZ,
        de_DE,
        en_GB,
        en_IE,
        en_IN,
        en_US,
        es_CO,
        es_ES,
        es_MX,
        fr_FR,
        it_IT,
        pt_BR,
        vi_VN,
    )

    us = en_US.Provider
    european = (en_GB, en_IE, de_DE, it_IT, fr_FR)
    # The long tail of American surnames: ~5,500 names from several locales, uniform.
    tail = [n for loc in (*european, cs_CZ, pt_BR) for n in loc.Provider.last_names]
    eu_male = [n for loc in european for n in loc.Provider.first_names_male]
    eu_female = [n for loc in european for n in loc.Provider.first_names_female]
    white = _weighted({"White": 76, "Black": 20, "Asian": 1, "Other": 3})
    origins = (
        # Census top-1000 surnames are ~40% of people: Smith ends near its real 0.8%.
        (0.47, _Origin(_mix((1, us.first_names_male)), _mix((1, us.first_names_female)),
                       _mix((0.8, us.last_names), (0.2, tail)), white)),
        (0.30, _Origin(_mix((0.85, us.first_names_male), (0.15, eu_male)),
                       _mix((0.85, us.first_names_female), (0.15, eu_female)),
                       _mix((1, tail)), _weighted({"White": 1}))),
        (0.18, _Origin(
            _mix((0.45, es_CO.Provider.first_names_male), (0.15, es_MX.Provider.first_names_male),
                 (0.1, es_ES.Provider.first_names_male), (0.3, us.first_names_male)),
            _mix((0.45, es_CO.Provider.first_names_female),
                 (0.15, es_MX.Provider.first_names_female),
                 (0.1, es_ES.Provider.first_names_female), (0.3, us.first_names_female)),
            _mix((0.55, es_CO.Provider.last_names), (0.3, es_MX.Provider.last_names),
                 (0.15, es_ES.Provider.last_names)),
            _weighted({"Hispanic": 85, "White": 12, "Black": 3}), hispanic=True)),
        (0.015, _Origin(_mix((1, en_IN.Provider.first_names_male)),
                        _mix((1, en_IN.Provider.first_names_female)),
                        _mix((1, en_IN.Provider.last_names)), _weighted({"Asian": 1}))),
        (0.015, _Origin(_mix((0.6, vi_VN.Provider.first_names_male), (0.4, us.first_names_male)),
                        _mix((0.6, vi_VN.Provider.first_names_female),
                             (0.4, us.first_names_female)),
                        _mix((1, vi_VN.Provider.last_names)), _weighted({"Asian": 1}))),
    )
    shares, pools = zip(*origins, strict=True)
    return tuple(itertools.accumulate(shares)), pools


@cache
def _place_surnames() -> tuple[str, ...]:
    """Surnames that American towns and counties are named after."""
    from faker.providers.person import en_GB, en_US

    return tuple(dict.fromkeys((*en_US.Provider.last_names, *en_GB.Provider.last_names)))


NICKNAMES = {
    "William": ("Bill", "Will", "Billy"), "Robert": ("Bob", "Rob", "Bobby"),
    "James": ("Jim", "Jimmy"), "John": ("Jack", "Johnny"), "Michael": ("Mike",),
    "Richard": ("Rick", "Rich", "Dick"), "Joseph": ("Joe", "Joey"), "Thomas": ("Tom", "Tommy"),
    "Christopher": ("Chris",), "Daniel": ("Dan", "Danny"), "Matthew": ("Matt",),
    "Anthony": ("Tony",), "Charles": ("Chuck", "Charlie"), "Edward": ("Ed", "Eddie", "Ted"),
    "Steven": ("Steve",), "Stephen": ("Steve",), "Kenneth": ("Ken", "Kenny"),
    "Timothy": ("Tim",), "Jonathan": ("Jon",), "Nicholas": ("Nick",), "Benjamin": ("Ben",),
    "Samuel": ("Sam",), "Gregory": ("Greg",), "Jeffrey": ("Jeff",), "Ronald": ("Ron",),
    "Donald": ("Don",), "Douglas": ("Doug",), "Patrick": ("Pat",), "Alexander": ("Alex",),
    "Zachary": ("Zach",), "Gerald": ("Jerry",), "Lawrence": ("Larry",), "Raymond": ("Ray",),
    "Elizabeth": ("Liz", "Beth", "Betsy"), "Jennifer": ("Jen", "Jenny"),
    "Katherine": ("Kate", "Katie"), "Catherine": ("Cathy", "Kate"), "Kimberly": ("Kim",),
    "Patricia": ("Pat", "Trish"), "Margaret": ("Peggy", "Maggie"), "Rebecca": ("Becky",),
    "Jessica": ("Jess",), "Deborah": ("Debbie", "Deb"), "Susan": ("Sue",),
    "Victoria": ("Vicky",), "Samantha": ("Sam",), "Christina": ("Tina",),
    "Stephanie": ("Steph",), "Kathleen": ("Kathy",), "Jacqueline": ("Jackie",),
    "Francisco": ("Paco", "Frank"), "José": ("Pepe", "Joe"), "Jose": ("Joe",),
    "Guadalupe": ("Lupe",), "Roberto": ("Beto",), "Alejandro": ("Alex",),
    "Eduardo": ("Eddie", "Lalo"),
}
SUFFIXES = _weighted({"Jr.": 33, "Jr": 22, "Sr.": 12, "II": 15, "III": 13, "IV": 5})
SEXES = _weighted({"male": 85, "female": 14, "unknown": 0.5, None: 0.5})


@cache
def _ascii(name: str) -> str:
    """The name as many US records write it: accents dropped."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _misspell(rng: random.Random, name: str) -> str:
    """A clerk's typo: two letters swapped, one dropped or one doubled."""
    if len(name) < 4:
        return name + name[-1]
    i = 1 + int(rng.random() * (len(name) - 2))
    r = rng.random()
    if r < 0.4 and name[i] != name[i + 1]:
        return name[:i] + name[i + 1] + name[i] + name[i + 2:]
    if r < 0.7:
        return name[:i] + name[i + 1:]
    return name[:i] + name[i] + name[i:]


# --- careers and certifications ---------------------------------------------------------------

# Why a stint ended when the officer moved on to another agency, and when the career ended.
MOVE_ON = _weighted({
    "resigned": 52, "transferred": 33, "retired": 2, "terminated": 3.5,
    "resigned_in_lieu_of_termination": 1.5, "resigned_under_investigation": 0.9,
    "retired_under_investigation": 0.1, "laid_off": 2, "other": 5})
LEAVE_YOUNG = _weighted({
    "resigned": 60, "transferred": 12, "retired": 6, "terminated": 5,
    "resigned_in_lieu_of_termination": 2, "resigned_under_investigation": 1.2, "deceased": 0.8,
    "laid_off": 3, "other": 10})
LEAVE_OLD = _weighted({
    "retired": 65, "resigned": 18, "transferred": 4.5, "terminated": 2,
    "resigned_in_lieu_of_termination": 1, "resigned_under_investigation": 0.7,
    "retired_under_investigation": 0.8, "deceased": 2, "laid_off": 1, "other": 5})
# The separations a revocation or a voluntary surrender follows.
MISCONDUCT = {
    "revoke": _weighted({
        "terminated": 60, "resigned_in_lieu_of_termination": 20,
        "resigned_under_investigation": 15, "retired_under_investigation": 5}),
    "surrender": _weighted({
        "resigned_under_investigation": 50, "resigned_in_lieu_of_termination": 30,
        "retired_under_investigation": 20}),
}
# Board actions per officer: revocation 0.5%, voluntary surrender 0.2%, suspension 0.2%.
FATES = ((0.005, "revoke"), (0.007, "surrender"), (0.009, "suspend"))
FATE_REASONS = {
    "revoke": ("Final order: decertified after termination for untruthfulness",
               "Final order: decertified after a felony conviction",
               "Final order: decertified for excessive use of force",
               "Final order: decertified for sexual misconduct",
               "Final order: decertified after a misdemeanor domestic assault conviction"),
    "surrender": ("Certification voluntarily surrendered during a decertification case",),
    "suspend": ("Final order: suspension for failure to complete required training",
                "Final order: suspension for a sustained finding of misconduct"),
}
SECOND_LEVELS = _weighted({"advanced": 45, "supervisor": 25, "instructor": 20,
                           "intermediate": 10})
# Stints per career, before the career is cut short by AS_OF: 1 to 5, about three.
STINT_COUNTS = (6, 18, 40, 68, 100)
INSTRUCTOR_TERM = 1096  # instructor certificates expire every three years unless renewed
TO_STATUS = {"inactivate": "inactive", "lapse": "lapsed", "reactivate": "active",
             "revoke": "revoked", "surrender": "surrendered", "suspend": "suspended"}

YEAR = 365.25
AS_OF_DAY = AS_OF.toordinal()

# An event: (action, from_status, to_status, effective_on, until_on, expires_on, reason), with
# dates as ordinals until the row is built.
Event = tuple[str, str | None, str, int, int | None, int | None, str | None]
# A stint: (agency index, started ordinal, ended ordinal or None, separation reason or None).
Stint = tuple[int, int, int | None, str | None]

# --- findings and convictions -----------------------------------------------------------------

# The separations that follow misconduct: behind each, the agency sustained a finding.
MISCONDUCT_SEPARATIONS = frozenset({"terminated", "resigned_in_lieu_of_termination",
                                    "resigned_under_investigation",
                                    "retired_under_investigation"})
# What such a finding was about: the categories the statutory grounds name.
SERIOUS = _weighted({"force": 30, "dishonesty": 28, "sexual_misconduct": 12,
                     "criminal_conduct": 17, "abuse_of_power": 13})
# Officers with findings besides a misconduct separation (a quarter of those separated so had
# earlier ones); how many each has, all in one stint; a few are repeat subjects.
BACKGROUND_SHARE = 0.04
BACKGROUND_AFTER_MISCONDUCT = 0.25
BACKGROUND_COUNTS = _weighted({1: 62, 2: 22, 3: 9, 4: 4, 5: 3})
REPEAT_SHARE, SUSTAINED_RATE, REPEAT_SUSTAINED_RATE = 0.08, 0.15, 0.5
BACKGROUND = _weighted({"force": 30, "other": 27, "abuse_of_power": 12, "bias": 9,
                        "dishonesty": 8, "criminal_conduct": 5, "failure_to_intervene": 5,
                        "sexual_misconduct": 4})
NOT_SUSTAINED = _weighted({"not_sustained": 43, "exonerated": 26, "unfounded": 26,
                           "policy_failure": 5})
DISCIPLINES = _weighted({"reprimand": 44, "suspension": 32, "retraining": 16, "none": 4,
                         "demotion": 4})
SUSPENSION_DAYS = _weighted({1: 10, 2: 10, 3: 14, 5: 18, 10: 16, 15: 8, 20: 8, 30: 8, 45: 4,
                             60: 3, 90: 1})
# What the complaint said, by category.
SUMMARIES = {
    "force": ("Excessive force during an arrest", "Taser used on a handcuffed subject",
              "Strikes to a subject already restrained",
              "Unreported use of force during a traffic stop"),
    "dishonesty": ("Untruthful statements in an internal investigation",
                   "False entries in an arrest report", "Falsified overtime records",
                   "Untruthful testimony in court"),
    "sexual_misconduct": ("Sexual contact with a person in custody",
                          "Sexual harassment of a coworker",
                          "Sexual advances to a motorist during a traffic stop"),
    "bias": ("Racial slurs during a call for service", "Bias-based stop of a motorist",
             "Offensive posts on social media"),
    "criminal_conduct": ("Theft of seized property", "Domestic assault, off duty",
                         "Possession of a controlled substance, off duty",
                         "Driving under the influence, off duty"),
    "abuse_of_power": ("Unlawful search of a residence",
                       "Use of position to settle a private dispute",
                       "Arrest without probable cause", "Threats to a complainant"),
    "failure_to_intervene": ("Failed to intervene in another officer's use of force",
                             "Failed to report another officer's misconduct"),
    "other": ("Discourtesy to a member of the public", "Neglect of duty",
              "Unauthorized secondary employment", "Body-worn camera not activated",
              "Insubordination"),
}
# The charge a sustained finding may also bring, and how often: (offense, level, domestic
# violence). Most meet the conviction ground; driving under the influence does not.
CHARGES = {
    "Theft of seized property": ("Embezzlement", "felony", False),
    "Domestic assault, off duty": ("Assault and battery against a family or household member",
                                   "misdemeanor", True),
    "Possession of a controlled substance, off duty": ("Possession of a controlled substance",
                                                       "felony", False),
    "Driving under the influence, off duty": ("Driving under the influence", "misdemeanor",
                                              False),
    "Sexual contact with a person in custody": ("Carnal knowledge of an inmate", "felony",
                                                False),
    "Untruthful testimony in court": ("Perjury", "felony", False),
    "False entries in an arrest report": ("False statement on a public record", "misdemeanor",
                                          False),
    "Strikes to a subject already restrained": ("Assault and battery", "misdemeanor", False),
}
CHARGED_SHARE = 0.5




def _uuid_stream(rng: random.Random) -> Iterator[UUID]:
    """Random version-4 UUIDs from the seeded generator (so a seed gives the same ids), made
    4,096 at a time: one ``randbytes`` call and two byte translations set the version bits."""
    while True:
        raw = bytearray(rng.randbytes(16 * 4096))
        raw[6::16] = raw[6::16].translate(_VERSION_4)
        raw[8::16] = raw[8::16].translate(_VARIANT)
        data = bytes(raw)
        yield from (UUID(data[i:i + 16]) for i in range(0, len(data), 16))


_VERSION_4 = bytes((b & 0x0F) | 0x40 for b in range(256))
_VARIANT = bytes((b & 0x3F) | 0x80 for b in range(256))


@cache
def _reported(day: int) -> datetime:
    """When an agency reported what happened on ``day``: a few days later, in office hours."""
    return datetime.fromordinal(day + 3).replace(hour=15, tzinfo=UTC)


@dataclass
class _Context:
    """What every chunk of officers shares, read-only."""
    officers: int
    state: str
    seed: int
    agencies: _Agencies
    now: datetime

    @property
    def board(self) -> str:
        return BOARDS.get(self.state, f"{self.state} POST Board")


class _Chunk:
    """The rows of officers ``index * CHUNK`` onwards, from the chunk's own generator."""

    def __init__(self, ctx: _Context, index: int) -> None:
        self.ctx = ctx
        self.rng = random.Random(f"{ctx.seed}/{index}")
        self.ids = _uuid_stream(self.rng)
        # Findings and convictions: their own generator, so the other tables stay as they were.
        self.frng = random.Random(f"{ctx.seed}/{index}/findings")
        self.fids = _uuid_stream(self.frng)
        self.rows: dict[str, list[tuple]] = {t: [] for t in PER_OFFICER}
        self.serial = index * CHUNK * 2  # certificate numbers: at most two per officer
        self.board = ctx.board
        first = index * CHUNK
        n = min(CHUNK, ctx.officers - first)
        rng = self.rng
        origin_cum, origins = _origins()
        # Names in batches: one weighted draw per (origin, sex) group, not one per person.
        sexes = rng.choices(SEXES[0], cum_weights=SEXES[1], k=n)
        origin_of = [bisect(origin_cum, rng.random() * origin_cum[-1]) for _ in range(n)]
        groups: dict[tuple[int, bool], list[int]] = {}
        for i in range(n):
            groups.setdefault((origin_of[i], sexes[i] == "female"), []).append(i)
        names: list[tuple[str, str, str, str]] = [("", "", "", "")] * n
        for (o, female), members in groups.items():
            pool = origins[o].female if female else origins[o].male
            k = len(members)
            drawn = zip(pool.draw(rng, k), pool.draw(rng, k), origins[o].last.draw(rng, k),
                        origins[o].last.draw(rng, k), strict=True)
            for i, four in zip(members, drawn, strict=True):
                names[i] = four
        for i in range(n):
            self._officer(first + i, sexes[i], origins[origin_of[i]], *names[i])

    def _officer(self, number: int, sex: str | None, origin: _Origin, first: str, middle: str,
                 last: str, other: str) -> None:
        r, ctx = self.rng.random, self.ctx
        oid = next(self.ids)
        if r() < 0.5:  # half the records drop accents, as many US systems do
            first, middle, last, other = _ascii(first), _ascii(middle), _ascii(last), _ascii(other)
        middle_name: str | None = None
        if r() < 0.7:
            middle_name = middle if r() < 0.7 else middle[0] + ("." if r() < 0.2 else "")
        female = sex == "female"
        compound = r()
        if compound < (0.1 if female else 0.012) and other != last:
            last = f"{other}-{last}"  # her own and her spouse's surname, or a family's double
        elif compound > 0.97 and origin.hispanic and other != last:
            last = f"{last} {other}"  # paternal and maternal surnames, unhyphenated
        suffix = _pick(self.rng, SUFFIXES) if not female and r() < 0.035 else None

        year = min(int(self.rng.triangular(1950, 2004, 1985)), 2003)
        born = date(year, 1, 1).toordinal() + int(r() * 365)
        birth = date.fromordinal(born)
        partial = r()
        self.rows["officers"].append((
            oid, oid, f"{self.rng.getrandbits(64):016x}", first, middle_name, last, suffix,
            name_key(first, middle_name, last, suffix), sort_key(first, middle_name, last),
            birth.year, None if partial < 0.05 else birth.month,
            None if partial < 0.08 else birth.day,
            f"{ctx.state}{number + 1:08d}" if r() < 0.97 else None, sex,
            _pick(self.rng, origin.races) if r() < 0.85 else None, 1, ctx.now, RECORDED_BY))
        self._other_names(oid, first, middle_name, last, suffix, other, born, female)

        roll = r()
        fate = next((f for p, f in FATES if roll < p), None)
        stints = self._career(born)
        if fate in MISCONDUCT:
            stints = self._misconduct_end(stints, fate)  # type: ignore[arg-type]
        self._stint_rows(oid, stints)
        self._certifications(oid, stints, fate)
        self._findings(oid, stints)

    def _findings(self, oid: UUID, stints: list[Stint]) -> None:
        """The finding behind a career that ended in a misconduct separation, and a background
        of complaints, each investigated by the agency employing the officer at the time."""
        r = self.frng.random
        agency, start, end, reason = stints[-1]
        misconduct = end is not None and reason in MISCONDUCT_SEPARATIONS
        if misconduct:
            assert end is not None
            incident = max(start, end - 14 - int(r() * 400))
            category = _pick(self.frng, SERIOUS)
            if reason == "terminated":
                self._finding(oid, agency, incident, min(end + int(r() * 21), AS_OF_DAY),
                              category, "sustained", "termination")
            else:
                # Completed after the officer left: "none" (no discipline can follow); when
                # it would end after AS_OF it is still pending, reported at the separation.
                completed = end + 30 + int(r() * 330)
                if completed <= AS_OF_DAY:
                    self._finding(oid, agency, incident, completed, category, "sustained",
                                  "none", after_separation=True)
                else:
                    self._finding(oid, agency, incident, end, category, "pending", None)
        if r() >= (BACKGROUND_AFTER_MISCONDUCT if misconduct else BACKGROUND_SHARE):
            return
        agency, start, end, _ = stints[int(r() * len(stints))]
        stop = end if end is not None else AS_OF_DAY
        sustained_rate = REPEAT_SUSTAINED_RATE if r() < REPEAT_SHARE else SUSTAINED_RATE
        for _ in range(_pick(self.frng, BACKGROUND_COUNTS)):
            incident = start + int(r() * (stop - start + 1))
            completed = incident + 30 + int(r() * 335)
            category = _pick(self.frng, BACKGROUND)
            # Closed after the officer left: no discipline can follow.
            left = end is not None and completed > end
            if completed > AS_OF_DAY:
                reported = min(incident + 7 + int(r() * 30), AS_OF_DAY)
                self._finding(oid, agency, incident, reported, category, "pending", None)
            elif r() < sustained_rate:
                self._finding(oid, agency, incident, completed, category, "sustained",
                              "none" if left else _pick(self.frng, DISCIPLINES),
                              after_separation=left)
            else:
                disposition = _pick(self.frng, NOT_SUSTAINED)
                # Now and then the investigator recommended sustaining; the chief did not.
                recommended = "sustained" if r() < 0.08 else disposition
                self._finding(oid, agency, incident, completed, category, disposition, None,
                              recommended=recommended, after_separation=left)

    def _finding(self, oid: UUID, agency: int, incident: int, reported: int, category: str,
                 disposition: str, discipline: str | None, *, recommended: str | None = None,
                 after_separation: bool = False) -> None:
        r, ctx = self.frng.random, self.ctx
        sustained = disposition == "sustained"
        days = _pick(self.frng, SUSPENSION_DAYS) if discipline == "suspension" else None
        summaries = SUMMARIES[category]
        summary = summaries[int(r() * len(summaries))]
        aid = ctx.agencies.ids[agency]
        self.rows["findings"].append((
            next(self.fids), oid, aid, date.fromordinal(incident), date.fromordinal(reported),
            category, recommended or disposition, disposition, discipline, days,
            after_separation, sustained and r() < 0.7, summary, 1, ctx.now, RECORDED_BY))
        charge = CHARGES.get(summary)
        if sustained and charge is not None and r() < CHARGED_SHARE:
            convicted = incident + 120 + int(r() * 600)
            if convicted <= AS_OF_DAY:
                offense, level, domestic = charge
                self.rows["convictions"].append((
                    next(self.fids), oid, aid, offense, level, domestic,
                    date.fromordinal(convicted), None, 1, ctx.now, RECORDED_BY))

    def _other_names(self, oid: UUID, first: str, middle: str | None, last: str,
                     suffix: str | None, other: str, born: int, female: bool) -> None:
        r = self.rng.random
        rows = self.rows["officer_names"]
        # When the name changed: between 20 and 40, and before AS_OF.
        adult = born + int(20 * YEAR)
        changed = date.fromordinal(adult + int(r() * min(20 * YEAR, AS_OF_DAY - 30 - adult)))
        if female and r() < 0.55:
            # A married woman's maiden name: the first half of a hyphenated surname, or another.
            before = last.split("-")[0] if "-" in last else other
            if before != last:
                rows.append((next(self.ids), oid, "maiden", first, middle, before, None,
                             name_key(first, middle, before, None), changed, self.ctx.now,
                             RECORDED_BY))
        elif r() < 0.03 and other != last:  # a prior legal name: divorce, adoption...
            rows.append((next(self.ids), oid, "prior", first, middle, other, suffix,
                         name_key(first, middle, other, suffix), changed, self.ctx.now,
                         RECORDED_BY))
        if r() < 0.03:
            nick = NICKNAMES.get(first)
            if nick:
                alias_first, alias_last = nick[int(r() * len(nick))], last
            else:
                alias_first, alias_last = first, _misspell(self.rng, last)
            rows.append((next(self.ids), oid, "alias", alias_first, None, alias_last, suffix,
                         name_key(alias_first, None, alias_last, suffix), None, self.ctx.now,
                         RECORDED_BY))

    def _career(self, born: int) -> list[Stint]:
        """1-5 stints in time order, never overlapping (a return to the same agency is a new
        stint). The last is open when the officer still works there on AS_OF."""
        rng, r = self.rng, self.rng.random
        age = (AS_OF_DAY - born) / YEAR
        employed = r() < (0.7 if age < 55 else 0.45 if age < 63 else 0.05)
        planned = bisect(STINT_COUNTS, r() * STINT_COUNTS[-1]) + 1
        start = born + int((21 + min(rng.expovariate(1 / 4), 24)) * YEAR)
        start = max(min(start, AS_OF_DAY - 30 - int(r() * 700)), born + int(20.5 * YEAR))
        stints: list[Stint] = []
        for k in range(planned):
            agency = self.ctx.agencies.pick(rng)
            end = start + max(30, int(rng.lognormvariate(7.3, 0.9)))  # median four years
            if end >= AS_OF_DAY or (k == planned - 1 and employed):
                stints.append((agency, start, None, None))
                break
            gap = _gap(rng)
            age_then = (end - born) / YEAR
            ends_career = k == planned - 1 or end + gap >= AS_OF_DAY or age_then >= 62
            table = (LEAVE_OLD if age_then >= 50 else LEAVE_YOUNG) if ends_career else MOVE_ON
            stints.append((agency, start, end, _pick(rng, table)))
            if ends_career:
                break
            start = end + gap
        return stints

    def _misconduct_end(self, stints: list[Stint], fate: str) -> list[Stint]:
        """End the career with a separation that the revocation or surrender follows."""
        agency, start, end, _ = stints[-1]
        if end is None:
            room = AS_OF_DAY - 120 - start
            if room <= 0:
                return stints  # hired too recently to have been decertified already
            end = start + int(self.rng.random() * room)
        return [*stints[:-1], (agency, start, end, _pick(self.rng, MISCONDUCT[fate]))]

    def _stint_rows(self, oid: UUID, stints: list[Stint]) -> None:
        r, agencies, now = self.rng.random, self.ctx.agencies, self.ctx.now
        for agency, start, end, reason in stints:
            aid = agencies.ids[agency]
            # Rank rises with years in policing: a band per five years, some promoted early.
            seniority = (start - stints[0][1]) / YEAR
            band = RANKS[agencies.types[agency]][min(3, int(seniority / 5) + (r() < 0.2))]
            self.rows["stints"].append((
                next(self.ids), oid, aid, band[int(r() * len(band))] if r() < 0.9 else None,
                date.fromordinal(start), date.fromordinal(end) if end is not None else None,
                reason, aid, min(_reported(end if end is not None else start), now), 1, now,
                RECORDED_BY))

    def _certifications(self, oid: UUID, stints: list[Stint], fate: str | None) -> None:
        r = self.rng.random
        first_agency, start, end, _ = stints[0]
        jail = self.ctx.agencies.types[first_agency] == "jail"
        discipline = ("jail" if r() < 0.5 else "corrections") if jail else "law_enforcement"
        # The basic certificate comes with the academy, in the first months of the first job.
        issued = min(start + 30 + int(r() * 300), end if end is not None else AS_OF_DAY)
        certs = [(discipline, "basic", issued)]
        if r() < 0.4:
            certs.extend(self._later_certificate(stints, discipline, issued))
        career_end = stints[-1][2]
        order_day = None
        if fate in MISCONDUCT and stints[-1][3] in MISCONDUCT[fate][0]:
            order_day = min(AS_OF_DAY, career_end + 60 + int(r() * 700))  # type: ignore[operator]
        elif fate == "suspend":
            order_day = AS_OF_DAY - 10 - int(r() * 300)
        for discipline, level, issued in certs:
            if level == "instructor":
                events = self._instructor_events(issued, stints)
            else:
                events = self._employment_events(issued, stints)
            if fate is not None and order_day is not None:
                events = self._final_order(events, fate, order_day)
            self._certification_rows(oid, discipline, level, issued, events)

    def _later_certificate(self, stints: list[Stint], discipline: str, first_issued: int
                           ) -> list[tuple[str, str, int]]:
        """A higher certificate earned during one of the stints, two or more years in."""
        _, start, end, _ = stints[int(self.rng.random() * len(stints))]
        stop = end if end is not None else AS_OF_DAY
        issued = start + int((0.2 + 0.7 * self.rng.random()) * (stop - start))
        if issued < first_issued + 730:
            return []
        return [(discipline, _pick(self.rng, SECOND_LEVELS), issued)]

    def _employment_events(self, issued: int, stints: list[Stint]) -> list[Event]:
        """A certificate that stays active while its holder is employed: inactive some weeks
        after a separation, lapsed after two years out, active again on rehire."""
        r = self.rng.random
        events: list[Event] = [("issue", None, "active", issued, None, None, None)]
        for k, (_, _, end, _) in enumerate(stints):
            if end is None or end < issued:
                continue
            rehired = stints[k + 1][1] if k + 1 < len(stints) else None
            away = (rehired if rehired is not None else AS_OF_DAY + 1) - end
            inactive_on = end + 14 + int(r() * 76)
            # A lateral move of under six months keeps the certificate active.
            if inactive_on > AS_OF_DAY or (rehired is not None and away <= 180):
                continue
            _move(events, "inactivate", inactive_on, "No longer employed by a certifying agency")
            if away > 760:
                _move(events, "lapse", end + 730 + int(r() * 25),
                      "Two years without employment by a certifying agency")
            if rehired is not None:
                _move(events, "reactivate", rehired, "Employed by a certifying agency")
        return events

    def _instructor_events(self, issued: int, stints: list[Stint]) -> list[Event]:
        """Instructor certificates expire every three years: a holder in service renews a
        few weeks before, anyone else lets it lapse."""
        expires = issued + INSTRUCTOR_TERM
        events: list[Event] = [("issue", None, "active", issued, None, expires, None)]
        while expires <= AS_OF_DAY:
            renewed = expires - 10 - int(self.rng.random() * 50)
            if not any(s <= renewed and (e is None or renewed <= e) for _, s, e, _ in stints):
                _move(events, "lapse", expires,
                      "Instructor certification not renewed before it expired")
                break
            expires += INSTRUCTOR_TERM
            events.append(("renew", "active", "active", renewed, None, expires, None))
        return events

    def _final_order(self, events: list[Event], fate: str, day: int) -> list[Event]:
        """The board's move on ``day``: administrative moves after it never happened."""
        kept = [e for e in events if e[3] < day]
        if not kept or (fate == "suspend" and kept[-1][2] not in ("active", "inactive")):
            return events  # not yet issued, or lapsed (a lapsed certificate is not suspended)
        until = AS_OF_DAY + 30 + int(self.rng.random() * 500) if fate == "suspend" else None
        reasons = FATE_REASONS[fate]
        _move(kept, fate, day, reasons[int(self.rng.random() * len(reasons))], until)
        return kept

    def _certification_rows(self, oid: UUID, discipline: str, level: str, issued: int,
                            events: list[Event]) -> None:
        now, state = self.ctx.now, self.ctx.state
        cid = next(self.ids)
        self.serial += 1
        expires, since = None, issued
        for action, _, _, day, _, event_expires, _ in events:
            if event_expires is not None:
                expires = event_expires
            if action != "renew":  # a renewal moves the expiry date, not the status
                since = day
        _, _, status, _, until, _, _ = events[-1]
        self.rows["certifications"].append((
            cid, oid, state, f"{state}-{self.serial:07d}", self.board, discipline, level,
            date.fromordinal(issued), _day(expires), status, date.fromordinal(since),
            _day(until) if status == "suspended" else None, 1, now, RECORDED_BY))
        for action, from_status, to_status, day, until, event_expires, reason in events:
            self.rows["certification_status_events"].append((
                next(self.ids), cid, action, from_status, to_status, date.fromordinal(day),
                _day(until), _day(event_expires), reason, now, RECORDED_BY))


def _day(ordinal: int | None) -> date | None:
    return date.fromordinal(ordinal) if ordinal is not None else None


def _move(events: list[Event], action: str, day: int, reason: str, until: int | None = None
          ) -> None:
    """Append a status move from the status the last event left."""
    events.append((action, events[-1][2], TO_STATUS[action], day, until, None, reason))


def _gap(rng: random.Random) -> int:
    """Days between two stints: mostly a lateral move, sometimes years out of policing."""
    r = rng.random()
    if r < 0.7:
        return 1 + int(rng.random() * 45)
    if r < 0.95:
        return 45 + int(rng.random() * 650)
    return 730 + int(rng.random() * 2200)


# --- agencies ---------------------------------------------------------------------------------

MAX_AGENCIES = 99_900  # distinct ORIs of the form SS + county (3 digits) + agency (2) + "00"


def _agency_rows(rng: random.Random, n: int, state: str, now: datetime
                 ) -> tuple[list[tuple], _Agencies]:
    """The state police, then town, county, campus, school and transit agencies with names
    unique in the state (folded, as the unique key compares them) and sizes spread like real
    ones: log-normal, so a few big agencies employ a large share of all officers."""
    state_name = STATE_NAMES.get(state, state)
    types = ["state", *rng.choices(tuple(AGENCY_TYPES), tuple(AGENCY_TYPES.values()), k=n - 1)]
    seen: set[str] = set()
    counties: list[str] = []
    codes = list(range(n))
    rng.shuffle(codes)
    rows: list[tuple] = []
    ids: list[UUID] = []
    weights: list[float] = []
    id_stream = _uuid_stream(rng)
    for kind, code in zip(types, codes, strict=True):
        for _ in range(1000):  # redraw until the name is new in the state
            name, county = _agency_name(rng, kind, state_name, counties)
            if fold(name) not in seen:
                break
        else:
            raise ValueError(f"ran out of distinct agency names after {len(seen):,}")
        seen.add(fold(name))
        if kind == "sheriff":
            counties.append(county)
        short = [name.replace(long, abbr) for long, abbr in ABBREVIATIONS if long in name]
        aliases = [short[int(rng.random() * len(short))]] if short and rng.random() < 0.25 else []
        ori = f"{state}{code // 100 + 1:03d}{code % 100:02d}00"
        if kind != "state" and rng.random() < 0.02:
            ori = None  # not every agency has an NCIC identifier on file
        ids.append(next(id_stream))
        rows.append((ids[-1], state, ori, name, fold(name), aliases, kind, 1, now, RECORDED_BY))
        weights.append(rng.lognormvariate(0, 1.6) * SIZE_FACTOR.get(kind, 1.0))
    others = sum(weights[1:])
    if others:
        weights[0] = others * STATE_POLICE_SHARE / (1 - STATE_POLICE_SHARE)
    return rows, _Agencies(ids, types, list(itertools.accumulate(weights)))


def _agency_name(rng: random.Random, kind: str, state_name: str, counties: list[str]
                 ) -> tuple[str, str]:
    """A name for an agency of ``kind``, and the county it is named after (if any)."""
    r = rng.random
    places = _place_surnames()

    def one(values: Sequence[str]) -> str:
        return values[int(r() * len(values))]

    def town() -> str:
        x = r()
        if x < 0.45:
            return one(places) + one(TOWN_SUFFIXES)
        if x < 0.65:
            return f"{one(TOWN_PREFIXES)} {one(places)}"
        if x < 0.85:
            return f"{one(places)} {one(TOWN_WORDS)}"
        return f"{one(NATURE)} {one(TOWN_WORDS)}"

    # Sheriffs name the counties (after people, or like towns); county jails and school
    # police mostly serve one of them.
    if kind == "sheriff" or not counties or r() < 0.3:
        county = one(places) if r() < 0.6 else town()
    else:
        county = one(counties)
    x = r()
    if kind == "state":
        return f"{state_name} State Police", county
    if kind == "sheriff":
        office = "Sheriff's Office" if x < 0.85 else "Sheriff's Department"
        return f"{county} County {office}", county
    if kind == "jail":
        if x < 0.5:
            return f"{county} County Jail", county
        if x < 0.8:
            region = f"{one(NATURE)} {one(TOWN_WORDS)}" if r() < 0.5 else f"{county}-{one(places)}"
            return f"{region} Regional Jail", county
        return f"{county} County Adult Detention Center", county
    if kind == "university":
        if x < 0.4:
            return f"{town()} University Police Department", county
        if x < 0.75:
            return f"{town()} Community College Police Department", county
        if x < 0.9:
            return f"University of {state_name} at {town()} Police Department", county
        return f"{one(places)} College Campus Police", county
    if kind == "school":
        if x < 0.6:
            return f"{county} County Public Schools Police Department", county
        return f"{town()} Independent School District Police Department", county
    if kind == "transit":
        if x < 0.6:
            return f"{town()} Transit Authority Police Department", county
        return f"{town()} Metropolitan Transit Police", county
    if x < 0.06:
        return f"{county} County Police Department", county
    return f"{town()} Police {'Department' if x < 0.97 else 'Division'}", county


# --- loading ----------------------------------------------------------------------------------

# Indexes that only speed up reads: not primary keys, not unique, not behind a constraint.
# Unique and exclusion constraints keep their indexes, so COPY checks them row by row. (Adding
# the stints exclusion constraint back after the load was measured no faster: the GiST build
# takes a second, but checking every row against it takes as long as the COPY did.)
SECONDARY_INDEXES = """
SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
WHERE t.relnamespace = current_schema()::regnamespace AND t.relname = ANY($1::text[])
  AND NOT i.indisunique AND NOT i.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
ORDER BY t.relname, 1
"""


def _quiet(phase: str, done: int, total: int) -> None:
    """The default progress callback: report nothing."""


@contextmanager
def _timer(spent: dict[str, float], key: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    spent[key] = spent.get(key, 0.0) + time.perf_counter() - started


async def generate(
    conn: asyncpg.Connection, *, officers: int, agencies: int, state: str = "VA", seed: int = 7,
    progress: Progress | None = None, fast: bool = False,
    timings: dict[str, float] | None = None,
) -> dict[str, int]:
    """Load a synthetic state into empty tables in one transaction; return rows per table.

    Memory stays bounded: officers are made and copied ``CHUNK`` at a time, the next chunk
    built in a thread while the server ingests the current one. ``progress(phase, done,
    total)`` is called for the phases agencies, officers, indexes (fast only) and analyze.

    ``fast`` is for large loads as a superuser: triggers and foreign-key checks are off during
    COPY (``session_replication_role = replica``; ``recorded_at`` is set to the transaction's
    ``now()``, as the stamping trigger would), and the secondary indexes are dropped first
    and rebuilt at the end, which beats maintaining them row by row. Primary keys, unique and
    exclusion constraints stay and are checked; the foreign keys hold by construction.

    ``timings``, when given, receives seconds per phase: the COPYs per table, ``generate``
    (Python, overlapping the COPYs), ``drop indexes``, ``index <name>`` and ``analyze``.
    """
    state = state.upper()
    if state not in STATE_CODES:
        raise ValueError(f"{state!r} is not a US state code")
    if officers < 1 or not 1 <= agencies <= MAX_AGENCIES:
        raise ValueError(f"need at least one officer and 1 to {MAX_AGENCIES:,} agencies")
    report = progress or _quiet
    spent = timings if timings is not None else {}
    counts = dict.fromkeys(TABLES, 0)
    async with conn.transaction():
        for table in TABLES:
            if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table})"):
                raise ValueError(f"{table} already has rows; a synthetic state loads into "
                                 "empty tables only")
        now: datetime = await conn.fetchval("SELECT now()")
        indexes: list[asyncpg.Record] = []
        if fast:
            await conn.execute("SET LOCAL session_replication_role = replica")
            with _timer(spent, "drop indexes"):
                indexes = await conn.fetch(SECONDARY_INDEXES, [*TABLES, "match_keys"])
                for name, _ in indexes:
                    await conn.execute(f"DROP INDEX {name}")
        rows, picker = _agency_rows(random.Random(f"{seed}/agencies"), agencies, state, now)
        await _copy(conn, "agencies", rows, counts, spent)
        report("agencies", agencies, agencies)
        await _load_officers(conn, _Context(officers, state, seed, picker, now), counts, spent,
                             report)
        if fast:
            # The triggers that keep match_keys current were off during the COPYs.
            with _timer(spent, "match keys"):
                await conn.execute("SELECT registry_rebuild_match_keys()")
        for done, (name, definition) in enumerate(indexes):
            report("indexes", done, len(indexes))
            with _timer(spent, f"index {name}"):
                await conn.execute(definition)
        if indexes:
            report("indexes", len(indexes), len(indexes))
        with _timer(spent, "analyze"):
            await conn.execute(f"ANALYZE {', '.join(TABLES)}, match_keys")
        report("analyze", 1, 1)
    return counts


async def _load_officers(conn: asyncpg.Connection, ctx: _Context, counts: dict[str, int],
                         spent: dict[str, float], report: Progress) -> None:
    loop = asyncio.get_running_loop()
    chunks = -(-ctx.officers // CHUNK)

    def build(index: int) -> tuple[dict[str, list[tuple]], float]:
        started = time.perf_counter()
        return _Chunk(ctx, index).rows, time.perf_counter() - started

    # One thread builds chunk k+1 while chunk k is copied, so Python's work overlaps the
    # server's (parsing, index maintenance, constraint checks) on another core. The builder
    # holds the GIL for long stretches, and whenever the COPY's socket is ready again the event
    # loop waits a whole switch interval (5 ms by default) to get it back: a 1 ms interval
    # during the load measured 15-25% faster in all.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.001)
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = loop.run_in_executor(pool, build, 0)
            for index in range(chunks):
                rows, seconds = await pending
                spent["generate"] = spent.get("generate", 0.0) + seconds
                if index + 1 < chunks:
                    pending = loop.run_in_executor(pool, build, index + 1)
                for table in PER_OFFICER:
                    await _copy(conn, table, rows[table], counts, spent)
                report("officers", min((index + 1) * CHUNK, ctx.officers), ctx.officers)
    finally:
        sys.setswitchinterval(interval)


async def _copy(conn: asyncpg.Connection, table: str, rows: list[tuple], counts: dict[str, int],
                spent: dict[str, float]) -> None:
    with _timer(spent, table):
        await conn.copy_records_to_table(table, records=rows, columns=COLUMNS[table])
    counts[table] += len(rows)
