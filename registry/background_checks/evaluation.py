"""A labeled evaluation set for background-check matching, and what the matching scores on it.

``registry checks evaluate`` measures the model in registry/background_checks/matching.py the
way investigators meet it: people already in the registry, entered as an application gives
them, each with one realistic difference from the record, hidden among a synthetic state
(registry/synthetic.py) and among hard namesakes; plus candidates the registry does not hold.

The set is deterministic for a seed. Every true person is a new record made for one variant
(a nickname needs a first name that has nicknames, a dropped suffix a record with one), with
names drawn from the synthetic state's census-weighted pools, so they are as crowded as there.
The variants (``VARIANTS``), one per candidate:

  exact                 the record's name and date of birth as recorded
  nickname              record William, candidate Bill (or the reverse), from the
                        ``nicknames`` dataset
  first_typo            one edit in the first name (swap, drop, double, neighbouring key)
  last_typo             one edit in the surname
  compound_part         record "Garcia-Lopez" (or "Garcia Lopez"), candidate one of the parts
  compound_added        record "Garcia", candidate "Garcia-Lopez"
  prior_as_last         the record has a maiden/prior name row; the candidate's surname is it
  prior_in_prior_names  the record has a maiden/prior name row; the candidate has a new
                        surname and lists that name under prior names
  renamed_since         the registry knows only the old surname; the candidate has a new one
                        and lists the old under prior names
  swapped               first and last names swapped
  first_initial         the first name as an initial
  middle_as_first       the record's middle name entered as the first name
  suffix_dropped        record "Jr.", candidate none
  suffix_added          record none, candidate "Jr."
  accents_punctuation   record "José O'Brien", candidate "Jose OBrien"
  dob_transposed        day and month swapped
  dob_year_only         only the birth year
  no_dob                no date of birth (name only); ``no_dob_share`` of the candidates
  certificate           a certificate number and state, with one of the name variants above

Every other candidate carries a full date of birth, as applications ask for it. Records carry
a partial date of birth as often as the synthetic state's (``partial_record_share``).

Hard namesakes, for ``namesake_share`` of the true people: a father or son of the same name
(Sr. / Jr., a generation apart), the same name born a year apart, the same name and birth year,
and people born the same day with a similar name (a sibling with another first name, or the
same first name and a surname one letter off). A namesake is made only where the candidate's
own details can tell the two apart (no same-name namesake for a name-only candidate, no
same-year one for a year-only candidate): otherwise the ranking would measure a coin toss.
Namesakes the synthetic state happens to hold are left as they are.

Candidates not in the registry (``absent``): new people with a full date of birth, relatives
of a registered person (the same name, another date of birth), and name-only ones.
"""

import asyncio
import random
import time
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import asyncpg
from nicknames import NickNamer
from rich.table import Table
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from registry.background_checks.candidate import Candidate, first_name_forms, parse_candidate
from registry.background_checks.matching import Match, find_matches
from registry.database import asyncpg_url, create_engine, start_embedded_server
from registry.dates import PartialDate
from registry.errors import InvalidInput
from registry.names import fold, name_key, sort_key
from registry.settings import Settings
from registry.synthetic import AS_OF, BOARDS, _origins, generate

RECORDED_BY = "evaluation"
# Rankings are read this deep (recall@3 needs three; the rest show what crowds the top).
RANKING_LIMIT = 10

VARIANTS = (
    "exact", "nickname", "first_typo", "last_typo", "compound_part", "compound_added",
    "prior_as_last", "prior_in_prior_names", "renamed_since", "swapped", "first_initial",
    "middle_as_first", "suffix_dropped", "suffix_added", "accents_punctuation",
    "dob_transposed", "dob_year_only", "no_dob", "certificate",
)
ABSENT_VARIANTS = ("absent", "absent_namesake", "absent_no_dob")
# Relative shares of the variants other than no_dob (whose share is a parameter): exact
# entries are the commonest in life, so they count twice.
WEIGHTS = {v: 2.0 if v == "exact" else 1.0 for v in VARIANTS if v != "no_dob"}
# Name variants a certificate candidate is entered with.
CERTIFICATE_NAMES = ("exact", "nickname", "first_typo", "last_typo", "swapped",
                     "first_initial")
FIRST_NAME_VARIANTS = frozenset({"nickname", "first_typo", "first_initial", "middle_as_first"})
SUFFIXES = ("Jr.", "Jr", "Sr.", "II", "III", "IV")
NAMESAKE_KINDS = ("father_son", "year_apart", "same_year", "same_birth_date")

Progress = Callable[[str, int, int], None]

_NICKNAMES = NickNamer()
_QWERTY = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
# Letters NFKD does not decompose, written as a US clerk would.
_TRANSLITERATE = str.maketrans({"Đ": "D", "đ": "d", "ß": "ss", "Ø": "O", "ø": "o", "Æ": "Ae",
                                "æ": "ae", "Ł": "L", "ł": "l", "Œ": "Oe", "œ": "oe"})


