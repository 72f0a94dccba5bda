"""The board's vote on a case's motion: quorum and majority, as configured.

Pure arithmetic over the votes cast and the members seated on the vote date; the service
and the ``voteResult`` field both use it, so what a client sees is what a final order checks.
"""

from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from math import floor
from typing import Any

from registry.cases.models import Seat, VoteChoice
from registry.settings import Settings

PRESENT = frozenset({VoteChoice.YES, VoteChoice.NO, VoteChoice.ABSTAIN})


@dataclass(frozen=True)
class Rules:
    quorum_fraction: Fraction = Fraction(1, 2)
    min_civilians: int = 1
    basis: str = "present"  # or "votes_cast" (yes + no)
    majority_fraction: Fraction = Fraction(1, 2)

    @classmethod
    def from_settings(cls, settings: Settings) -> "Rules":
        return cls(quorum_fraction=Fraction(str(settings.board_quorum_fraction)),
                   min_civilians=settings.board_quorum_min_civilians,
                   basis=settings.board_majority_basis,
                   majority_fraction=Fraction(str(settings.board_majority_fraction)))


def more_than(fraction: Fraction, of: int) -> int:
    """The smallest whole number strictly greater than ``fraction`` × ``of``."""
    return floor(fraction * of) + 1


@dataclass
class VoteResult:
    vote_date: date | None
    motion: str | None
    tally: dict[str, int]
    seated: int
    present: int
    quorum_needed: int
    quorum_met: bool
    civilians_present: int
    civilian_present: bool
    basis: str
    basis_count: int
    yes_needed: int
    passed: bool
    reason: str

    def snapshot(self) -> dict[str, Any]:
        """What a final order keeps of the vote."""
        return {"vote_date": self.vote_date.isoformat() if self.vote_date else None,
                "motion": self.motion, **self.tally, "seated": self.seated,
                "present": self.present, "quorum_needed": self.quorum_needed,
                "quorum_met": self.quorum_met, "civilians_present": self.civilians_present,
                "basis": self.basis, "yes_needed": self.yes_needed, "passed": self.passed,
                "reason": self.reason}


def count(votes: list[tuple[VoteChoice, Seat]], seated: int, rules: Rules,
          vote_date: date | None, motion: str | None) -> VoteResult:
    """``votes``: each member's choice with their seat; ``seated``: members whose term covers
    the vote date."""
    tally = {c.value: 0 for c in VoteChoice}
    civilians = 0
    for choice, seat in votes:
        tally[VoteChoice(choice).value] += 1
        if VoteChoice(choice) in PRESENT and Seat(seat) is Seat.CIVILIAN:
            civilians += 1
    present = sum(tally[c.value] for c in PRESENT)
    quorum_needed = more_than(rules.quorum_fraction, seated)
    enough = present >= quorum_needed
    civilian_ok = civilians >= rules.min_civilians
    basis_count = present if rules.basis == "present" else tally["yes"] + tally["no"]
    yes_needed = more_than(rules.majority_fraction, basis_count)
    quorum_met = enough and civilian_ok
    passed = quorum_met and tally["yes"] >= yes_needed
    basis_words = "present" if rules.basis == "present" else "votes cast (yes and no)"
    if not votes:
        reason = "No votes have been cast."
    elif not enough:
        reason = (f"No quorum: {present} of {seated} seated members present (voting yes, no "
                  f"or abstain); {quorum_needed} needed.")
    elif not civilian_ok:
        reason = (f"No quorum: {civilians} civilian members present; at least "
                  f"{rules.min_civilians} needed.")
    elif passed:
        reason = (f"The motion ({motion}) passed: {tally['yes']} yes of {basis_count} "
                  f"{basis_words}; {yes_needed} needed.")
    else:
        reason = (f"The motion ({motion}) failed: {tally['yes']} yes of {basis_count} "
                  f"{basis_words}; {yes_needed} needed.")
    return VoteResult(vote_date=vote_date, motion=motion, tally=tally, seated=seated,
                      present=present, quorum_needed=quorum_needed, quorum_met=quorum_met,
                      civilians_present=civilians, civilian_present=civilians > 0,
                      basis=rules.basis, basis_count=basis_count, yes_needed=yes_needed,
                      passed=passed, reason=reason)


def seated_on(term_start: date, term_end: date | None, day: date) -> bool:
    """A term covers its first and its last day."""
    return term_start <= day and (term_end is None or day <= term_end)
