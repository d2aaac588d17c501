"""Refusals.  A refused command raises one of these before any event is triggered,
so nothing is written.

>>> e = RuleViolation("order", "approve.notice_open", "notice period ends 2023-06-08", field="occurred_on")
>>> e.as_dict()
{'code': 'approve.notice_open', 'rule': 'order', 'field': 'occurred_on', 'message': 'notice period ends 2023-06-08'}
"""

from __future__ import annotations

# The nine rules of docs/domain.md, by the name the refusals carry.
RULES = {
    "order": "1. Order: recommendation, assessment and a closed notice period precede approval",
    "authority": "2. Authority: only the deciding authority decides; only a covering recommender recommends",
    "ladder": "3. Ladder: prerequisites valid on the application date, no excluding designation",
    "validity": "4. Validity: valid_from <= d < valid_until and not revoked on or before d",
    "review": "5. Review: inside the review window, yearly data filed",
    "revocation": "6. Revocation: reason class, document, cooling-off period",
    "change": "7. Change reports: due within the policy's months; relocation triggers re-confirmation",
    "reward": "8. Rewards: valid designation, once per scheme, cap, yearly budget",
    "immutability": "9. Nothing is updated or deleted: corrections name what they correct",
    "identity": "Identity: enterprises, applications and products are named consistently",
    "policy": "Policy: the programme, tier and scheme must exist in the rule version in force",
}


class LedgerError(Exception):
    """Base of every refusal the ledger gives."""

    exit_code = 1

    def __init__(self, rule: str, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.rule = rule
        self.code = code
        self.message = message
        self.field = field

    def as_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "rule": self.rule, "field": self.field, "message": self.message}

    def __str__(self) -> str:
        where = f" [{self.field}]" if self.field else ""
        return f"{self.code}{where}: {self.message} (rule: {RULES.get(self.rule, self.rule)})"


class RuleViolation(LedgerError):
    """A command that is well-formed but breaks a rule of the domain."""


class NotFound(LedgerError):
    """The command names an enterprise, application or reward the ledger does not hold."""


class Conflict(LedgerError):
    """Another writer changed the same aggregate; retried by the service, then reported."""