@dataclass(frozen=True)
class OtherName:
    kind: str  # prior | maiden
    first: str | None  # None: a bare surname, the person's own first name applies
    last: str


@dataclass(frozen=True)
class Record:
    """A person inserted for the evaluation, as recorded."""

    id: uuid.UUID
    first: str
    middle: str | None
    last: str
    suffix: str | None
    birth: PartialDate
    sex: str
    other_names: tuple[OtherName, ...] = ()
    certificate: str | None = None
    role: str = "true"  # true, or the namesake kind

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first, self.middle, self.last, self.suffix) if p)

    def describe(self) -> str:
        others = "".join(f"; {o.kind} {' '.join(p for p in (o.first, o.last) if p)}"
                         for o in self.other_names)
        return f"{self.full_name} (b. {self.birth}{others})"


@dataclass(frozen=True)
class LabeledCandidate:
    """A candidate as an investigator types it, and who they really are."""

    entered: dict[str, Any]  # parse_candidate's keyword arguments
    candidate: Candidate
    expected: uuid.UUID | None  # the true person, or None: not in the registry
    variant: str
    detail: str = ""  # the name variant of a certificate candidate, the namesakes made
    record: Record | None = None


@dataclass(frozen=True)
class EvaluationSet:
    records: list[Record]
    candidates: list[LabeledCandidate]


# --- names ------------------------------------------------------------------------------------

@cache
def _accented_pools() -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """First names and surnames that carry accents, and surnames with an apostrophe."""
    _, origins = _origins()
    firsts = {n for o in origins for pool in (o.male, o.female) for n in pool.names
              if not n.isascii() and " " not in n}
    lasts = {n for o in origins for n in o.last.names if not n.isascii() and " " not in n}
    apostrophes = {n for o in origins for n in o.last.names if "'" in n}
    return tuple(sorted(firsts)), tuple(sorted(lasts)), tuple(sorted(apostrophes))


def _plain(rng: random.Random, name: str) -> str:
    """The name as typed on a US keyboard: accents dropped; apostrophes and hyphens dropped or
    typed as a space."""
    decomposed = unicodedata.normalize("NFKD", name.translate(_TRANSLITERATE))
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    for mark in ("'", "’", "-"):
        ascii_only = ascii_only.replace(mark, "" if rng.random() < 0.7 else " ")
    return " ".join(ascii_only.split())


def _neighbour(rng: random.Random, ch: str) -> str:
    lower = ch.lower()
    for row in _QWERTY:
        i = row.find(lower)
        if i >= 0:
            near = [row[j] for j in (i - 1, i + 1) if 0 <= j < len(row)]
            pick = near[int(rng.random() * len(near))]
            return pick.upper() if ch.isupper() else pick
    return ch


def _typo(rng: random.Random, name: str) -> str:
    """One keying error after the first letter (typos there are rare): two letters swapped,
    one dropped, one doubled, or a neighbouring key hit."""
    letters = [i for i, ch in enumerate(name) if ch.isalpha()][1:]
    for _ in range(20):
        if not letters:
            break
        i = letters[int(rng.random() * len(letters))]
        r = rng.random()
        if r < 0.3 and i + 1 < len(name) and name[i + 1].isalpha() and name[i] != name[i + 1]:
            out = name[:i] + name[i + 1] + name[i] + name[i + 2:]
        elif r < 0.55:
            out = name[:i] + name[i + 1:]
        elif r < 0.75:
            out = name[:i] + name[i] + name[i:]
        else:
            out = name[:i] + _neighbour(rng, name[i]) + name[i + 1:]
        if fold(out) and fold(out) != fold(name):
            return out
    return name + name[-1]


def _nicknames(first: str) -> list[str]:
    head = fold(first).split(" ")[0]
    return sorted(n for n in _NICKNAMES.nicknames_of(head) if n != head and len(n) > 1)


# --- the planner ------------------------------------------------------------------------------

