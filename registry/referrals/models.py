"""The referral queue: officers who meet a statutory ground, with the reports that show it."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel


class ReferralStatus(StrEnum):
    OPEN = "open"
    CASE_OPENED = "case_opened"
    DISMISSED = "dismissed"


class EvidenceKind(StrEnum):
    FINDING = "finding"
    STINT = "stint"
    CONVICTION = "conviction"


class Referral(SQLModel, table=True):
    __tablename__ = "referrals"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    officer_id: uuid.UUID = Field(foreign_key="officers.id")
    ground: str
    # [{"kind": EvidenceKind, "id": "<uuid>"}, ...]
    evidence: list[dict[str, Any]] = Field(sa_column=Column(JSONB, nullable=False))
    status: str = ReferralStatus.OPEN.value
    detected_at: datetime | None = None
    updated_at: datetime | None = None
    case_id: uuid.UUID | None = Field(default=None, foreign_key="cases.id")
    dismissed_reason: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
