"""One catalogue of refusals (domain.codes): every code the source raises is in it with the
rule and the status its raise site gives, nothing in it is unused, the scenarios expect only
catalogued codes, and the README's table is the one ``python -m domain.codes`` prints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from domain.codes import CATALOGUE, RULES, markdown

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "projections", "infra", "services", "audit", "reports", "scenarios", "entrypoints")
STATUS = {"RuleViolation": 422, "NotFound": 404, "Conflict": 409, "DecisionFailed": 500, "LedgerError": 422}
# A refusal raised with its rule and code: RuleViolation("order", "approve.notice_open", ...)
RAISE = re.compile(r"\b(RuleViolation|NotFound|Conflict|LedgerError|DecisionFailed)\(\s*([^,()]+),\s*([^,()]+),")
# A code given some other way: CliError(..., error_code="store.invalid"), an as_dict {"code": "input.invalid"}
GIVEN = re.compile(r"""error_code\s*=\s*"([^"]+)"|["']code["']\s*:\s*"([^"]+)\"""")
# Raise sites whose rule and code come from a variable (mypy checks those against the Code type)
NOT_LITERAL = {("services/ledger.py", "missing.rule", "missing.code"), ("entrypoints/nats_service.py", '"internal"',
                                                                       "code")}


def sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def raised() -> tuple[dict[str, set[tuple[str, str, str]]], set[tuple[str, str, str]]]:
    """code -> {(file, class, rule)} for every literal raise; and the non-literal sites."""
    found: dict[str, set[tuple[str, str, str]]] = {}
    other = set()
    for path in sources():
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(ROOT).as_posix()
        for m in RAISE.finditer(text):
            cls, rule, code = m.group(1), m.group(2).strip(), m.group(3).strip()
            if rule.startswith('"') and code.startswith('"'):
                found.setdefault(code.strip('"'), set()).add((rel, cls, rule.strip('"')))
            elif cls != "LedgerError" or rel != "domain/errors.py":
                other.add((rel, rule, code))
        for m in GIVEN.finditer(text):
            found.setdefault(m.group(1) or m.group(2), set()).add((rel, "", ""))
    return found, other


def test_every_code_raised_is_catalogued_with_its_rule_and_status_and_none_is_unused() -> None:
    found, other = raised()
    assert other == NOT_LITERAL, "a refusal raised with a computed rule or code: keep it typed (Rule, Code) " \
                                 "and list the site here"
    missing = sorted(set(found) - set(CATALOGUE))
    assert not missing, f"codes raised but not in domain/codes.py: {missing}"
    unused = sorted(set(CATALOGUE) - set(found))
    assert not unused, f"codes in domain/codes.py that nothing raises: {unused}"
    for code, sites in found.items():
        entry = CATALOGUE[code]  # type: ignore[index]
        for rel, cls, rule in sites:
            if cls:
                assert rule == entry.rule, f"{rel} raises {code} under rule {rule}, catalogued {entry.rule}"
                assert STATUS[cls] == entry.status, f"{rel} raises {code} as {cls}, catalogued {entry.status}"


def test_exit_codes_are_those_of_the_classes() -> None:
    from domain.errors import LedgerError
    from services.commands import InputError
    from services.ledger import DecisionFailed

    for code, e in CATALOGUE.items():
        if e.status in (422, 404, 409):
            assert e.exit == LedgerError.exit_code, code
        elif e.status == 500:
            assert e.exit == DecisionFailed.exit_code, code
        elif e.status == 400:
            assert e.exit == InputError.exit_code, code
    assert {e.rule for e in CATALOGUE.values()} <= set(RULES)


def test_the_scenarios_expect_only_catalogued_codes() -> None:
    from scenarios.demo import demo_script

    expected = {code for _, code in demo_script() if code}
    text = (ROOT / "scenarios" / "generate.py").read_text(encoding="utf-8")
    expected |= set(re.findall(r'"([a-z_]+\.[a-z_]+)"', text))  # the generator's expected refusals
    assert expected and not expected - set(CATALOGUE), sorted(expected - set(CATALOGUE))


def test_the_readme_table_is_the_catalogue() -> None:
    printed = subprocess.run([sys.executable, "-m", "domain.codes"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout
    assert printed.strip() == markdown()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("| code | rule | exit | NATS | meaning |")
    end = readme.index("\n\n", start)
    assert readme[start:end] == markdown(), "README's refusal table is stale: paste `python -m domain.codes`"
