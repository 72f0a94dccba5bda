"""Errors a client can act on. Each carries a stable ``code`` that reaches GraphQL as
``extensions.code``; the message says what was wrong and how to fix it; ``status`` and
``headers`` are the HTTP status and headers of a page or request refused as a whole for it
(read them; do not change them)."""

from typing import Any


class RegistryError(Exception):
    code = "BAD_USER_INPUT"
    status = 400
    headers: dict[str, str] = {}

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
    status = 404
    code = "NOT_FOUND"


class Unauthenticated(RegistryError):
    status = 401
    code = "UNAUTHENTICATED"


class Forbidden(RegistryError):
    status = 403
    code = "FORBIDDEN"


class Conflict(RegistryError):
    """The record changed since the client read it (stale ``expectedVersion``)."""

    code = "CONFLICT"
    status = 409


class Duplicate(RegistryError):
    code = "DUPLICATE"


class IllegalStatusMove(RegistryError):
    code = "ILLEGAL_STATUS_MOVE"


class OverlappingStint(RegistryError):
    code = "OVERLAPPING_STINT"


class DatabaseUnavailable(RegistryError):
    code = "DATABASE_UNAVAILABLE"
    status = 503
    # What every 503 for an unreachable database sends as ``Retry-After``.
    RETRY_AFTER_SECONDS = 5
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    # One wording for the API, the report page and the public pages.
    MESSAGE = (f"The registry's database is not answering; try again in {RETRY_AFTER_SECONDS} "
               "seconds.")

    def __init__(self, message: str = MESSAGE, **details: Any) -> None:
        super().__init__(message, **details)


class NotEmployedByAgency(RegistryError):
    """A report names an officer the reporting agency never employed."""

    code = "NOT_EMPLOYED_BY_AGENCY"


class IdempotencyKeyReused(RegistryError):
    """A retried report's idempotency key was first used for a different report."""

    code = "IDEMPOTENCY_KEY_REUSED"


class ReferralNotOpen(RegistryError):
    code = "REFERRAL_NOT_OPEN"


class ReferralOfficerMismatch(RegistryError):
    code = "REFERRAL_OFFICER_MISMATCH"


class NotABoardMember(RegistryError):
    """A board_member key that no seated board member is linked to."""

    code = "NOT_A_BOARD_MEMBER"


class TermNotCurrent(RegistryError):
    """A board member whose term does not cover the date of the vote."""

    code = "TERM_NOT_CURRENT"


class NoMotion(RegistryError):
    """A vote on a case whose proposed outcome (the motion) is not set."""

    code = "NO_MOTION"


class VotingStarted(RegistryError):
    """The motion cannot change once board members have voted on it."""

    code = "VOTING_STARTED"


class NoQuorum(RegistryError):
    code = "NO_QUORUM"


class MotionFailed(RegistryError):
    code = "MOTION_FAILED"


class NoFinalOrder(RegistryError):
    code = "NO_FINAL_ORDER"


class RateLimited(RegistryError):
    """Too many requests for the caller's allowance; ``retryAfter`` says how many seconds to
    wait."""

    code = "RATE_LIMITED"
    status = 429
