"""One catalogue of refusals (domain.codes): every code the source raises is in it with the
rule, the status and the field(s) its raise sites give, nothing in it is unused, each has a
retry class that follows from what it means, the scenarios expect only catalogued codes, and
the README's table is the one ``python -m domain.codes`` prints."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from domain.codes import CATALOGUE, FIELDS, RETRY_BY_CODE, RETRY_BY_RULE, RULES, Retry, markdown, retry_why

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
    start = readme.index("| code | rule | field | exit | NATS | retry | meaning |")
    end = readme.index("\n\n", start)
    assert readme[start:end] == markdown(), "README's refusal table is stale: paste `python -m domain.codes`"


# ------------------------------------------------------------------------------ fields
# Codes whose field no raise site spells out: whichever field of the input is malformed (an
# InputError's, a path as the decoder names it), an output file's flag (infra/files.py's
# ``field`` of each caller's flag) and the two places a query is found too large.
FIELDS_BY_HAND = {"input.invalid": ("*",), "output.refused": ("--out", "--expected"),
                  "query.too_large": ("$.limit", "$")}
REFUSALS = {"RuleViolation", "NotFound", "Conflict", "LedgerError", "DecisionFailed"}


def _name(call: ast.Call) -> str | None:
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None


class _Source:
    """The source's syntax trees, with what a field passed down as a parameter can be."""

    def __init__(self) -> None:
        self.parent: dict[ast.AST, ast.AST] = {}
        self.calls: dict[str, list[ast.Call]] = {}
        self.trees = [ast.parse(p.read_text(encoding="utf-8")) for p in sources()]
        for tree in self.trees:
            for node in ast.walk(tree):
                for child in ast.iter_child_nodes(node):
                    self.parent[child] = node
                if isinstance(node, ast.Call) and (name := _name(node)):
                    self.calls.setdefault(name, []).append(node)

    def _function(self, node: ast.AST) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        while node in self.parent:
            node = self.parent[node]
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                return node
        return None

    def values(self, expr: ast.expr | None, seen: frozenset[ast.AST] = frozenset()) -> set[str | None] | None:
        """The values ``expr`` can take: a literal; a name assigned in its function; a
        parameter's default and what every call of its function passes.  None: unknown."""
        if expr is None or isinstance(expr, ast.Constant):
            return {None if expr is None else expr.value}
        if isinstance(expr, ast.IfExp):
            a, b = self.values(expr.body, seen), self.values(expr.orelse, seen)
            return None if a is None or b is None else a | b
        fn = self._function(expr)
        if not isinstance(expr, ast.Name) or fn is None or fn in seen:
            return None
        seen = seen | {fn}
        args = fn.args
        positional = [a.arg for a in args.posonlyargs + args.args]
        keyword = [a.arg for a in args.kwonlyargs]
        found: set[str | None] = set()
        given: list[ast.expr | None] = []
        if expr.id in positional:
            i, defaults = positional.index(expr.id), args.defaults
            given += [defaults[i - len(positional) + len(defaults)]] if i >= len(positional) - len(defaults) else []
        elif expr.id in keyword:
            given += [d for d in [args.kw_defaults[keyword.index(expr.id)]] if d is not None]
        else:  # a local: what it is assigned
            given += [a.value for a in ast.walk(fn) if isinstance(a, ast.Assign)
                      and any(isinstance(t, ast.Name) and t.id == expr.id for t in a.targets)]
            if not given:
                return None
        if expr.id in positional + keyword:
            skip = 1 if positional and positional[0] in ("self", "cls") else 0
            for call in self.calls.get(fn.name, []):
                passed = [k.value for k in call.keywords if k.arg == expr.id]
                if not passed and expr.id in positional and positional.index(expr.id) - skip < len(call.args):
                    passed = [call.args[positional.index(expr.id) - skip]]
                given += passed
        for g in given:
            v = self.values(g, seen)
            if v is None:
                return None
            found |= v
        return found

    def fields(self) -> tuple[dict[str, set[str | None]], set[str]]:
        """code -> the fields its refusals name; and the codes raised with a field not found."""
        out: dict[str, set[str | None]] = {}
        unknown: set[str] = set()
        for tree in self.trees:
            for node in ast.walk(tree):
                code, field = None, None
                if isinstance(node, ast.Call) and _name(node) in REFUSALS and len(node.args) >= 2 \
                        and isinstance(node.args[1], ast.Constant):
                    code = node.args[1].value
                    field = next((k.value for k in node.keywords if k.arg == "field"), None) or \
                        (node.args[3] if len(node.args) > 3 else None)
                elif isinstance(node, ast.Call):
                    code = next((k.value.value for k in node.keywords
                                 if k.arg == "error_code" and isinstance(k.value, ast.Constant)), None)
                    field = next((k.value for k in node.keywords if k.arg == "field"), None)
                elif isinstance(node, ast.Dict):
                    d = {k.value: v for k, v in zip(node.keys, node.values) if isinstance(k, ast.Constant)}
                    if isinstance(d.get("code"), ast.Constant) and "field" in d:
                        code, field = d["code"].value, d["field"]  # type: ignore[union-attr]
                if code is None:
                    continue
                found = self.values(field)
                if found is None:
                    unknown.add(code)
                else:
                    out.setdefault(code, set()).update(found)
        return out, unknown


