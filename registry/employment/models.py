import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel


class SeparationReason(StrEnum):
    RESIGNED = "resigned"
    RETIRED = "retired"
    TERMINATED = "terminated"
    RESIGNED_IN_LIEU_OF_TERMINATION = "resigned_in_lieu_of_termination"
    RESIGNED_UNDER_INVESTIGATION = "resigned_under_investigation"
    RETIRED_UNDER_INVESTIGATION = "retired_under_investigation"
    DECEASED = "deceased"
    LAID_OFF = "laid_off"
    TRANSFERRED = "transferred"
    OTHER = "other"


class Stint(SQLModel, table=True):
    """One period of employment of an officer at an agency."""

    __tablename__ = "stints"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    officer_id: uuid.UUID = Field(foreign_key="officers.id")
    agency_id: uuid.UUID = Field(foreign_key="agencies.id")
    rank: str | None = None
    started_on: date
    ended_on: date | None = None
    separation_reason: str | None = None
    separation_note: str | None = None
    reported_by_agency_id: uuid.UUID | None = Field(default=None, foreign_key="agencies.id")
    reported_at: datetime | None = None
    version: int = 1
    recorded_at: datetime | None = None
    recorded_by: str
    change_reason: str | None = None