class _Planner:
    """Draws the records and the candidates from one seeded generator."""

    def __init__(self, *, seed: int, state: str, namesake_share: float,
                 partial_record_share: float) -> None:
        self.rng = random.Random(f"{seed}/evaluation")
        self.state = state
        self.namesake_share = namesake_share
        self.partial_record_share = partial_record_share
        self.records: list[Record] = []
        self.certificates = 0
        self.origin_cum, self.origins = _origins()

    # -- drawing people --

    def _uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def _origin(self) -> int:
        x = self.rng.random() * self.origin_cum[-1]
        return next(i for i, c in enumerate(self.origin_cum) if x < c)

    def _first(self, origin: int, female: bool) -> str:
        o = self.origins[origin]
        return (o.female if female else o.male).draw(self.rng, 1)[0]

    def _last(self, origin: int, *avoid: str) -> str:
        for _ in range(50):
            name = self.origins[origin].last.draw(self.rng, 1)[0]
            if fold(name) not in {fold(a) for a in avoid}:
                return name
        return name

    def _birth(self, *, full: bool = False) -> PartialDate:
        year = min(int(self.rng.triangular(1955, 2004, 1985)), 2003)
        born = date(year, 1, 1) + timedelta(days=int(self.rng.random() * 365))
        partial = self.rng.random()
        if not full and partial < self.partial_record_share * 5 / 8:
            return PartialDate(born.year)
        if not full and partial < self.partial_record_share:
            return PartialDate(born.year, born.month)
        return PartialDate(born.year, born.month, born.day)

    def _record(self, *, female: bool, origin: int | None = None, full_birth: bool = False,
                middle: str = "any") -> tuple[Record, int]:
        """A person with a realistic name and the origin it was drawn from; ``middle`` is
        "any" (often none or an initial) or "full"."""
        origin = self._origin() if origin is None else origin
        first = self._first(origin, female)
        middle_name: str | None = None
        if middle == "full" or (middle == "any" and self.rng.random() < 0.7):
            for _ in range(20):
                middle_name = self._first(origin, female)
                if fold(middle_name) != fold(first):
                    break
            assert middle_name is not None
            if middle == "any" and self.rng.random() < 0.3:
                middle_name = middle_name[0] + ("." if self.rng.random() < 0.2 else "")
        last = self._last(origin)
        if self.rng.random() < 0.5:  # half the records drop accents, as in the synthetic state
            first, last = _plain_accents(first), _plain_accents(last)
            middle_name = _plain_accents(middle_name) if middle_name else None
        record = Record(self._uuid(), first, middle_name, last, None,
                        self._birth(full=full_birth), "female" if female else "male")
        return record, origin

    def _typed_middle(self, record: Record) -> str | None:
        """The middle name as an application gives it: mostly whole, sometimes an initial."""
        if record.middle is None:
            return None
        r = self.rng.random()
        if r < 0.6:
            return record.middle
        return record.middle[0] if r < 0.8 else None

    def _add(self, record: Record) -> Record:
        """Keep ``record`` for insertion, with a certificate of its own (an "E" series, apart
        from the synthetic state's numbers)."""
        self.certificates += 1
        record = _with(record, certificate=f"{self.state}-E{self.certificates:06d}")
        self.records.append(record)
        return record

    # -- one true person and their candidate --

    def person(self, variant: str) -> LabeledCandidate:
        rng = self.rng
        name_variant = variant
        if variant == "certificate":
            name_variant = CERTIFICATE_NAMES[int(rng.random() * len(CERTIFICATE_NAMES))]
        female = rng.random() < (0.8 if name_variant in _RENAMED else 0.15)
        if name_variant in ("suffix_dropped", "suffix_added"):
            female = False
        full_birth = name_variant == "dob_transposed"
        middle = "full" if name_variant == "middle_as_first" else "any"
        record, origin = self._record(female=female, full_birth=full_birth, middle=middle)
        if full_birth:
            # Day and month can only be swapped when the day is a month too.
            month = 1 + int(rng.random() * 12)
            day = 1 + (month + int(rng.random() * 11)) % 12
            record = _with(record, birth=PartialDate(record.birth.year, month, day))
        typed: dict[str, Any] = {
            "first_name": record.first, "middle_name": self._typed_middle(record),
            "last_name": record.last, "suffix": record.suffix, "prior_names": [],
        }
        record, typed = self._vary(name_variant, record, origin, typed)
        if name_variant in ("exact", "no_dob", "dob_year_only", "dob_transposed"):
            typed["middle_name"] = record.middle
        record = self._add(record)
        b = record.birth
        if name_variant == "dob_transposed":
            assert b.month is not None and b.day is not None
            dob: str | None = f"{b.year:04d}-{b.day:02d}-{b.month:02d}"
        elif name_variant == "dob_year_only":
            dob = f"{b.year:04d}"
        elif name_variant == "no_dob":
            dob = None
        else:
            dob = str(self._full_birth_of(record))
        typed["date_of_birth"] = dob
        if variant == "certificate":
            number = record.certificate or ""
            typed["certificate_numbers"] = [
                {"state": self.state, "number": number.lower() if rng.random() < 0.2
                 else number}]
        detail = f"name: {name_variant}" if variant == "certificate" else ""
        namesakes = self._namesakes(record, name_variant, origin, typed)
        if namesakes:
            detail = "; ".join(p for p in (detail, "namesakes: " + ", ".join(namesakes)) if p)
        return LabeledCandidate(typed, parse_candidate(**typed), record.id, variant, detail,
                                record)

    def _full_birth_of(self, record: Record) -> PartialDate:
        """The full date the candidate gives: the record's, completed where it is partial (the
        application knows the day the record lacks)."""
        b = record.birth
        if b.day is not None:
            return b
        month = b.month or 1 + int(self.rng.random() * 12)
        return PartialDate(b.year, month, 1 + int(self.rng.random() * 28))

    def _vary(self, variant: str, record: Record, origin: int, typed: dict[str, Any]
              ) -> tuple[Record, dict[str, Any]]:
        rng = self.rng
        r = record
        if variant == "nickname":
            for _ in range(100):
                nicks = _nicknames(r.first)
                if nicks:
                    break
                r = _with(r, first=self._first(origin if rng.random() < 0.5 else 0,
                                               r.sex == "female"))
            nick = nicks[int(rng.random() * len(nicks))].title()
            if rng.random() < 0.25:  # the record carries the nickname, the application not
                typed["first_name"], r = r.first, _with(r, first=nick)
            else:
                typed["first_name"] = nick
        elif variant == "first_typo":
            while len(fold(r.first)) < 4:
                r = _with(r, first=self._first(origin, r.sex == "female"))
            typed["first_name"] = _typo(rng, r.first)
        elif variant == "last_typo":
            while len(fold(r.last)) < 4:
                r = _with(r, last=self._last(origin))
            typed["last_name"] = _typo(rng, r.last)
        elif variant == "compound_part":
            other = self._last(origin, r.last)
            joined = f"{r.last} {other}" if self.origins[origin].hispanic and rng.random() < 0.4 \
                else f"{r.last}-{other}"
            typed["last_name"] = r.last if rng.random() < 0.5 else other
            r = _with(r, last=joined)
        elif variant == "compound_added":
            other = self._last(origin, r.last)
            typed["last_name"] = f"{r.last}-{other}" if rng.random() < 0.6 else f"{other}-{r.last}"
        elif variant in _RENAMED:
            other = self._last(origin, r.last)
            if variant == "renamed_since":
                # The registry knows the person only by the surname used before: the
                # candidate has a new one and lists the old.
                typed["last_name"] = other
                typed["prior_names"] = [r.last if rng.random() < 0.6 else f"{r.first} {r.last}"]
            else:
                # The record's current surname is the married one; ``other`` the one before.
                kind = "maiden" if r.sex == "female" else "prior"
                own_first = r.first if rng.random() < 0.7 else None
                r = _with(r, other_names=(OtherName(kind, own_first, other),))
                if variant == "prior_as_last":
                    typed["last_name"] = other
                else:
                    typed["last_name"] = self._last(origin, r.last, other)
                    typed["prior_names"] = [other if rng.random() < 0.6
                                            else f"{r.first} {other}"]
        elif variant == "swapped":
            typed["first_name"], typed["last_name"] = r.last, r.first
        elif variant == "first_initial":
            typed["first_name"] = r.first[0] + ("." if rng.random() < 0.5 else "")
        elif variant == "middle_as_first":
            assert r.middle is not None
            typed["first_name"], typed["middle_name"] = r.middle, None
        elif variant == "suffix_dropped":
            r = _with(r, suffix=SUFFIXES[int(rng.random() * len(SUFFIXES))])
            typed["suffix"] = None
        elif variant == "suffix_added":
            typed["suffix"] = SUFFIXES[int(rng.random() * 2)]
        elif variant == "accents_punctuation":
            r = self._marked(r, origin)
            typed["first_name"], typed["last_name"] = _plain(rng, r.first), _plain(rng, r.last)
            if typed["middle_name"]:
                typed["middle_name"] = _plain(rng, typed["middle_name"])
        return r, typed

    def _marked(self, record: Record, origin: int) -> Record:
        """The record with accents or an apostrophe in its name, as a source wrote it."""
        firsts, lasts, apostrophes = _accented_pools()
        r = self.rng.random()
        if r < 0.35:
            return _with(record, last=apostrophes[int(self.rng.random() * len(apostrophes))])
        if r < 0.7:
            return _with(record, last=lasts[int(self.rng.random() * len(lasts))],
                         first=firsts[int(self.rng.random() * len(firsts))])
        if not any(not ch.isascii() for ch in record.first + record.last):
            return _with(record, first=firsts[int(self.rng.random() * len(firsts))])
        return record

    # -- hard namesakes --

    def _namesakes(self, record: Record, variant: str, origin: int, typed: dict[str, Any]
                   ) -> list[str]:
        if self.rng.random() >= self.namesake_share:
            return []
        kinds = [k for k in NAMESAKE_KINDS if _distinguishable(k, variant, record)]
        if not kinds:
            return []
        made = []
        for kind in self.rng.sample(kinds, k=min(len(kinds), 1 + (self.rng.random() < 0.3))):
            namesake = self._namesake(kind, record, variant, origin, typed)
            if namesake is not None:
                self._add(namesake)
                made.append(f"{kind} {namesake.describe()}")
        return made

    def _namesake(self, kind: str, record: Record, variant: str, origin: int,
                  typed: dict[str, Any]) -> Record | None:
        rng = self.rng
        b = record.birth
        same_name = Record(self._uuid(), record.first, record.middle, record.last, record.suffix,
                           b, record.sex, role=kind)
        if kind == "father_son":
            if record.sex != "male":
                return None
            gap = 22 + int(rng.random() * 14)
            older = b.year >= 1975
            year = b.year - gap if older else min(b.year + gap, 2003)
            birth = self._birth()
            birth = _on(year, birth.month, birth.day)
            return _with(same_name, birth=birth, suffix="Sr." if older else "Jr.")
        if kind == "year_apart":
            birth = self._birth()
            year = b.year + (1 if rng.random() < 0.5 or b.year <= 1955 else -1)
            return _with(same_name, birth=_on(min(year, 2003), birth.month, birth.day))
        if kind == "same_year":
            for _ in range(20):
                birth = self._birth(full=True)
                if (birth.month, birth.day) not in {(b.month, b.day), (b.day, b.month)}:
                    return _with(same_name, birth=_on(b.year, birth.month, birth.day))
            return None
        # Born the same day: a sibling with another first name, or the same first name with
        # a surname one letter off, whichever the candidate's own variant leaves apart.
        if variant in FIRST_NAME_VARIANTS:
            return _with(same_name, last=_typo(rng, record.last), middle=None)
        avoid = {fold(typed["first_name"]), fold(record.first)}
        forms = set(first_name_forms(fold(typed["first_name"]))) | set(
            first_name_forms(fold(record.first)))
        for _ in range(50):
            first = self._first(origin, record.sex == "female")
            key = fold(first)
            if key[:1] not in {a[:1] for a in avoid} and key not in forms:
                middle = self._first(origin, record.sex == "female") \
                    if rng.random() < 0.6 else None
                return _with(same_name, first=first, middle=middle, suffix=None)
        return None

    # -- candidates not in the registry --

    def absent(self, variant: str) -> LabeledCandidate:
        rng = self.rng
        if variant == "absent_namesake" and self.records:
            # A relative of a registered person: the same name, another date of birth.
            known = self.records[int(rng.random() * len(self.records))]
            for _ in range(20):
                birth = self._birth(full=True)
                if abs(birth.year - known.birth.year) > 1:
                    break
            typed: dict[str, Any] = {"first_name": known.first, "middle_name": known.middle,
                                     "last_name": known.last, "suffix": None,
                                     "date_of_birth": str(birth)}
            detail = f"relative of {known.describe()}"
        else:
            person, _ = self._record(female=rng.random() < 0.15, full_birth=True)
            typed = {"first_name": person.first, "middle_name": person.middle,
                     "last_name": person.last, "suffix": None,
                     "date_of_birth": None if variant == "absent_no_dob" else str(person.birth)}
            detail = ""
        return LabeledCandidate(typed, parse_candidate(**typed), None, variant, detail)


