"""Errors a client can act on. Each carries a stable ``code`` that reaches GraphQL as
``extensions.code``; the message says what was wrong and how to fix it."""

from typing import Any


class RegistryError(Exception):
    code = "BAD_USER_INPUT"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    @property
    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, **self.details}


class InvalidInput(RegistryError):
    code = "BAD_USER_INPUT"


class NotFound(RegistryError):
    code = "NOT_FOUND"


class Unauthenticated(RegistryError):
    code = "UNAUTHENTICATED"


class Forbidden(RegistryError):
    code = "FORBIDDEN"


class Conflict(RegistryError):
    """The record changed since the client read it (stale ``expectedVersion``)."""

    code = "CONFLICT"


class Duplicate(RegistryError):
    code = "DUPLICATE"


class IllegalStatusMove(RegistryError):
    code = "ILLEGAL_STATUS_MOVE"


class OverlappingStint(RegistryError):
    code = "OVERLAPPING_STINT"


class DatabaseUnavailable(RegistryError):
    code = "DATABASE_UNAVAILABLE"
