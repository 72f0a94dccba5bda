import secrets
import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel


class NameKind(StrEnum):
    PRIOR = "prior"
    MAIDEN = "maiden"
    ALIAS = "alias"


class Officer(SQLModel, table=True):
    """A person. Source records describe people; merges point a duplicate at its survivor."""

    __tablename__ = "officers"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    canonical_id: uuid.UUID
    merged_into_id: uuid.UUID | None = None
    # Random and unrelated to ``id``: the only identifier the public pages show.
    public_id: str = Field(default_factory=lambda: secrets.token_hex(8))
    first_name: str
    middle_name: str | None = None
    last_name: str
    suffix: str | None = None
    name_key: str
    sort_key: str
    birth_year: int | None = None
    birth_month: int | None = None
    birth_day: int | None = None
    post_id: str | None = None
    sex: str | None = None
    race: str | None = None
    version: int = 1
    recorded_at: datetime | None = None
    recorded_by: str
    change_reason: str | None = None


class OfficerName(SQLModel, table=True):
    """A prior, maiden or alias name the person used."""

    __tablename__ = "officer_names"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    officer_id: uuid.UUID = Field(foreign_key="officers.id")
    kind: str
    first_name: str | None = None
    middle_name: str | None = None
    last_name: str
    suffix: str | None = None
    name_key: str
    used_until: date | None = None
    recorded_at: datetime | None = None
    recorded_by: str


class SourceRecord(SQLModel, table=True):
    __tablename__ = "source_records"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    officer_id: uuid.UUID = Field(foreign_key="officers.id")
    source: str
    source_key: str
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    recorded_at: datetime | None = None
    recorded_by: str


class IdentityEvent(SQLModel, table=True):
    """A merge (two records are one person) or a split (undoing a merge)."""

    __tablename__ = "officer_identity_events"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    kind: str
    survivor_id: uuid.UUID = Field(foreign_key="officers.id")
    merged_id: uuid.UUID = Field(foreign_key="officers.id")
    reason: str
    recorded_at: datetime | None = None
    recorded_by: str
