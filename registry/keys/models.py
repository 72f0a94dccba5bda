import uuid
from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel


class Role(StrEnum):
    AGENCY = "agency"
    POST_STAFF = "post_staff"
    BOARD_MEMBER = "board_member"
    ADMIN = "admin"


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str
    role: str
    agency_id: uuid.UUID | None = Field(default=None, foreign_key="agencies.id")
    token_hash: bytes
    recorded_at: datetime | None = None
    revoked_at: datetime | None = None