def test_every_code_names_the_fields_its_raise_sites_give() -> None:
    found, unknown = _Source().fields()
    assert unknown <= set(FIELDS_BY_HAND), "a field passed in a way the scan cannot follow: list it by hand"
    for code, fields in FIELDS_BY_HAND.items():
        assert FIELDS[code] == fields, code  # type: ignore[index]
    for code, entry in CATALOGUE.items():
        assert entry.fields == FIELDS[code] and entry.fields, code
        if code in FIELDS_BY_HAND:
            continue
        assert set(entry.fields) == found.get(code), f"{code}: catalogued {entry.fields}, raised {found.get(code)}"


def test_the_scan_follows_a_field_passed_down() -> None:
    # authority.not_covering is raised with ``field=field`` inside _require_decider and
    # _require_covering; every caller leaves it at its default.
    found, _ = _Source().fields()
    assert found["authority.not_covering"] == {"actor.authority"}
    assert found["region.unknown"] == {"region", "new_region"}  # _require_recordable(x, "region"), "new_region"
    assert found["reward.not_applicable"] == {"loan_id", "product_id", "loan_fen"}  # a local, by a conditional
    assert found["store.unavailable"] == {"--db", None}  # the CLI names the flag, the NATS reply no field


# ------------------------------------------------------------------------------ retry
def test_every_code_has_a_retry_class_with_its_reason() -> None:
    classes = set(Retry.__args__)  # type: ignore[attr-defined]
    for code, entry in CATALOGUE.items():
        retry, why = retry_why(code)
        assert entry.retry == retry in classes and why, code
    assert {r for r, _ in RETRY_BY_RULE.values()} | {r for r, _ in RETRY_BY_CODE.values()} == classes


def test_the_retry_class_follows_from_what_the_code_means() -> None:
    transient = {code for code, e in CATALOGUE.items() if e.retry == "yes"}
    assert transient == {"conflict", "store.unavailable"}  # nothing wrong with the command: send it again
    for code, e in CATALOGUE.items():
        if e.status == 409:
            assert e.retry == "yes", code
        if e.status == 404:  # what it names may be recorded yet
            assert e.retry == "after_facts", code
        if e.exit == 2 or e.rule in ("input", "query", "identity", "immutability", "authority", "policy"):
            assert e.retry == "never" or e.status == 404 or code == "annul.not_approved", code
        if code.endswith((".no_document", ".duplicate_id", ".duplicate", ".already", ".unknown_reason",
                          ".unknown_kind", ".unknown_level", ".unknown_list")) or code.startswith("change.") \
                and code.endswith("_required"):
            assert e.retry == "never", code  # the command lacks something, or what it records exists
        if code.endswith(".future") or code.endswith(".future_year"):
            assert e.retry == "after_facts", code  # reported once it has happened


def test_a_refusal_carries_its_retry_class() -> None:
    from domain.codes import with_retry
    from domain.errors import Conflict, NotFound, RuleViolation

    assert Conflict("order", "conflict", "kept meeting writers", field="uscc").as_dict()["retry"] == "yes"
    assert NotFound("identity", "loan.not_found", "no loan", field="loan_id").retry == "after_facts"
    assert RuleViolation("identity", "register.exists", "exists", field="uscc").as_dict()["retry"] == "never"
    assert with_retry({"code": "input.invalid", "rule": "input", "field": "$.tier", "message": "m"})["retry"] == \
        "never"


def test_the_readme_links_the_catalogue_where_nats_refusals_are_described() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    nats = readme[readme.index("## Streaming over NATS"):]
    nats = nats[:nats.index("\n## ", 1)]
    assert "(#the-rules-docsdomainmd-and-their-refusals)" in nats and "`retry`" in nats
    assert "### The rules (docs/domain.md) and their refusals" in readme
