"""What the public types into the search box, checked and turned into the name forms the
search looks for (registry/transparency/repository.py runs them).

The forms are the background check's (registry/background_checks/candidate.py): the name
parsed into first, middle, last and suffix by ``nameparser``, the first name with its
nicknames and initial from the ``nicknames`` dataset, the first and last names swapped, and
the same SQL folding and surname tokens that fill ``match_keys``. There is no date of birth:
the public never gives one and the registry never shows one.
"""

import re
from dataclasses import dataclass
from functools import lru_cache

from nameparser import HumanName

from registry.api.validation import BAD_TEXT, BAD_TEXT_MESSAGE
from registry.background_checks.candidate import first_name_forms
from registry.errors import InvalidInput
from registry.names import clean, fold

MAX_NAME_CHARS = 200
MAX_NAME_WORDS = 8
# Public ids are 16 hex digits (officers.public_id); anything else is refused before SQL.
PUBLIC_ID = re.compile(r"^[0-9a-f]{16}$")


@dataclass(frozen=True)
class NameForm:
    """One way the name typed may be recorded. ``first`` is None for a surname alone."""

    kind: str  # entered | compound | swapped | surname
    first: str | None
    middle: str | None
    last: str
    suffix: str | None

    def as_json(self) -> dict[str, object]:
        nicks = list(first_name_forms(fold(self.first))) if self.first else []
        return {"kind": self.kind, "first": self.first, "middle": self.middle,
                "last": self.last, "suffix": self.suffix, "nicks": nicks}


@dataclass(frozen=True)
class NameQuery:
    text: str
    forms: tuple[NameForm, ...]

    @property
    def surname_only(self) -> bool:
        return all(f.first is None for f in self.forms)

    @property
    def initial(self) -> str | None:
        """The first name entered as one letter ("J Smith"): every first name with it."""
        first = self.forms[0].first
        key = fold(first) if first else ""
        return key if len(key) == 1 else None


@lru_cache(maxsize=4096)
def parse_name(value: str | None) -> NameQuery:
    """The name as the public typed it; every refusal says what to type instead. (Kept per
    text: the next page of a search, or a common name, parses once.)"""
    if value is not None and BAD_TEXT.search(value):
        raise InvalidInput(BAD_TEXT_MESSAGE, field="name")
    text = clean(value)
    if text is None or not fold(text):
        raise InvalidInput("Enter a name to search for: letters, at least a surname.",
                           field="name")
    if len(text) > MAX_NAME_CHARS:
        raise InvalidInput(f"The name is {len(text):,} characters long; enter at most "
                           f"{MAX_NAME_CHARS} (a first name and a surname are enough).",
                           field="name")
    if len(text.split()) > MAX_NAME_WORDS:
        raise InvalidInput(f"Enter at most {MAX_NAME_WORDS} words: a first name and a "
                           "surname are enough.", field="name")
    parsed = HumanName(text)
    first = clean(parsed.first) if fold(parsed.first) else None
    last = clean(parsed.last) if fold(parsed.last) else None
    middle = clean(parsed.middle) if fold(parsed.middle) else None
    suffix = clean(parsed.suffix) if fold(parsed.suffix) else None
    if last is None:
        # One word (or a surname with particles, "de la Cruz"): searched as a surname.
        return NameQuery(text, (NameForm("surname", None, None, first or text, None),))
    if first is None:
        return NameQuery(text, (NameForm("surname", None, None, last, suffix),))
    forms = [NameForm("entered", first, middle, last, suffix)]
    if middle:
        # "Maria Garcia Lopez": the middle word may be the first part of the surname.
        forms.append(NameForm("compound", first, None, f"{middle} {last}", suffix))
    forms.append(NameForm("swapped", last, middle, first, suffix))
    return NameQuery(text, tuple(forms))


def check_public_id(value: str, field: str = "publicId") -> str:
    """A public officer id as the registry issues them (16 hex digits), or a clear refusal
    (paths, quotes and other text never reach the database)."""
    candidate = value.strip().lower() if isinstance(value, str) else ""
    if not PUBLIC_ID.match(candidate):
        shown = value[:40] if isinstance(value, str) else ""
        raise InvalidInput(f"'{shown}' is not a public officer id; public ids are 16 "
                           "letters and digits (0-9, a-f), as in the officer's page address.",
                           field=field)
    return candidate