_RENAMED = frozenset({"prior_as_last", "prior_in_prior_names", "renamed_since"})


def _distinguishable(kind: str, variant: str, record: Record) -> bool:
    """Whether the candidate's details can tell the true person from a namesake of ``kind``."""
    same_name = kind in ("father_son", "year_apart", "same_year")
    if variant == "no_dob" and same_name:
        return False
    if variant == "dob_year_only" and kind == "same_year":
        return False
    if kind == "father_son" and record.sex != "male":
        return False
    # A year-only record cannot be told from a same-year namesake by any candidate.
    return not (kind == "same_year" and record.birth.month is None)


def _on(year: int, month: int | None, day: int | None) -> PartialDate:
    """A birth date moved to another year (29 February becomes the 28th when it must)."""
    if month == 2 and day == 29 and not (year % 4 == 0 and (year % 100 or year % 400 == 0)):
        day = 28
    return PartialDate(year, month, day)


def _plain_accents(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name.translate(_TRANSLITERATE))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _with(record: Record, **changes: Any) -> Record:
    values = {f: getattr(record, f) for f in Record.__dataclass_fields__}
    values.update(changes)
    return Record(**values)


def _quotas(total: int, weights: dict[str, float]) -> list[str]:
    """``total`` labels in proportion to ``weights``, each at least once when room allows
    (largest remainder), so a small set still has every kind."""
    labels = list(weights)
    scale = sum(weights.values())
    exact = {k: total * w / scale for k, w in weights.items()}
    counts = {k: int(v) for k, v in exact.items()}
    if total >= len(labels):
        for k in labels:
            counts[k] = max(counts[k], 1)
    while sum(counts.values()) < total:
        k = max(labels, key=lambda k: exact[k] - counts[k])
        counts[k] += 1
    while sum(counts.values()) > total:
        k = max(labels, key=lambda k: counts[k] - exact[k])
        counts[k] -= 1
    return [k for k in labels for _ in range(counts[k])]


