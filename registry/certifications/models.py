import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel


class CertificationStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    LAPSED = "lapsed"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    SURRENDERED = "surrendered"
    DENIED = "denied"
    REINSTATED = "reinstated"


class Discipline(StrEnum):
    LAW_ENFORCEMENT = "law_enforcement"
    CORRECTIONS = "corrections"
    JAIL = "jail"
    COMMUNICATIONS = "communications"
    OTHER = "other"


class Level(StrEnum):
    BASIC = "basic"
    INTERMEDIATE = "intermediate"
    ADVANCED = "advanced"
    SUPERVISOR = "supervisor"
    MANAGEMENT = "management"
    INSTRUCTOR = "instructor"


class Certification(SQLModel, table=True):
    __tablename__ = "certifications"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    officer_id: uuid.UUID = Field(foreign_key="officers.id")
    state: str
    number: str
    issuing_board: str
    discipline: str
    level: str
    issued_on: date
    expires_on: date | None = None
    status: str
    status_since: date
    suspended_until: date | None = None
    version: int = 1
    recorded_at: datetime | None = None
    recorded_by: str
    change_reason: str | None = None


class StatusEvent(SQLModel, table=True):
    """One dated move of a certification's status (or a renewal, which keeps the status)."""

    __tablename__ = "certification_status_events"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    certification_id: uuid.UUID = Field(foreign_key="certifications.id")
    action: str
    from_status: str | None = None
    to_status: str
    effective_on: date
    until_on: date | None = None
    expires_on: date | None = None
    reason: str | None = None
    recorded_at: datetime | None = None
    recorded_by: str
