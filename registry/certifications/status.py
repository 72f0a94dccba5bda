"""The certification status state machine, in one table.

Administrative moves are POST staff's; board moves come only from a decertification case's
final order, appeal or reinstatement, never from a clerk's status edit.
"""

from datetime import date
from enum import StrEnum

from registry.certifications.models import CertificationStatus as S


class Move(StrEnum):
    LAPSE = "lapse"
    INACTIVATE = "inactivate"
    REACTIVATE = "reactivate"
    SUSPEND = "suspend"
    REVOKE = "revoke"
    SURRENDER = "surrender"
    DENY = "deny"
    REINSTATE = "reinstate"


ADMINISTRATIVE = frozenset({Move.LAPSE, Move.INACTIVATE, Move.REACTIVATE})
BY_FINAL_ORDER = frozenset({Move.SUSPEND, Move.REVOKE, Move.SURRENDER, Move.DENY, Move.REINSTATE})

_DISCIPLINE = {Move.SUSPEND: S.SUSPENDED, Move.REVOKE: S.REVOKED, Move.SURRENDER: S.SURRENDERED}
_IN_SERVICE = {Move.LAPSE: S.LAPSED, Move.INACTIVATE: S.INACTIVE, **_DISCIPLINE}

TRANSITIONS: dict[S, dict[Move, S]] = {
    S.ACTIVE: _IN_SERVICE,
    S.REINSTATED: _IN_SERVICE,
    # An inactive or lapsed officer's application to return can be denied by final order.
    S.INACTIVE: {Move.REACTIVATE: S.ACTIVE, Move.LAPSE: S.LAPSED, **_DISCIPLINE,
                 Move.DENY: S.DENIED},
    S.LAPSED: {Move.REACTIVATE: S.ACTIVE, Move.REVOKE: S.REVOKED, Move.SURRENDER: S.SURRENDERED,
               Move.DENY: S.DENIED},
    S.SUSPENDED: {Move.REVOKE: S.REVOKED, Move.SURRENDER: S.SURRENDERED},
    S.REVOKED: {Move.REINSTATE: S.REINSTATED},
    S.SURRENDERED: {Move.REINSTATE: S.REINSTATED},
    S.DENIED: {Move.REINSTATE: S.REINSTATED},
}

# Renewal sets a new expiry date; the status stays as it is.
RENEWABLE = frozenset({S.ACTIVE, S.REINSTATED, S.INACTIVE, S.LAPSED})


def allowed_moves(status: S) -> list[Move]:
    return list(TRANSITIONS[status])


# What an overturned appeal does: the status a final order changed comes back. Not a move of
# the table (its target is whatever the order replaced) and never administrative.
RESTORE = "restore"


def effective_status(status: S, suspended_until: date | None, day: date,
                     before_suspension: S | None) -> S:
    """The status in effect on ``day`` given the recorded one: a suspension whose end date has
    come gives way to the status it interrupted (``before_suspension``)."""
    if (status is S.SUSPENDED and suspended_until is not None and suspended_until <= day
            and before_suspension is not None):
        return before_suspension
    return status


def status_on(events: list[tuple[date, S, S | None, date | None]], day: date) -> S | None:
    """The status in effect on ``day`` from dated events ``(effective_on, to, from, until)``
    in the order they were recorded. A suspension ends by itself on its ``until`` date, when
    the status it interrupted comes back. None before the certification was issued."""
    current: S | None = None
    for effective_on, to_status, from_status, until_on in sorted(events, key=lambda e: e[0]):
        if effective_on > day:
            break
        current = to_status
        if to_status is S.SUSPENDED and until_on is not None and until_on <= day:
            current = from_status
    return current
