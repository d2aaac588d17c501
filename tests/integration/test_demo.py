"""The demo dataset (``scenarios.demo``): every command gets exactly its expected outcome,
the pools give the report's figures, and loading it again writes nothing.

The Huludao row of docs/domain.md ("Figures from the reports") is asserted here on its own,
independently of the ``EXPECTED`` list the dataset carries.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import date

import pytest

from domain.errors import LedgerError
from infra.readmodel import ReadModel
from scenarios.demo import DEMO_AS_OF, EXPECTED, demo_script
from services import commands as c
from services.ledger import Ledger
from services.queries import count_of

# docs/domain.md, "Huludao, 2023-06": the row the demo must reproduce exactly.
HULUDAO_2023_06 = [
    ({"tier": "key_little_giant", "level": "national"}, 2),
    ({"tier": "little_giant", "level": "national"}, 5),
    ({"tier": "little_giant", "level": "provincial", "programme": "liaoning"}, 9),
    ({"tier": "specialized", "level": "provincial", "programme": "national"}, 36),
    ({"tier": "product", "programme": "liaoning"}, 35),
    ({"tier": "innovative", "level": "provincial"}, 33),
]


def _code(e: Exception) -> str:
    return e.as_dict()["code"]  # type: ignore[attr-defined]


def load(ledger: Ledger, script: list[tuple[dict, str | None]]) -> list[str]:
    """Handle every command in batches, as ``cultivation demo`` does (some 19,000 commands;
    tests/integration/test_batch.py shows batches decide exactly as one at a time); return
    the mismatches (expected vs got), checking that refused commands wrote nothing: the
    store grows by exactly the events the accepted ones report (the journal entries are rows, no events)."""
    wrong = []
    by_id = {obj["command_id"]: (obj, expected) for obj, expected in script}
    before = ledger.max_position()
    written = 0

    def check(cmd: c.Command, result: object) -> None:
        nonlocal written
        obj, expected = by_id[cmd.command_id]
        got = _code(result) if isinstance(result, (LedgerError, c.InputError)) else None
        if got is None and not result.repeated:  # its events (its journal entry is a row, no event)
            written += len(result.events)  # type: ignore[attr-defined]
        if got != expected:
            wrong.append(f"{obj['command_id']} {obj['command']} {obj.get('uscc')} {obj.get('application_id')} "
                         f"on {obj['occurred_on']}: expected {expected or 'acceptance'}, got {got or 'acceptance'}")

    ledger.handle_many([c.convert_command(obj) for obj, _ in script], check)
    if ledger.max_position() - before != written:
        wrong.append(f"the store grew by {ledger.max_position() - before} events; accepted commands wrote {written}")
    return wrong


def counts(ledger: Ledger, queries: list[tuple[dict, int]]) -> list[tuple[dict, int, int]]:
    rm = ReadModel(ledger)
    try:
        return [(query, want, count_of(rm, query, DEMO_AS_OF)) for query, want in queries]
    finally:
        rm.close()


@pytest.fixture(scope="module")
def script() -> list[tuple[dict, str | None]]:
    return demo_script()


class Loaded:
    """The demo loaded once, in batches, into a ledger the module's tests share
    (some 25,000 commands: loading them for each test would take minutes).  None of the tests
    writes to it: they ask it, rebuild its read model, or send its commands again."""

    def __init__(self, ledger: Ledger, wrong: list[str], elapsed: float):
        self.ledger, self.wrong, self.elapsed = ledger, wrong, elapsed


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory, script: list[tuple[dict, str | None]]) -> Iterator[Loaded]:
    ledger = Ledger(db=str(tmp_path_factory.mktemp("demo") / "ledger.db"))
    try:
        start = time.perf_counter()
        wrong = load(ledger, script)
        yield Loaded(ledger, wrong, time.perf_counter() - start)
    finally:
        ledger.close()


def test_script_is_well_formed(script: list[tuple[dict, str | None]]) -> None:
    assert 10000 < len(script) < 30000  # Dalian's some 3,000 enterprises (report of 2023-07-11)
    ids = [obj["command_id"] for obj, _ in script]
    assert len(set(ids)) == len(ids), "command ids repeat"
    days = [obj["occurred_on"] for obj, _ in script]
    assert days == sorted(days), "the script runs in business-date order"
    for obj, expected in script:
        c.convert_command(obj)  # every dict decodes like JSON from a backend service
        assert expected is None or (isinstance(expected, str) and "." in expected)
    assert demo_script() == script, "deterministic"
    assert DEMO_AS_OF == "2023-06-29"
    # it is a fresh copy each time: callers may mutate it
    fresh = demo_script()
    fresh[0][0]["command_id"] = "mutated"
    assert demo_script()[0][0]["command_id"] != "mutated"


def test_script_exercises_every_rule(script: list[tuple[dict, str | None]]) -> None:
    used = Counter(obj["command"] for obj, _ in script)
    assert set(used) == set(c.COMMAND_TYPES), f"command types never used: {set(c.COMMAND_TYPES) - set(used)}"
    refusals = {e for _, e in script if e}
    for code in ("approve.notice_open", "approve.objection_open", "approve.objection_upheld", "notice.not_assessed",
                 "assess.not_recommended", "recommend.wrong_level", "authority.wrong_level",
                 "ladder.prerequisite_missing", "ladder.listed_excluded", "policy.unknown_tier",
                 "review.outside_window", "review.yearly_data_missing", "review.yearly_data_late",
                 "review.change_report_late", "apply.cooling_off", "apply.already_designated", "recommend.barred",
                 "revoke.no_document", "reconfirm.not_pending", "reward.once_per_scheme", "reward.renewal_not_paid",
                 "reward.over_cap", "reward.review_document", "reward.no_valid_designation"):
        assert code in refusals, code
    regions = {obj.get("region", "")[:4] for obj, _ in script if obj["command"] == "register"}
    assert {"2114", "2102", "3702", "3301"} <= regions
    # after 2026-04-01 the 2026 rules judge: a 专精特新 application without 创新型 is refused
    assert any(obj["command"] == "apply" and obj["tier"] == "specialized" and obj["occurred_on"] >= "2026-04-01"
               and e == "ladder.prerequisite_missing" for obj, e in script)
    # innovative designations of the report were approved between mid-2022 and mid-2023
    innovative = [obj["occurred_on"] for obj, e in script
                  if obj["command"] == "approve" and e is None and obj["application_id"].startswith("cxx-")
                  and "2022-06-01" <= obj["occurred_on"] <= DEMO_AS_OF]
    assert len(innovative) >= 33


def test_demo_loads_with_the_expected_outcomes_and_figures(loaded: Loaded) -> None:
    ledger = loaded.ledger
    assert not loaded.wrong, "\n".join(loaded.wrong[:30])
    assert loaded.elapsed < 180, f"loading took {loaded.elapsed:.1f}s"

    huludao = [({**q, "region": "211400"}, n) for q, n in HULUDAO_2023_06]
    got = counts(ledger, huludao + EXPECTED)
    bad = [(q, want, n) for q, want, n in got if n != want]
    assert not bad, bad
    # the six report figures are also what EXPECTED itself promises (the CLI prints those)
    def plain(q: dict) -> dict:
        return {k: v for k, v in q.items() if k != "programme"}

    for q, n in huludao:
        assert any(plain(e) == plain(q) and want == n for e, want in EXPECTED), q

    # the pool rows rebuilt from the first event give the same answers
    rm = ReadModel(ledger)
    try:
        rm.rebuild()
    finally:
        rm.close()
    assert counts(ledger, huludao) == got[:len(huludao)]


def test_the_huludao_pools_are_made_of_real_designations(loaded: Loaded,
                                                         script: list[tuple[dict, str | None]]) -> None:
    ledger = loaded.ledger
    assert not loaded.wrong
    rm = ReadModel(ledger)
    try:
        national = rm.pool(tier="little_giant", level="national", region="211400", as_of=DEMO_AS_OF)
        assert all(d.decided_by == "000000" and d.document.startswith("工信部企业函") for d in national)
        provincial = rm.pool(tier="little_giant", level="provincial", region="211400", as_of=DEMO_AS_OF)
        # Liaoning: whole calendar years from the next 1 January; renewals replace the old designation
        assert all(d.valid_from.endswith("-01-01") and d.decided_by == "210000" for d in provincial)
        assert sum(1 for d in provincial if d.renewal_of) == 2
        products = rm.pool(tier="product", region="211400", as_of=DEMO_AS_OF)
        assert all(d.product_id and d.product_name for d in products)
        specialized = rm.pool(tier="specialized", level="provincial", region="211400", as_of=DEMO_AS_OF)
        assert {d.uscc[2:8] for d in specialized} <= {"211402", "211403", "211404", "211421", "211422", "211481"}
        assert any(d.name == "辽宁盛源流体科技股份有限公司" for d in specialized), "the rename shows"
        # every little giant stands on a provincial 专精特新 valid when it applied (rule 3)
        for d in national + provincial:
            ent = ledger.enterprise(d.uscc)
            applied = ent.applications[d.renewal_of or d.application_id].applied_on
            assert any(a.tier == "specialized" and a.level == "provincial" and a.valid_on(applied)
                       for a in ent.applications.values()), d.name
        # innovative designations only exist from the 2022 rules on
        innovative = rm.pool(tier="innovative", region="211400", as_of=DEMO_AS_OF)
        assert all("2022-06-01" <= d.valid_from <= DEMO_AS_OF for d in innovative)
    finally:
        rm.close()
    # the expired, lapsed and revoked ones are still in the history
    h14 = next(obj["uscc"] for obj, e in script if e == "apply.cooling_off")
    revoked = ledger.enterprise(h14).applications["zjtx-2019"]
    assert revoked.revocation_reason == "false_material" and not revoked.valid_on(date(2023, 6, 29))


def test_dalian_decides_for_itself(loaded: Loaded, script: list[tuple[dict, str | None]]) -> None:
    """The report of 2023-07-11: Dalian, a 计划单列市, decided its own 专精特新 and 创新型 on its
    districts' recommendations and recommended its little giants to MIIT; Liaoning decided none."""
    from scenarios.demo import DALIAN_AS_OF, DALIAN_FIGURES

    ledger = loaded.ledger
    assert not loaded.wrong
    assert [n for _, _, n in counts(ledger, DALIAN_FIGURES)] == [73, 435, 833, 2950]
    districts = {"210202", "210203", "210204", "210211", "210212", "210213", "210214", "210224", "210281", "210283"}
    rm = ReadModel(ledger)
    try:
        specialized = rm.pool(tier="specialized", level="provincial", region="210200", as_of=DALIAN_AS_OF)
        innovative = rm.pool(tier="innovative", region="210200", as_of=DALIAN_AS_OF)
        giants = rm.pool(tier="little_giant", level="national", region="210200", as_of=DALIAN_AS_OF)
        # D04 was designated in Jilin and re-confirmed by Dalian after it moved in
        assert sum(1 for d in specialized if d.decided_by != "210200") == 1
        assert {d.decided_by for d in innovative} == {"210200"} and {d.decided_by for d in giants} == {"000000"}
        assert {d.region for d in specialized + innovative} <= districts
        assert len({d.uscc[2:8] for d in innovative}) == len(districts)  # every district and county
        for d in giants[:10] + specialized[:10]:
            ent = ledger.enterprise(d.uscc)
            app = ent.applications[d.application_id]
            want = "provincial" if d.tier == "little_giant" else "municipal"
            who = "210200" if d.tier == "little_giant" else d.uscc[2:8]  # Dalian to MIIT; the district to Dalian
            assert app.recommendations == {want: who}, (d.name, app.recommendations)
    finally:
        rm.close()
    refused = {e for obj, e in script
               if e and obj["actor"]["authority"] == "210000" and obj.get("uscc", "")[2:6] == "2102"}
    assert {"authority.not_covering", "recommend.not_covering"} <= refused