def plan_evaluation_set(*, people: int, seed: int = 7, state: str = "VA",
                        absent: int | None = None, no_dob_share: float = 0.1,
                        namesake_share: float = 0.3, partial_record_share: float = 0.08
                        ) -> EvaluationSet:
    """The records to insert and the labeled candidates, from the seed alone."""
    if people < 1:
        raise ValueError("an evaluation needs at least one true person")
    if not 0 <= no_dob_share < 1:
        raise ValueError("no_dob_share is a share: 0 to less than 1")
    planner = _Planner(seed=seed, state=state, namesake_share=namesake_share,
                       partial_record_share=partial_record_share)
    no_dob = round(people * no_dob_share)
    variants = _quotas(people - no_dob, WEIGHTS) + ["no_dob"] * no_dob
    planner.rng.shuffle(variants)
    candidates = [planner.person(v) for v in variants]
    absent = people // 5 if absent is None else absent
    absent_no_dob = round(absent * no_dob_share)
    absent_variants = _quotas(absent - absent_no_dob, {"absent": 1, "absent_namesake": 1})
    absent_variants += ["absent_no_dob"] * absent_no_dob
    candidates += [planner.absent(v) for v in absent_variants]
    planner.rng.shuffle(candidates)
    return EvaluationSet(planner.records, candidates)


