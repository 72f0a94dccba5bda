import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel


class AuditEvent(SQLModel, table=True):
    """Append-only; ``id``, ``occurred_at``, ``prev_hash`` and ``hash`` are set by the database."""

    __tablename__ = "audit_events"

    id: int | None = Field(default=None, primary_key=True)
    occurred_at: datetime | None = None
    actor_key_id: uuid.UUID | None = None
    actor: str
    role: str
    agency_id: uuid.UUID | None = None
    operation: str
    entity_type: str
    entity_id: str | None = None
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    request_id: str | None = None
    prev_hash: bytes | None = None
    hash: bytes | None = None
