import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ARRAY, Column, Text
from sqlmodel import Field, SQLModel


class AgencyType(StrEnum):
    POLICE = "police"
    SHERIFF = "sheriff"
    JAIL = "jail"
    CORRECTIONS = "corrections"
    STATE = "state"
    UNIVERSITY = "university"
    TRIBAL = "tribal"
    TRANSIT = "transit"
    SCHOOL = "school"
    AIRPORT = "airport"
    FEDERAL = "federal"
    OTHER = "other"


class Agency(SQLModel, table=True):
    __tablename__ = "agencies"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    state: str
    ori: str | None = None
    name: str
    name_key: str
    aliases: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(Text), nullable=False))
    agency_type: str
    version: int = 1
    recorded_at: datetime | None = None
    recorded_by: str
    change_reason: str | None = None
