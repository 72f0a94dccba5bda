"""``roster``: the registry's own CSV, one row per employment stint.

Columns (header names as written, any order, extra columns ignored; the README has the table):

- source_person_id: the sending system's id of the person; rows with one id are one person
  (optional: rows without are matched by name, birth date and certificate);
- first_name, last_name (required), middle_name, suffix: at most 100 characters;
- prior_names: names used before, separated by ";" ("Roe", "Jane Roe", "Roe, Jane");
- birth_date: YYYY, YYYY-MM or YYYY-MM-DD;
- state (required): the agency's and the certificate's state, two letters;
- certificate_number, certificate_status: together; the status is one of active, inactive,
  lapsed, revoked, surrendered, denied, reinstated;
- agency_name (required unless agency_ori is on file), agency_ori (9 characters, VA0010000);
- rank: at most 100 characters;
- start_date (required), end_date: YYYY-MM-DD, not in the future, end not before start;
- separation_reason: with an end date, one of resigned, retired, terminated,
  resigned_in_lieu_of_termination, resigned_under_investigation,
  retired_under_investigation, deceased, laid_off, transferred, other.

A row is one stint, identified by (person, agency, start date): loading a file again skips
the stints already loaded, and reports a row whose end or separation changed since.
``suspended`` is refused as a certificate status: a suspension needs its end date, which the
roster does not carry (POST staff record it through the case's final order). A certificate
new to the registry is recorded with the start of the first stint that names it as its
issue date (the roster carries no issue date).
"""

from datetime import date
from typing import Any

from loaders import fields
from loaders.fields import fold
from loaders.resolve import check_ori
from loaders.stints import StintRow
from registry.certifications.models import CertificationStatus
from registry.employment.models import SeparationReason
from registry.states import STATE_CODES

COLUMNS = ("source_person_id", "first_name", "middle_name", "last_name", "suffix",
           "prior_names", "birth_date", "state", "certificate_number", "certificate_status",
           "agency_name", "agency_ori", "rank", "start_date", "end_date", "separation_reason")
REQUIRED = ("first_name", "last_name", "state", "agency_name", "start_date")
SEPARATION_REASONS = tuple(r.value for r in SeparationReason)
CERTIFICATE_STATUSES = tuple(s.value for s in CertificationStatus
                             if s is not CertificationStatus.SUSPENDED)


class Roster:
    kind = "roster"
    source = "roster"
    required = REQUIRED

    def __init__(self, today: date | None = None) -> None:
        self.today = today or date.today()
        self._last: tuple[tuple[str, ...], tuple[Any, ...]] | None = None

    def _person(self, v: dict[str, str]) -> tuple[Any, ...]:
        """The person's fields, checked once for a run of rows about the same person."""
        raw = (v.get("source_person_id", ""), v.get("first_name", ""),
               v.get("middle_name", ""), v.get("last_name", ""), v.get("suffix", ""),
               v.get("prior_names", ""), v.get("birth_date", ""))
        if self._last is not None and self._last[0] == raw:
            return self._last[1]
        first = fields.person_name(v.get("first_name"), "first_name", required=True)
        last = fields.person_name(v.get("last_name"), "last_name", required=True)
        middle = fields.person_name(v.get("middle_name"), "middle_name", required=False)
        suffix = fields.text(v.get("suffix"), "suffix", 20)
        birth = fields.birth_date(v.get("birth_date"), self.today)
        priors = fields.prior_names(v.get("prior_names"))
        payload = {"first_name": first, "middle_name": middle, "last_name": last,
                   "suffix": suffix, "birth_date": str(birth) if birth else None}
        person = (first, last, middle, suffix, birth, priors, payload,
                  fields.name_key(first, middle, last, suffix),
                  fields.sort_key(first, middle, last))
        self._last = (raw, person)
        return person

    def parse(self, v: dict[str, str], line: int) -> StintRow:
        today = self.today
        first, last, middle, suffix, birth, priors, payload, key, order = self._person(v)
        state = (v.get("state") or "").strip().upper()
        if state not in STATE_CODES:
            raise ValueError(f"state '{v.get('state', '')}' is not a US state code")
        number = fields.text(v.get("certificate_number"), "certificate_number", 40)
        status_raw = (v.get("certificate_status") or "").strip()
        if status_raw.lower() == "suspended":
            raise ValueError("certificate_status 'suspended' needs an end date, which the "
                             "roster has no column for; record the suspension through its "
                             "case, or send the certificate's status before it")
        status = fields.enum_value(status_raw, "certificate_status", CERTIFICATE_STATUSES)
        if number and status is None:
            raise ValueError("certificate_number is given without a certificate_status")
        if status and not number:
            raise ValueError("certificate_status is given without a certificate_number")
        agency_name = fields.text(v.get("agency_name"), "agency_name", 200)
        agency_ori = check_ori(v.get("agency_ori"), state)
        if agency_name is None and agency_ori is None:
            raise ValueError("agency_name is empty")
        started = fields.iso_date(v.get("start_date"), "start_date", today, required=True)
        ended = fields.iso_date(v.get("end_date"), "end_date", today)
        assert started is not None
        if ended is not None and ended < started:
            raise ValueError(f"end_date {ended} is before start_date {started}")
        reason = fields.enum_value(v.get("separation_reason"), "separation_reason",
                                   SEPARATION_REASONS)
        if ended is not None and reason is None:
            raise ValueError("end_date is given without a separation_reason")
        if reason is not None and ended is None:
            raise ValueError(f"separation_reason '{reason}' is given without an end_date")
        source_id = fields.text(v.get("source_person_id"), "source_person_id", 200)
        if source_id:
            person = source_id
        else:
            # No id: the person is known by name, birth date and certificate in this file.
            person = "~" + "|".join((fold(first), fold(middle)[:1], fold(last), fold(suffix),
                                     str(birth or ""), number or ""))
        agency = agency_ori or fold(agency_name)
        return StintRow(
            line=line, raw=list(v.values()), row_key=f"{person}|{state}|{agency}|{started}",
            person_key=person, has_id=bool(source_id), first=first, last=last, middle=middle,
            suffix=suffix, prior_names=priors, birth=birth, name_key=key, sort_key=order,
            state=state, agency_name=agency_name, agency_ori=agency_ori, payload=payload,
            cert_number=number, cert_status=status, rank=fields.text(v.get("rank"), "rank", 100),
            started_on=started, ended_on=ended, separation_reason=reason)
