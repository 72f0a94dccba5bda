"""``fl-post``: the Florida POST (CJSTC) employment-history export, one row per employment
record, as in ../shared/data/fl_post_sample (fl-post.csv, fl-post-review.csv).

What the file holds and how it is read:

- ``employment_nbr`` identifies the employment record: it is the row's key, so a file that
  repeats records of another (fl-post-review.csv starts with fl-post.csv's 20 rows) loads
  each record once;
- ``person_nbr`` is Florida's person number: one person per number (source ``fl-post``);
- ``agcy_nbr`` / ``agcy_name``: the agency is found by name in Florida (the file has no ORI).
  Two numbers can carry one name (611 and 11 are both "Florida Department Of Law
  Enforcement", the first for instructor records): they are one registry agency;
- ``employ_start_date`` / ``separation_date``: ``M/D/YYYY 0:00:00``;
- ``separation_code``: mapped by ``SEPARATION_CODES`` below; an unknown code is a reject that
  names it. The code, its meaning and the row's comment are kept in the stint's
  ``separation_note``;
- ``employ_class`` (LE, Corr, CP, Inst...) and ``employ_type`` (FT, PT, Aux) become the rank,
  e.g. "Law enforcement officer (full time)";
- ``birth_year`` comes as a float ("1972.0"); ``sex_code`` and ``race_code`` are kept for new
  people; ``Unnamed: 0`` is a spreadsheet index left in the export and is ignored.

Transfers within an agency (TWA) hand over on the same day: the next record starts on the
day the previous one ended. The registry counts both days of a stint, so such a record
overlaps the previous one and is a reject naming it (POST staff correct one of the dates).
"""

from datetime import date

from loaders import fields
from loaders.stints import StintRow
from registry.dates import PartialDate

# Florida's separation codes -> (registry separation reason, what the code means).
# The meanings follow Florida's Affidavit of Separation (CJSTC form 61) and how the codes are
# used in the sample; where the sample is the only evidence, the comment says so.
SEPARATION_CODES: dict[str, tuple[str, str]] = {
    # Voluntary separation: the officer left of their own accord, no misconduct recorded.
    "VOL": ("resigned", "voluntary separation"),
    # Retired.
    "RET": ("retired", "retired"),
    # Deceased.
    "DEC": ("deceased", "deceased"),
    # Transfer within the agency: the record ends because the officer moves to another class
    # or employment type at the same agency (a new record starts the same day).
    "TWA": ("transferred", "transfer within the agency"),
    # Voluntary separation, violation of agency policy: the officer resigned and the agency
    # recorded a violation of its policies as the reason, i.e. resigned in lieu of discipline.
    "VS-VAP": ("resigned_in_lieu_of_termination",
               "voluntary separation, violation of agency policy"),
    # Voluntary separation, investigation of agency policy: the officer resigned while the
    # agency was investigating a violation of its policies.
    "VS-IAP": ("resigned_under_investigation",
               "voluntary separation while under investigation for a violation of agency "
               "policy"),
    # MR: in the sample only on instructor records (employ_class Inst), ending an
    # instructor's affiliation with a training agency while their other records go on; its
    # expansion is not in the sample, so it is kept as "other" with the code in the note.
    "MR": ("other", "end of an instructor affiliation (code MR)"),
}
CLASSES = {"LE": "Law enforcement officer", "CORR": "Correctional officer",
           "CP": "Correctional probation officer", "INST": "Instructor"}
TYPES = {"FT": "full time", "PT": "part time", "AUX": "auxiliary"}
SEXES = {"M": "male", "F": "female", "U": "unknown"}
RACES = {"WH": "White", "BL": "Black", "HIS": "Hispanic", "AS": "Asian",
         "IND": "American Indian", "OTH": "Other"}
REQUIRED = ("employment_nbr", "person_nbr", "agcy_name", "employ_start_date", "separation_date",
            "separation_code", "last_name", "first_name")


def _birth_year(value: str | None, today: date) -> PartialDate | None:
    raw = (value or "").strip()
    if not raw:
        return None
    try:
        year = int(float(raw))
    except ValueError:
        raise ValueError(f"birth_year '{raw}' is not a year") from None
    if not 1900 <= year <= today.year:
        raise ValueError(f"birth_year {year} is not a plausible year of birth")
    return PartialDate(year)


def _rank(klass: str, kind: str) -> str | None:
    label = CLASSES.get(klass.upper(), klass) if klass else None
    how = TYPES.get(kind.upper(), kind) if kind else None
    if label and how:
        return f"{label} ({how})"
    return label or how


class FloridaPost:
    kind = "fl-post"
    source = "fl-post"
    required = REQUIRED

    def __init__(self, today: date | None = None) -> None:
        self.today = today or date.today()

    def parse(self, v: dict[str, str], line: int) -> StintRow:
        today = self.today
        record = (v.get("employment_nbr") or "").strip()
        person = (v.get("person_nbr") or "").strip()
        if not record:
            raise ValueError("employment_nbr is empty")
        if not person:
            raise ValueError("person_nbr is empty")
        first = fields.person_name(v.get("first_name"), "first_name", required=True)
        last = fields.person_name(v.get("last_name"), "last_name", required=True)
        assert first is not None and last is not None
        agency = fields.text(v.get("agcy_name"), "agcy_name", 200, required=True)
        started = fields.us_date(v.get("employ_start_date"), "employ_start_date", today,
                                 required=True)
        ended = fields.us_date(v.get("separation_date"), "separation_date", today)
        assert started is not None
        if ended is not None and ended < started:
            raise ValueError(f"separation_date {ended} is before employ_start_date {started}")
        code = (v.get("separation_code") or "").strip()
        reason = note = None
        if code:
            known = SEPARATION_CODES.get(code.upper())
            if known is None:
                raise ValueError(f"unknown separation_code '{code}'; known codes: "
                                 f"{', '.join(sorted(SEPARATION_CODES))}")
            if ended is None:
                raise ValueError(f"separation_code '{code}' is given without a separation_date")
            reason, meaning = known
            comment = fields.text(v.get("employ_comments"), "employ_comments", 1500)
            note = f"FL POST separation code {code}: {meaning}" + (
                f". Comment: {comment}" if comment else "")
        elif ended is not None:
            raise ValueError("separation_date is given without a separation_code")
        birth = _birth_year(v.get("birth_year"), today)
        sex = SEXES.get((v.get("sex_code") or "").strip().upper())
        race_code = (v.get("race_code") or "").strip()
        return StintRow(
            line=line, raw=list(v.values()), row_key=record, person_key=person, has_id=True,
            first=first, last=last,
            middle=fields.person_name(v.get("middle_name"), "middle_name", required=False),
            birth=birth, sex=sex,
            race=RACES.get(race_code.upper(), race_code[:60]) if race_code else None,
            payload={"person_nbr": person, "first_name": first, "last_name": last,
                     "birth_year": birth.year if birth else None},
            state="FL", agency_name=agency,
            rank=_rank((v.get("employ_class") or "").strip(), (v.get("employ_type") or "").strip()),
            started_on=started, ended_on=ended, separation_reason=reason, separation_note=note)
