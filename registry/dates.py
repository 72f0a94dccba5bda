"""Dates as sources give them: birth dates are often known only to the year or month."""

import re
from dataclasses import dataclass
from datetime import date

from registry.errors import InvalidInput

_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


@dataclass(frozen=True)
class PartialDate:
    year: int
    month: int | None = None
    day: int | None = None

    @classmethod
    def parse(cls, value: str, *, field: str = "dateOfBirth") -> "PartialDate":
        """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``; anything else is refused with the reason."""
        text = (value or "").strip()
        m = _PARTIAL.match(text)
        if not m:
            if re.match(r"^\d{4}-(-|XX-|00-)\d{2}$", text):
                raise InvalidInput(
                    f"'{value}' has a day but no month; a partial date may drop the day, or the "
                    "month and the day, but not the month alone.",
                    field=field,
                )
            raise InvalidInput(
                f"'{value}' is not a date; write YYYY-MM-DD, or YYYY-MM or YYYY when only part "
                "is known.",
                field=field,
            )
        year, month, day = (int(g) if g else None for g in m.groups())
        return cls.of(year, month, day, field=field)  # type: ignore[arg-type]

    @classmethod
    def of(
        cls, year: int, month: int | None, day: int | None, *, field: str = "dateOfBirth"
    ) -> "PartialDate":
        if day is not None and month is None:
            raise InvalidInput("A partial date cannot have a day without a month.", field=field)
        if month is not None and not 1 <= month <= 12:
            raise InvalidInput(f"Month {month} does not exist.", field=field)
        if day is not None:
            try:
                date(year, month, day)  # type: ignore[arg-type]
            except ValueError:
                raise InvalidInput(
                    f"{year:04d}-{month:02d}-{day:02d} is not a calendar date.", field=field
                ) from None
        return cls(year, month, day)

    def earliest(self) -> date:
        return date(self.year, self.month or 1, self.day or 1)

    def __str__(self) -> str:
        if self.month is None:
            return f"{self.year:04d}"
        if self.day is None:
            return f"{self.year:04d}-{self.month:02d}"
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"


def check_birth_date(value: PartialDate, today: date) -> PartialDate:
    if value.earliest() > today:
        raise InvalidInput(f"Date of birth {value} is in the future.", field="dateOfBirth")
    if value.year < 1900:
        raise InvalidInput(f"Date of birth {value} is before 1900.", field="dateOfBirth")
    return value


def check_not_future(value: date, today: date, *, field: str) -> date:
    if value > today:
        raise InvalidInput(f"{field} {value} is in the future; report it when it happens.",
                           field=field)
    return value