# --- loading ----------------------------------------------------------------------------------

async def insert_records(conn: asyncpg.Connection, records: Sequence[Record], *,
                         state: str = "VA") -> None:
    """Insert the evaluation's people, their other names and certificates (the match keys
    follow by trigger), in one transaction."""
    board = BOARDS.get(state, f"{state} POST Board")
    officers, names, certificates = [], [], []
    for n, r in enumerate(records):
        officers.append((r.id, r.id, r.first, r.middle, r.last, r.suffix,
                         name_key(r.first, r.middle, r.last, r.suffix),
                         sort_key(r.first, r.middle, r.last), r.birth.year, r.birth.month,
                         r.birth.day, f"{state}E{n + 1:07d}", r.sex, RECORDED_BY))
        for o in r.other_names:
            names.append((uuid.uuid4(), r.id, o.kind, o.first, None, o.last, None,
                          name_key(o.first or r.first, None, o.last, None), RECORDED_BY))
        if r.certificate:
            issued = min(date(min(r.birth.year + 23, AS_OF.year - 1), 6, 1), AS_OF)
            certificates.append((uuid.uuid4(), r.id, state, r.certificate, board,
                                 "law_enforcement", "basic", issued, "active", issued,
                                 RECORDED_BY))
    async with conn.transaction():
        await conn.copy_records_to_table("officers", records=officers, columns=(
            "id", "canonical_id", "first_name", "middle_name", "last_name", "suffix",
            "name_key", "sort_key", "birth_year", "birth_month", "birth_day", "post_id", "sex",
            "recorded_by"))
        await conn.copy_records_to_table("officer_names", records=names, columns=(
            "id", "officer_id", "kind", "first_name", "middle_name", "last_name", "suffix",
            "name_key", "recorded_by"))
        await conn.copy_records_to_table("certifications", records=certificates, columns=(
            "id", "officer_id", "state", "number", "issuing_board", "discipline", "level",
            "issued_on", "status", "status_since", "recorded_by"))
    await conn.execute("ANALYZE officers, officer_names, certifications, match_keys")


async def load_evaluation_set(conn: asyncpg.Connection, *, people: int, seed: int = 7,
                              state: str = "VA", **options: Any) -> list[LabeledCandidate]:
    """Plan the set, insert its people into the (empty or synthetic) database, and return the
    labeled candidates."""
    plan = plan_evaluation_set(people=people, seed=seed, state=state, **options)
    await insert_records(conn, plan.records, state=state)
    return plan.candidates


# --- measuring --------------------------------------------------------------------------------

@dataclass
class VariantResult:
    candidates: int = 0
    first: int = 0
    top3: int = 0
    at_threshold: int = 0
    false_positives: int = 0  # candidates not in the registry with a match reported

    def share(self, count: int) -> float:
        return count / self.candidates if self.candidates else 0.0


@dataclass(frozen=True)
class Miss:
    """A candidate whose true person was not first, or an absent one with a match reported."""

    labeled: LabeledCandidate
    expected_rank: int | None  # 1-based, None: not in the top RANKING_LIMIT
    expected_match: Match | None
    first: Match | None
    first_record: str  # what ranked first, as recorded

    def describe(self) -> str:
        c = self.labeled.candidate
        typed = c.full_name + (f" (prior {', '.join(c.prior_names)})" if c.prior_names else "")
        typed += f" b. {c.date_of_birth or '?'}"
        if c.certificate_numbers:
            typed += " cert " + ", ".join(f"{n.state} {n.number}" for n in c.certificate_numbers)
        lines = [f"[{self.labeled.variant}] typed: {typed}"]
        if self.labeled.record is not None:
            rank = self.expected_rank or f">{RANKING_LIMIT}"
            lines.append(f"  true: {self.labeled.record.describe()}  rank {rank}"
                         + (f", {_reasons(self.expected_match)}" if self.expected_match else ""))
        if self.first is not None:
            lines.append(f"  first: {self.first_record}  {_reasons(self.first)}")
        if self.labeled.detail:
            lines.append(f"  ({self.labeled.detail})")
        return "\n".join(lines)