def test_loading_twice_writes_nothing(loaded: Loaded, script: list[tuple[dict, str | None]]) -> None:
    """Repeating the command ids writes nothing; accepted commands return their first
    outcome, and refused ones (never journaled, so judged again against the final state)
    are refused by the same rule, so ``cultivation demo`` can be run again on a store."""
    ledger = loaded.ledger
    assert not loaded.wrong
    head = ledger.max_position()
    assert head > 0.9 * len(script)  # about an event per command (refused ones write none)
    again = []
    expected_of = {obj["command_id"]: expected for obj, expected in script}

    def check(cmd: c.Command, outcome: object) -> None:
        expected = expected_of[cmd.command_id]
        if isinstance(outcome, (LedgerError, c.InputError)):
            if _code(outcome) != expected:
                again.append(f"{cmd.command_id}: expected {expected or 'acceptance'}, got {_code(outcome)}")
            return
        if expected is not None or not outcome.repeated:  # type: ignore[attr-defined]
            again.append(f"{cmd.command_id}: accepted again, expected {expected}")

    ledger.handle_many([c.convert_command(obj) for obj, _ in script], check)
    assert not again, "\n".join(again)
    assert ledger.max_position() == head
    assert [n for _, want, n in counts(ledger, EXPECTED)] == [want for _, want in EXPECTED]


