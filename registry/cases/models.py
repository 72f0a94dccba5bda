"""Decertification cases and the board that decides them."""

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel


class CaseStatus(StrEnum):
    OPEN = "open"
    UNDER_REVIEW = "under_review"
    HEARING_SCHEDULED = "hearing_scheduled"
    VOTED = "voted"
    FINAL_ORDER = "final_order"
    APPEALED = "appealed"
    CLOSED = "closed"


class Seat(StrEnum):
    LAW_ENFORCEMENT = "law_enforcement"
    CIVILIAN = "civilian"
    OTHER = "other"


class VoteChoice(StrEnum):
    YES = "yes"
    NO = "no"
    ABSTAIN = "abstain"
    RECUSED = "recused"


class Outcome(StrEnum):
    REVOCATION = "revocation"
    SUSPENSION = "suspension"
    SURRENDER = "surrender"
    DENIAL = "denial"
    NO_ACTION = "no_action"


class AppealStatus(StrEnum):
    PENDING = "pending"
    UPHELD = "upheld"
    OVERTURNED = "overturned"


class ActionKind(StrEnum):
    FINAL_ORDER = "final_order"
    APPEAL_UPHELD = "appeal_upheld"
    APPEAL_OVERTURNED = "appeal_overturned"
    REINSTATEMENT = "reinstatement"


class BoardMember(SQLModel, table=True):
    __tablename__ = "board_members"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str
    seat: str
    term_start: date
    term_end: date | None = None
    # The board_member API key this member votes with: a key votes only as its member.
    api_key_id: uuid.UUID | None = Field(default=None, foreign_key="api_keys.id", unique=True)
    version: int = 1
    recorded_at: datetime | None = None
    recorded_by: str
    change_reason: str | None = None


class Case(SQLModel, table=True):
    __tablename__ = "cases"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    number: str = Field(unique=True)
    officer_id: uuid.UUID = Field(foreign_key="officers.id")
    status: str = CaseStatus.OPEN.value
    grounds: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(Text), nullable=False))
    evidence: list[dict[str, Any]] = Field(default_factory=list,
                                           sa_column=Column(JSONB, nullable=False))
    summary: str | None = None
    proposed_outcome: str | None = None
    proposed_until: date | None = None
    opened_at: datetime | None = None
    opened_by: str
    version: int = 1
    recorded_at: datetime | None = None
    recorded_by: str
    change_reason: str | None = None


class CaseStatusEvent(SQLModel, table=True):
    __tablename__ = "case_status_events"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="cases.id")
    from_status: str | None = None
    to_status: str
    reason: str | None = None
    recorded_at: datetime | None = None
    recorded_by: str


class Hearing(SQLModel, table=True):
    __tablename__ = "hearings"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="cases.id")
    scheduled_for: datetime
    notice_sent_on: date
    location: str | None = None
    recorded_at: datetime | None = None
    recorded_by: str


class Vote(SQLModel, table=True):
    __tablename__ = "votes"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="cases.id")
    member_id: uuid.UUID = Field(foreign_key="board_members.id")
    vote: str
    cast_on: date
    recorded_at: datetime | None = None
    recorded_by: str


class FinalOrder(SQLModel, table=True):
    __tablename__ = "final_orders"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="cases.id", unique=True)
    outcome: str
    effective_on: date
    suspended_until: date | None = None
    public_text: str
    # The vote as counted when the order was entered: {"yes": n, "no": n, ...}.
    tally: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    recorded_at: datetime | None = None
    recorded_by: str


class Appeal(SQLModel, table=True):
    __tablename__ = "appeals"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="cases.id")
    filed_on: date
    court: str | None = None
    status: str = AppealStatus.PENDING.value
    decided_on: date | None = None
    decision_note: str | None = None
    version: int = 1
    recorded_at: datetime | None = None
    recorded_by: str
    change_reason: str | None = None


class DecertificationAction(SQLModel, table=True):
    """One entry for the NDI export: a final order, an appeal outcome or a reinstatement."""

    __tablename__ = "decertification_actions"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    officer_id: uuid.UUID = Field(foreign_key="officers.id")
    case_id: uuid.UUID | None = Field(default=None, foreign_key="cases.id")
    certification_id: uuid.UUID | None = Field(default=None, foreign_key="certifications.id")
    kind: str
    outcome: str | None = None
    effective_on: date
    until_on: date | None = None
    grounds: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(Text), nullable=False))
    recorded_at: datetime | None = None
    recorded_by: str
