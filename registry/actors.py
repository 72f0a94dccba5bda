"""Who is acting, and the role checks every service function makes before it touches data."""

import uuid
from dataclasses import dataclass

from registry.errors import Forbidden
from registry.keys.models import Role


@dataclass(frozen=True)
class Actor:
    name: str
    role: Role
    key_id: uuid.UUID | None = None
    agency_id: uuid.UUID | None = None
    request_id: str | None = None

    @classmethod
    def system(cls, name: str) -> "Actor":
        """The command line and the demo loader act as ``admin`` under their own name."""
        return cls(name=name, role=Role.ADMIN)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.key_id})" if self.key_id else self.name


def require_role(actor: Actor, *roles: Role, to: str) -> None:
    if actor.role not in roles:
        allowed = " or ".join(r.value for r in roles)
        raise Forbidden(
            f"A {actor.role.value} key may not {to}; this needs a {allowed} key.",
            role=actor.role.value,
        )


def require_own_agency(actor: Actor, agency_id: uuid.UUID, *, to: str) -> None:
    """Agency keys act only for their own agency; POST staff act for any agency."""
    require_role(actor, Role.AGENCY, Role.POST_STAFF, to=to)
    if actor.role is Role.AGENCY and actor.agency_id != agency_id:
        raise Forbidden(
            f"An agency key may {to} only for its own agency; this record belongs to another "
            "agency. Ask that agency or POST staff to report it.",
            role=actor.role.value,
        )