def _reasons(m: Match | None) -> str:
    if m is None:
        return ""
    flags = [f for f, on in (("middle conflict", m.middle_conflict),
                             ("suffix conflict", m.suffix_conflict),
                             ("certificate", m.certificate)) if on]
    return (f"score {m.score:.3f} probe={m.probe} as {m.record_name_kind} '{m.record_name}' "
            f"first={m.first} last={m.last} birth={m.birth}"
            + (f" {' '.join(flags)}" if flags else ""))


@dataclass
class Evaluation:
    threshold: float
    candidates: int = 0
    present: int = 0
    absent: int = 0
    recall_at_1: float = 0.0
    recall_at_3: float = 0.0
    recall_at_threshold: float = 0.0
    precision_at_threshold: float = 0.0
    false_positive_rate: float = 0.0
    certificate_candidates: int = 0
    certificate_first: float = 0.0
    by_variant: dict[str, VariantResult] = field(default_factory=dict)
    misses: list[Miss] = field(default_factory=list)
    seconds: float = 0.0


async def evaluate(connection: AsyncConnection | AsyncSession,
                   labeled: Sequence[LabeledCandidate], *, threshold: float,
                   trigram_floor: float, limit: int = 10, progress: Progress | None = None
                   ) -> Evaluation:
    """Run every candidate through ``find_matches`` twice: at threshold 0 for the ranking
    (recall@1, recall@3) and as a check reports (``threshold``, ``limit``) for recall and
    precision at the threshold and the false-positive rate of absent candidates."""
    started = time.perf_counter()
    result = Evaluation(threshold=threshold)
    totals = {"present": 0, "first": 0, "top3": 0, "reported": 0, "true_reported": 0,
              "at_threshold": 0, "absent": 0, "false_positive": 0, "cert": 0, "cert_first": 0}
    misses: list[tuple[LabeledCandidate, int | None, Match | None, Match | None]] = []
    for done, item in enumerate(labeled):
        ranking = await find_matches(connection, item.candidate, threshold=0,
                                     trigram_floor=trigram_floor, limit=RANKING_LIMIT)
        reported = await find_matches(connection, item.candidate, threshold=threshold,
                                      trigram_floor=trigram_floor, limit=limit)
        stats = result.by_variant.setdefault(item.variant, VariantResult())
        stats.candidates += 1
        totals["reported"] += len(reported)
        if item.expected is None:
            totals["absent"] += 1
            if reported:
                totals["false_positive"] += 1
                stats.false_positives += 1
                misses.append((item, None, None, reported[0]))
        else:
            totals["present"] += 1
            ids = [m.officer_id for m in ranking]
            rank = ids.index(item.expected) + 1 if item.expected in ids else None
            hit = any(m.officer_id == item.expected for m in reported)
            totals["true_reported"] += hit
            for key, ok in (("first", rank == 1), ("top3", rank is not None and rank <= 3),
                            ("at_threshold", hit)):
                totals[key] += ok
                setattr(stats, key, getattr(stats, key) + ok)
            if item.candidate.certificate_numbers:
                totals["cert"] += 1
                totals["cert_first"] += rank == 1
            if rank != 1:
                misses.append((item, rank, ranking[rank - 1] if rank else None,
                               ranking[0] if ranking else None))
        if progress is not None:
            progress("checks", done + 1, len(labeled))
    present, absent = totals["present"], totals["absent"]
    result.candidates, result.present, result.absent = len(labeled), present, absent
    result.recall_at_1 = totals["first"] / present if present else 0.0
    result.recall_at_3 = totals["top3"] / present if present else 0.0
    result.recall_at_threshold = totals["at_threshold"] / present if present else 0.0
    result.precision_at_threshold = (totals["true_reported"] / totals["reported"]
                                     if totals["reported"] else 1.0)
    result.false_positive_rate = totals["false_positive"] / absent if absent else 0.0
    result.certificate_candidates = totals["cert"]
    result.certificate_first = totals["cert_first"] / totals["cert"] if totals["cert"] else 1.0
    described = await _records(connection, [m[3].officer_id for m in misses if m[3]])
    result.misses = [Miss(item, rank, expected, first,
                          described.get(first.officer_id, "?") if first else "")
                     for item, rank, expected, first in misses]
    result.seconds = time.perf_counter() - started
    return result