# The Qingdao report of 2017-06-27 ("131工程"): by the end of 2016, 5 batches of products with 798
# items, 4 batches of demonstration enterprises with 200, the first batch of hidden champions with 20.
QINGDAO_2016 = {"product": (798, 5), "demonstration": (200, 4), "hidden_champion": (20, 1)}


def test_qingdao_reproduces_its_report_of_2017(loaded: Loaded) -> None:
    from reports.figures import build_report
    from services.queries import pool_items

    ledger = loaded.ledger
    rm = ReadModel(ledger)
    try:
        for tier, (items, batches) in QINGDAO_2016.items():
            ever = pool_items(rm, tier=tier, as_of="2016-12-31", region="370200", programme="qingdao", count="ever")
            assert len(ever) == items, tier
            assert all(d.decided_by == "370200" and d.approved_on <= "2016-12-31" for d in ever)
            assert {d.uscc[2:8] for d in ever} <= {"370202", "370203", "370211", "370212", "370213", "370214",
                                                  "370215", "370281", "370283", "370285"}
            lines = [b for b in rm.batches(as_of="2016-12-31", region="370200", tier=tier) if b.approved]
            assert [b.batch for b in lines] == list(range(1, batches + 1)), tier
            assert sum(b.approved for b in lines) == items  # each item of these batches a subject of its own
        report = build_report(rm, ledger.policy, as_of="2016-12-31", region="370200")
        by_tier = {c.tier: c for c in report.counts}
        assert {t: by_tier[t].ever for t in QINGDAO_2016} == {t: n for t, (n, _) in QINGDAO_2016.items()}
        # the report of 2020-12-31 against the "131" targets of the 13th five-year plan
        report = build_report(rm, ledger.policy, as_of="2020-12-31", region="370200")
        progress = {(t.tier, t.kind): (t.actual, t.target, t.share_bp, t.counted_on) for t in report.targets}
        assert progress == {
            ("hidden_champion", "cumulative"): (95, 100, 9500, "2020-12-31"),
            ("demonstration", "cumulative"): (292, 300, 9733, "2020-12-31"),
            ("product", "cumulative"): (1130, 1000, 11300, "2020-12-31"),
            ("product", "new_in_year"): (92, 80, 11500, "2017-12-31"),
            ("demonstration", "new_in_year"): (28, 25, 11200, "2017-12-31"),
            ("hidden_champion", "new_in_year"): (18, 15, 12000, "2017-12-31"),
        }
        # Hangzhou's 万千百 are shown for Hangzhou, not for Qingdao
        assert {t.region for t in report.targets} == {"370200"}
        hz = build_report(rm, ledger.policy, as_of=DEMO_AS_OF, region="330100").targets
        assert [(t.tier, t.actual, t.target) for t in hz] == [("innovative", 2, 30000), ("specialized", 3, 2500),
                                                              ("hidden_champion", 1, 100), ("little_giant", 1, 240)]
    finally:
        rm.close()
