"""What departments and courts report about an officer: misconduct findings, convictions."""

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel


class Category(StrEnum):
    FORCE = "force"
    DISHONESTY = "dishonesty"
    SEXUAL_MISCONDUCT = "sexual_misconduct"
    BIAS = "bias"
    CRIMINAL_CONDUCT = "criminal_conduct"
    ABUSE_OF_POWER = "abuse_of_power"
    FAILURE_TO_INTERVENE = "failure_to_intervene"
    OTHER = "other"


class Disposition(StrEnum):
    SUSTAINED = "sustained"
    NOT_SUSTAINED = "not_sustained"
    EXONERATED = "exonerated"
    UNFOUNDED = "unfounded"
    POLICY_FAILURE = "policy_failure"
    PENDING = "pending"


class DisciplineImposed(StrEnum):
    TERMINATION = "termination"
    SUSPENSION = "suspension"
    DEMOTION = "demotion"
    REPRIMAND = "reprimand"
    RETRAINING = "retraining"
    NONE = "none"


class OffenseLevel(StrEnum):
    FELONY = "felony"
    MISDEMEANOR = "misdemeanor"


class Finding(SQLModel, table=True):
    """A department's finding on one allegation against one officer (versioned: amendments
    such as pending -> sustained, or discipline reversed in arbitration, are new versions)."""

    __tablename__ = "findings"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    officer_id: uuid.UUID = Field(foreign_key="officers.id")
    agency_id: uuid.UUID = Field(foreign_key="agencies.id")
    incident_on: date
    reported_on: date
    category: str
    recommended_disposition: str
    final_disposition: str
    discipline: str | None = None
    suspension_days: int | None = None
    completed_after_separation: bool = False
    public_releasable: bool = False
    summary: str | None = None
    idempotency_key: str | None = None
    version: int = 1
    recorded_at: datetime | None = None
    recorded_by: str
    change_reason: str | None = None


class Conviction(SQLModel, table=True):
    """A criminal conviction reported by an agency or entered by POST staff (versioned)."""

    __tablename__ = "convictions"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    officer_id: uuid.UUID = Field(foreign_key="officers.id")
    reported_by_agency_id: uuid.UUID | None = Field(default=None, foreign_key="agencies.id")
    offense: str
    level: str
    domestic_violence: bool = False
    convicted_on: date
    court: str | None = None
    idempotency_key: str | None = None
    version: int = 1
    recorded_at: datetime | None = None
    recorded_by: str
    change_reason: str | None = None