async def _records(connection: AsyncConnection | AsyncSession, ids: list[uuid.UUID]
                   ) -> dict[uuid.UUID, str]:
    """How the people who ranked first in the misses are recorded (names, date of birth)."""
    if not ids:
        return {}
    rows = await connection.execute(text("""
        SELECT o.canonical_id, o.first_name, o.middle_name, o.last_name, o.suffix,
               o.birth_year, o.birth_month, o.birth_day,
               (SELECT string_agg(n.kind || ' ' || n.last_name, ', ') FROM officer_names n
                WHERE n.officer_id = o.id) AS others
        FROM officers o WHERE o.canonical_id = ANY(:ids)"""), {"ids": list(set(ids))})
    found = {}
    for r in rows:
        name = " ".join(p for p in (r.first_name, r.middle_name, r.last_name, r.suffix) if p)
        birth = PartialDate(r.birth_year, r.birth_month, r.birth_day) if r.birth_year else "?"
        found[r.canonical_id] = f"{name} (b. {birth}{'; ' + r.others if r.others else ''})"
    return found


# --- the command ------------------------------------------------------------------------------

EVALUATION_DATABASE = "registry_evaluation"
# The targets: (metric, at least).
TARGETS = {"recall_at_3": 0.98, "recall_at_1": 0.95, "certificate_first": 1.0}


def fresh_embedded_database(data_dir: Path) -> str:
    """Drop and recreate ``registry_evaluation`` on the embedded server, so an evaluation
    never writes into the registry's own database; return its URL (not yet migrated)."""
    admin_url = start_embedded_server(data_dir)

    async def recreate() -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{EVALUATION_DATABASE}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{EVALUATION_DATABASE}"')
        finally:
            await conn.close()

    asyncio.run(recreate())
    return make_url(admin_url).set(database=EVALUATION_DATABASE).render_as_string(
        hide_password=False)


async def run(url: str, settings: Settings, *, people: int, background: int, seed: int,
              progress: Progress | None = None) -> Evaluation:
    """Fill the empty, migrated database at ``url`` with ``background`` synthetic officers and
    the evaluation's people, then measure the matching at the configured threshold."""
    report = progress or (lambda phase, done, total: None)
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM officers)"):
            raise InvalidInput(
                "The database already holds officers, and an evaluation inserts people of its "
                "own: give an empty database, or no URL for a fresh "
                f"'{EVALUATION_DATABASE}' database on the embedded server.")
        if background:
            await generate(conn, officers=background, agencies=max(10, background // 80),
                           state=settings.state, seed=seed, progress=report)
        report("evaluation set", 0, people)
        labeled = await load_evaluation_set(conn, people=people, seed=seed,
                                            state=settings.state)
        report("evaluation set", people, people)
    finally:
        await conn.close()
    engine = create_engine(url, settings)
    try:
        async with engine.connect() as connection:
            return await evaluate(connection, labeled, threshold=settings.match_threshold,
                                  trigram_floor=settings.match_trigram_floor,
                                  limit=settings.match_limit, progress=report)
    finally:
        await engine.dispose()


def report_tables(result: Evaluation) -> tuple[Table, Table]:
    """The summary (with the issue's targets) and the figures per variant."""
    summary = Table(title=f"Background-check matching at threshold {result.threshold:g}")
    summary.add_column("measure")
    summary.add_column("value", justify="right", no_wrap=True)
    summary.add_column("target", justify="right", no_wrap=True)

    def target(key: str, value: float) -> str:
        if key not in TARGETS:
            return ""
        met = value >= TARGETS[key]
        return f"[{'green' if met else 'red'}]>= {TARGETS[key]:.2f}[/]"

    rows = (
        ("candidates (in the registry / not)",
         f"{result.candidates:,} ({result.present:,} / {result.absent:,})", ""),
        ("recall@1 (true person first)", f"{result.recall_at_1:.3f}",
         target("recall_at_1", result.recall_at_1)),
        ("recall@3", f"{result.recall_at_3:.3f}", target("recall_at_3", result.recall_at_3)),
        ("recall at threshold", f"{result.recall_at_threshold:.3f}", ""),
        ("precision at threshold", f"{result.precision_at_threshold:.3f}", ""),
        ("false-positive rate (not in registry)", f"{result.false_positive_rate:.3f}", ""),
        (f"certificate given: true person first (of {result.certificate_candidates})",
         f"{result.certificate_first:.3f}",
         target("certificate_first", result.certificate_first)),
        ("ms per check (ranking + report query)",
         f"{1000 * result.seconds / max(result.candidates, 1):.1f}", ""),
    )
    for row in rows:
        summary.add_row(*row)
    variants = Table(title="Per variant (false positives: candidates not in the registry)")
    variants.add_column("variant", no_wrap=True)
    for column in ("n", "recall@1", "recall@3", "at threshold", "false pos."):
        variants.add_column(column, justify="right", no_wrap=True)
    for name in (*VARIANTS, *ABSENT_VARIANTS):
        v = result.by_variant.get(name)
        if v is None:
            continue
        if name in ABSENT_VARIANTS:
            variants.add_row(name, str(v.candidates), "", "", "",
                             f"{v.share(v.false_positives):.3f}")
        else:
            variants.add_row(name, str(v.candidates), f"{v.share(v.first):.3f}",
                             f"{v.share(v.top3):.3f}", f"{v.share(v.at_threshold):.3f}", "")
    return summary, variants
