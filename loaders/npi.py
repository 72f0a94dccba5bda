"""``npi``: the National Police Index column layout, one file per state (``--state``).

Columns: person_nbr, first_name, middle_name, last_name, agency_name, start_date, end_date,
separation_reason, rank, current_certificate_status, certification_type, type.

- ``person_nbr`` is the state's person number: people are found by the source record
  ``(npi:<state>, person_nbr)``;
- dates are YYYY-MM-DD or M/D/YYYY;
- ``separation_reason`` is the state's own wording; ``SEPARATION_RULES`` below map it (first
  rule that matches the folded text), wording no rule knows is a reject that quotes it, and
  an end date with no reason becomes ``other`` with a note saying none was given. The
  wording is kept in the stint's ``separation_note``;
- the NPI carries no certificate number, so no certificate is recorded:
  ``current_certificate_status`` (checked against ``CERTIFICATE_STATUSES``),
  ``certification_type`` and ``type`` are kept in the person's source record.
"""

import re
from datetime import date

from loaders import fields
from loaders.stints import StintRow
from registry.names import fold
from registry.states import STATE_CODES

COLUMNS = ("person_nbr", "first_name", "middle_name", "last_name", "agency_name", "start_date",
           "end_date", "separation_reason", "rank", "current_certificate_status",
           "certification_type", "type")
REQUIRED = ("person_nbr", "first_name", "last_name", "agency_name", "start_date", "end_date",
            "separation_reason")

# (pattern on the folded wording, registry separation reason), first match wins.
SEPARATION_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), r) for p, r in (
        (r"in lieu", "resigned_in_lieu_of_termination"),
        (r"retir\w* (while |during |pending |under )?\w* ?investigat",
         "retired_under_investigation"),
        (r"(resign|quit|separat)\w* (while |during |pending |under )?\w* ?investigat",
         "resigned_under_investigation"),
        (r"terminat|dismiss|discharg|fired|removed for cause|involuntar", "terminated"),
        (r"retir", "retired"),
        (r"deceas|death|died|killed", "deceased"),
        (r"laid off|layoff|lay off|reduction in force|\brif\b", "laid_off"),
        (r"transfer", "transferred"),
        (r"resign|quit|voluntar|personal|left", "resigned"),
        (r"^other\b|contract ended|end of (term|contract|appointment)|probation", "other"),
    ))
CERTIFICATE_STATUSES = {
    "active": "active", "certified": "active", "inactive": "inactive", "lapsed": "lapsed",
    "expired": "lapsed", "suspended": "suspended", "revoked": "revoked",
    "decertified": "revoked", "surrendered": "surrendered",
    "voluntarily surrendered": "surrendered", "denied": "denied",
    "reinstated": "reinstated"}


def separation(text: str) -> str:
    key = fold(text)
    for pattern, reason in SEPARATION_RULES:
        if pattern.search(key):
            return reason
    raise ValueError(f"separation_reason '{text}' matches no rule of loaders/npi.py "
                     "(SEPARATION_RULES); add one, or correct the row")


class NationalPoliceIndex:
    kind = "npi"
    required = REQUIRED

    def __init__(self, state: str, today: date | None = None) -> None:
        state = state.strip().upper()
        if state not in STATE_CODES:
            raise ValueError(f"'{state}' is not a US state code")
        self.state = state
        self.source = f"npi:{state}"
        self.today = today or date.today()

    def parse(self, v: dict[str, str], line: int) -> StintRow:
        today = self.today
        person = fields.text(v.get("person_nbr"), "person_nbr", 200, required=True)
        assert person is not None
        first = fields.person_name(v.get("first_name"), "first_name", required=True)
        last = fields.person_name(v.get("last_name"), "last_name", required=True)
        assert first is not None and last is not None
        agency = fields.text(v.get("agency_name"), "agency_name", 200, required=True)
        started = fields.any_date(v.get("start_date"), "start_date", today, required=True)
        ended = fields.any_date(v.get("end_date"), "end_date", today)
        assert started is not None
        if ended is not None and ended < started:
            raise ValueError(f"end_date {ended} is before start_date {started}")
        wording = fields.text(v.get("separation_reason"), "separation_reason", 1500)
        reason = note = None
        if ended is not None:
            if wording:
                reason, note = separation(wording), f"NPI separation reason: {wording}"
            else:
                reason, note = "other", "the NPI gives no separation reason"
        elif wording:
            raise ValueError(f"separation_reason '{wording}' is given without an end_date")
        status_raw = fields.text(v.get("current_certificate_status"),
                                 "current_certificate_status", 100)
        status = None
        if status_raw:
            status = CERTIFICATE_STATUSES.get(fold(status_raw))
            if status is None:
                raise ValueError(f"current_certificate_status '{status_raw}' is not one of "
                                 f"{', '.join(sorted(CERTIFICATE_STATUSES))}")
        return StintRow(
            line=line, raw=list(v.values()), row_key=f"{person}|{fold(agency)}|{started}",
            person_key=person, has_id=True, first=first, last=last,
            middle=fields.person_name(v.get("middle_name"), "middle_name", required=False),
            payload={"person_nbr": person, "first_name": first, "last_name": last,
                     "current_certificate_status": status,
                     "certification_type": fields.text(v.get("certification_type"),
                                                       "certification_type", 200),
                     "type": fields.text(v.get("type"), "type", 200)},
            state=self.state, agency_name=agency, rank=fields.text(v.get("rank"), "rank", 100),
            started_on=started, ended_on=ended, separation_reason=reason, separation_note=note)
