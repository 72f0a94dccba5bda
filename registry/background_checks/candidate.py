"""The candidate as an investigator enters it, checked, and the name forms it is searched by."""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from nameparser import HumanName
from nicknames import NickNamer

from registry.dates import PartialDate
from registry.errors import InvalidInput
from registry.names import clean, fold
from registry.states import check_state

MAX_PRIOR_NAMES = 20
MAX_CERTIFICATE_NUMBERS = 20
MAX_NAME_PART = 100


@dataclass(frozen=True)
class CertificateNumber:
    state: str
    number: str


@dataclass(frozen=True)
class Candidate:
    first_name: str
    last_name: str
    middle_name: str | None = None
    suffix: str | None = None
    prior_names: tuple[str, ...] = ()
    date_of_birth: PartialDate | None = None
    certificate_numbers: tuple[CertificateNumber, ...] = field(default_factory=tuple)

    def as_entered(self) -> dict[str, Any]:
        """JSON form kept with the check (the printable report shows it)."""
        return {**vars(self),  # not asdict: it deep-copies every value
                "date_of_birth": str(self.date_of_birth) if self.date_of_birth else None,
                "prior_names": list(self.prior_names),
                "certificate_numbers": [dict(vars(c)) for c in self.certificate_numbers]}

    def input_hash(self) -> str:
        """SHA-256 of the candidate in a canonical form: the audit trail keeps this, so a
        check can be proven to have been run on given input without storing it twice."""
        canonical = json.dumps(self.as_entered(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.middle_name, self.last_name,
                                    self.suffix) if p)


def _name_part(value: str | None, field_name: str, *, required: bool) -> str | None:
    text = clean(value)
    if text is not None and len(text) > MAX_NAME_PART:
        raise InvalidInput(f"'{field_name}' is longer than {MAX_NAME_PART} characters.",
                           field=field_name)
    if text is not None and not fold(text):
        text = None  # punctuation only
    if text is None and required:
        raise InvalidInput(
            f"'{field_name}' is required: enter the name as written on the application "
            "(letters, not only spaces or punctuation).", field=field_name)
    return text


def parse_candidate(
    *, first_name: str | None, last_name: str | None, middle_name: str | None = None,
    suffix: str | None = None, prior_names: list[str] | None = None,
    date_of_birth: str | None = None, certificate_numbers: list[dict[str, str]] | None = None,
    today: date | None = None,
) -> Candidate:
    """Check what an investigator entered; every refusal names the field and the fix."""
    prior_names = prior_names or []
    certificate_numbers = certificate_numbers or []
    if len(prior_names) > MAX_PRIOR_NAMES:
        raise InvalidInput(
            f"{len(prior_names):,} prior names were given; at most {MAX_PRIOR_NAMES} are "
            "searched. Enter the names the candidate actually used.", field="priorNames")
    if len(certificate_numbers) > MAX_CERTIFICATE_NUMBERS:
        raise InvalidInput(
            f"{len(certificate_numbers):,} certificate numbers were given; at most "
            f"{MAX_CERTIFICATE_NUMBERS} are searched.", field="certificateNumbers")
    priors = []
    for i, name in enumerate(prior_names):
        text = _name_part(name, f"priorNames[{i}]", required=True)
        assert text is not None
        priors.append(text)
    birth = None
    if date_of_birth is not None and date_of_birth.strip():
        birth = PartialDate.parse(date_of_birth)
        if birth.earliest() > (today or date.today()):
            raise InvalidInput(f"Date of birth {birth} is in the future; check the application.",
                               field="dateOfBirth")
    certificates = []
    for i, cert in enumerate(certificate_numbers):
        number = clean(cert.get("number"))
        if number is None or len(number) > 40:
            raise InvalidInput(
                f"certificateNumbers[{i}].number must be 1 to 40 characters.",
                field=f"certificateNumbers[{i}].number")
        try:
            state = check_state(cert.get("state") or "")
        except InvalidInput as error:
            raise InvalidInput(error.message, field=f"certificateNumbers[{i}].state") from None
        certificates.append(CertificateNumber(state, number.upper()))
    first = _name_part(first_name, "firstName", required=True)
    last = _name_part(last_name, "lastName", required=True)
    assert first is not None and last is not None
    return Candidate(
        first_name=first, last_name=last,
        middle_name=_name_part(middle_name, "middleName", required=False),
        suffix=_name_part(suffix, "suffix", required=False),
        prior_names=tuple(dict.fromkeys(priors)), date_of_birth=birth,
        certificate_numbers=tuple(dict.fromkeys(certificates)),
    )


# --- the forms a candidate is searched by --------------------------------------------------

_NICKNAMES = NickNamer()


@lru_cache(maxsize=4096)
def first_name_forms(first_key: str) -> tuple[str, ...]:
    """A folded first name with the names the nickname dataset links it to directly (Bill ->
    William, William -> Bill, Will, Billy...), and its initial, which finds records that
    carry only an initial. Nicknames of those names are not added: Chris -> Christina ->
    Tina would link unrelated names."""
    forms = {first_key}
    head = first_key.split(" ")[0]
    for name in {first_key, head}:
        forms |= _NICKNAMES.canonicals_of(name) | _NICKNAMES.nicknames_of(name)
    forms.add(head[:1])
    return tuple(sorted(f for f in forms if f))


@dataclass(frozen=True)
class Probe:
    """One way the candidate may be recorded: as entered, under a prior name, or with first
    and last names swapped."""

    n: int
    kind: str  # entered | prior | swapped
    first: str
    middle: str | None
    last: str
    suffix: str | None


def probes(candidate: Candidate) -> list[Probe]:
    c = candidate
    found = [
        Probe(0, "entered", c.first_name, c.middle_name, c.last_name, c.suffix),
        Probe(1, "swapped", c.last_name, c.middle_name, c.first_name, c.suffix),
    ]
    for prior in c.prior_names:
        parsed = HumanName(prior)
        words = fold(prior).split()
        if len(words) == 1 or not parsed.last:
            # A bare surname (a maiden name): the candidate's own first name goes with it.
            first, middle, last = c.first_name, c.middle_name, prior
        else:
            first, middle, last = parsed.first, parsed.middle or None, parsed.last
        if fold(last) and fold(first):
            found.append(Probe(len(found), "prior", first, middle, last,
                                parsed.suffix or None))
    return found


def birth_dates(candidate: Candidate) -> list[dict[str, Any]]:
    """The full birth dates a check looks for: as entered, and with day and month swapped
    (the common slip between US and European order)."""
    dob = candidate.date_of_birth
    if dob is None or dob.month is None or dob.day is None:
        return []
    found = [{"y": dob.year, "m": dob.month, "d": dob.day, "kind": "exact"}]
    if dob.day != dob.month and dob.day <= 12:
        try:
            date(dob.year, dob.day, dob.month)
            found.append({"y": dob.year, "m": dob.day, "d": dob.month, "kind": "transposed"})
        except ValueError:
            pass
    return found
