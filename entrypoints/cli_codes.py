"""``cultivation codes``: the refusal catalogue (``domain.codes``) for people and clients.

Every code a refusal can carry, with its rule, the field(s) it names, the CLI's exit code,
the NATS status, whether a retry can help (and why) and its meaning; ``--rule`` keeps one
rule's codes.  The table is for people, ``--json`` for clients deciding what to do with a
refusal.
"""

from __future__ import annotations

import argparse
from typing import Any

import msgspec

from domain.codes import CATALOGUE, RETRIES, RULES, Code, Retry, Rule, retry_why, shown_fields
from entrypoints.console import EXIT_OK, CliError, print_json, table

# The retry classes as people read them (the catalogue's RETRIES say each at length).
RETRY_LABELS: dict[Retry, str] = {"yes": "可重试", "after_facts": "待新事实", "never": "勿重试"}


class CodeRow(msgspec.Struct, frozen=True, kw_only=True):
    """One code of the catalogue as ``cultivation --json codes`` prints it."""

    code: Code
    rule: Rule
    fields: tuple[str | None, ...]
    exit: int
    status: int | None
    retry: Retry
    retry_why: str
    meaning: str


def code_rows(rule: str | None = None) -> list[CodeRow]:
    """The catalogue's codes (of ``rule`` only, if given), rule by rule as the README lists them.

    >>> [r.code for r in code_rows("query")]
    ['query.too_large']
    >>> code_rows("internal")[-1].retry, code_rows("internal")[-1].fields
    ('never', (None,))
    """
    order = list(RULES)
    rows = [CodeRow(code=code, rule=e.rule, fields=e.fields, exit=e.exit, status=e.status, retry=e.retry,
                    retry_why=retry_why(code)[1], meaning=e.meaning)
            for code, e in CATALOGUE.items() if rule is None or e.rule == rule]
    return sorted(rows, key=lambda r: order.index(r.rule))  # stable: catalogue order within a rule


def _codes(args: argparse.Namespace) -> int:
    if args.rule is not None and args.rule not in RULES:
        raise CliError(f"--rule: {args.rule!r} is no rule; one of {', '.join(RULES)}", field="--rule")
    rows = code_rows(args.rule)
    if args.json:
        print_json({"ok": True, "count": len(rows), "retries": RETRIES,
                    "rules": {r: d for r, d in RULES.items() if args.rule in (None, r)},
                    "codes": [msgspec.structs.asdict(r) for r in rows]})
        return EXIT_OK
    table(f"拒绝代码 refusal codes ({len(rows)})" + (f": {RULES[args.rule]}" if args.rule else ""),
          ["代码 code", "规则 rule", "字段 field", "退出 exit", "NATS", "重试 retry", "含义 meaning"],
          [[r.code, r.rule, shown_fields(r.fields), r.exit, r.status or "-", f"{RETRY_LABELS[r.retry]} {r.retry}",
            r.meaning] for r in rows])
    for retry, what in RETRIES.items():
        print(f"{retry}: {what}")
    return EXIT_OK


def add_codes_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``cultivation codes`` on the CLI's subparsers."""
    p = sub.add_parser("codes", parents=[common], help="the refusal codes: rule, field, exit, NATS status, retry",
                       description="Every code a refusal carries (domain/codes.py): its rule, the field(s) it "
                                   "names, the exit code, the NATS error status, whether a retry can help (yes: "
                                   "send the same command again as it is; after_facts: only after other facts are "
                                   "recorded or on a later date; never: correct the command) and its meaning. "
                                   "--json adds why for each retry class.")
    p.add_argument("--rule", metavar="RULE", help="only this rule's codes: " + ", ".join(RULES))
    p.set_defaults(func=_codes)
