"""Refusals.  A refused command raises one of these before any event is triggered,
so nothing is written.  Each names a rule and a code of the catalogue (``domain.codes``:
the types :data:`~domain.codes.Rule` and :data:`~domain.codes.Code` let mypy check every
raise site; ``python -m domain.codes`` prints the table of codes).

>>> e = RuleViolation("order", "approve.notice_open", "notice period ends 2023-06-08", field="occurred_on")
>>> e.as_dict()
{'code': 'approve.notice_open', 'rule': 'order', 'field': 'occurred_on', 'message': 'notice period ends 2023-06-08', \
'retry': 'after_facts'}

``retry`` says whether sending the command again can help (:data:`~domain.codes.Retry`):
``yes`` for a conflict or an unanswering store, ``after_facts`` for a rule that may let it
pass once other facts are recorded or on a later date, ``never`` when the command itself is
at fault.
"""

from __future__ import annotations

from domain.codes import CATALOGUE, RULES, Code, Retry, Rule


class LedgerError(Exception):
    """Base of every refusal the ledger gives."""

    exit_code = 1

    def __init__(self, rule: Rule, code: Code, message: str, field: str | None = None):
        super().__init__(message)
        self.rule = rule
        self.code = code
        self.message = message
        self.field = field

    @property
    def retry(self) -> Retry:
        """Whether a retry can help, as the catalogue gives it for the code."""
        return CATALOGUE[self.code].retry

    def as_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "rule": self.rule, "field": self.field, "message": self.message,
                "retry": self.retry}

    def __str__(self) -> str:
        where = f" [{self.field}]" if self.field else ""
        return f"{self.code}{where}: {self.message} (rule: {RULES.get(self.rule, self.rule)})"


class RuleViolation(LedgerError):
    """A command that is well-formed but breaks a rule of the domain."""


class NotFound(LedgerError):
    """The command names an enterprise, application or reward the ledger does not hold."""


class Conflict(LedgerError):
    """Another writer changed the same aggregate; retried by the service, then reported."""
