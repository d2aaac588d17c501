"""Persistence on the real stores: every test runs against SQLite and PostgreSQL.

- every event type of every aggregate round-trips exactly (values *and* types);
- the stored state is compact, tag-free JSON;
- the command journal makes commands idempotent and refuses a reused command id;
- concurrent writers on the same aggregates are retried on the new versions: nothing
  is lost, nothing is doubled, the yearly budget is never overspent;
- the read model caught up in steps equals the read model rebuilt from zero.
"""

from __future__ import annotations

import copy
import multiprocessing
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec
import pytest
from eventsourcing.domain import Aggregate, DomainEvent

from domain.budget import SchemeBudget, budget_id
from domain.enterprise import Enterprise, enterprise_id, event_id
from domain.errors import Conflict, RuleViolation
from domain.group import Group
from infra.event_store import JournalRow
from infra.readmodel import BOOL_COLUMNS as BOOLS
from infra.readmodel import ReadModel
from infra.store import is_postgres
from services import commands as c
from services.ledger import EventRef, Ledger, Outcome
from tests.support.ledgers import Script, uscc

AGGREGATE_CLASSES = (Enterprise, SchemeBudget, Group)  # (HandledCommand: written no more, see test_journal.py)


# ---------------------------------------------------------------------- helpers
def leaf_event_classes() -> set[str]:
    """Every concrete event class of the ledger's aggregates, as ``Aggregate.Event``.

    Derived from the classes, so a new event type appears here by itself.  Left out are
    the library's generic bases: ``Agg.Event`` (the base of every event of ``Agg``) and
    ``Agg.Created`` when the aggregate is created by an event of its own (``Registered``,
    ``Opened``)."""
    names: set[str] = set()
    for agg in AGGREGATE_CLASSES:
        events = {v for v in vars(agg).values() if isinstance(v, type) and issubclass(v, DomainEvent)}
        own_created = [e for e in events if issubclass(e, Aggregate.Created) and e is not agg.Created]
        generic = {agg.Event} | ({agg.Created} if own_created else set())
        names |= {e.__qualname__ for e in events - generic}
    return names


def assert_same(a: Any, b: Any, path: str = "$") -> None:
    """Equal values of exactly the same types, recursively (a date that came back as a
    str or a datetime, a UUID as a str, an Actor as a dict all fail)."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} {a!r} != {type(b).__name__} {b!r}"
    if isinstance(a, dict):
        assert list(a) == list(b), f"{path}: keys {list(a)} != {list(b)}"
        for k in a:
            assert_same(k, next(x for x in b if x == k), f"{path}.key({k!r})")
            assert_same(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{path}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, msgspec.Struct):
        for f in a.__struct_fields__:
            assert_same(getattr(a, f), getattr(b, f), f"{path}.{f}")
    elif isinstance(a, datetime):
        assert a.tzinfo is not None and b.tzinfo is not None, f"{path}: naive datetime"
        assert a == b and a.utcoffset() == b.utcoffset(), f"{path}: {a!r} != {b!r}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


class RecordingLedger(Ledger):
    """A Ledger that keeps a deep copy of every domain event as produced, in save order."""

    name = "Ledger"  # same tables and environment as the real application

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.produced: list[Any] = []

    def _put(self, events: list[Any], journal: list[JournalRow], snapshots: Any = ()) -> None:
        super()._put(events, journal, snapshots)
        self.produced.extend(copy.deepcopy(e) for e in events)


def all_notifications(app: Ledger) -> list[Any]:
    out: list[Any] = []
    start = 1
    while True:
        batch = app.recorder.select_notifications(start=start, limit=500)
        if not batch:
            return out
        out.extend(batch)
        start = batch[-1].id + 1


CITY, PROV = "211400", "210000"  # Huludao, Liaoning
INNO = {"score": 72, "components": {"innovation": 25, "growth": 22, "specialization": 25}}
SPEC = {"score": 80, "indicators": {"niche_years": 4, "rd_expense_fen": 200_000_000, "rd_ratio_bp": 450,
                                    "revenue_fen": 3_000_000_000}}


def drive_every_event_type(s: Script, after_step: Callable[[], None] = lambda: None) -> dict[str, Outcome]:
    """Commands that, between them, produce every event type of every aggregate.

    One enterprise in Huludao climbs the ladder, is reviewed, relocates to Hangzhou, is
    re-confirmed there, has a decision annulled and a reward granted and partly clawed
    back; a second enterprise (a product designation in Liaoning with a replacing
    renewal, a failed review, a change of name and a listing) varies the optional fields.
    ``after_step`` runs after each group of commands (the read-model test catches up there).
    """
    a, b = uscc(1, "211400"), uscc(2, "211400")
    out: dict[str, Outcome] = {}

    def ok(label: str, command: str, **fields: Any) -> Outcome:
        out[label] = s.ok(command, **fields)
        return out[label]

    def through_assessment(u: str, app: str, tier: str, days: tuple[str, str, str], assess: dict[str, Any],
                           programme: str = "national", **apply: Any) -> None:
        ok(f"{app}.apply", "apply", uscc=u, application_id=app, programme=programme, tier=tier,
           occurred_on=days[0], actor=CITY, **apply)
        ok(f"{app}.recommend", "recommend", uscc=u, application_id=app, occurred_on=days[1], actor=CITY)
        assessor = CITY if tier == "innovative" else PROV  # 创新型: the city reviews (63号)
        ok(f"{app}.assess", "assess", uscc=u, application_id=app, occurred_on=days[2], actor=assessor, **assess)

    ok("a.register", "register", uscc=a, name="葫芦岛某泵业有限公司", region="211402", industry="C3441",
       occurred_on="2023-01-10", actor=CITY)
    ok("b.register", "register", uscc=b, name="葫芦岛某阀门有限公司", occurred_on="2023-01-10", actor=CITY,
       document="葫工信〔2023〕5号")
    ok("a.admit", "admit_to_pool", uscc=a, programme="national", tier="innovative", occurred_on="2023-01-11",
       actor=CITY)
    ok("a.remove", "remove_from_pool", uscc=a, programme="national", tier="innovative", reason="已申报",
       occurred_on="2023-01-20", actor=CITY)
    after_step()
    through_assessment(a, "a1", "innovative", ("2023-02-01", "2023-02-10", "2023-02-20"), INNO)
    ok("a1.notice", "open_notice", uscc=a, application_id="a1", occurred_on="2023-03-01", actor=CITY)
    ok("a1.object", "object", uscc=a, application_id="a1", objection_id="o1", grounds="研发数据存疑",
       occurred_on="2023-03-02", actor=CITY)
    ok("a1.resolve", "resolve_objection", uscc=a, application_id="a1", objection_id="o1", upheld=False,
       occurred_on="2023-03-05", actor=CITY)
    ok("a1.approve", "approve", uscc=a, application_id="a1", occurred_on="2023-03-10", actor=PROV,
       document="辽工信〔2023〕1号")
    after_step()
    through_assessment(a, "a2", "specialized", ("2023-04-01", "2023-04-05", "2023-04-10"), SPEC)
    ok("a2.reject", "reject", uscc=a, application_id="a2", reason="名额已满", occurred_on="2023-04-20", actor=PROV)
    ok("a3.apply", "apply", uscc=a, application_id="a3", programme="national", tier="specialized",
       occurred_on="2023-05-01", actor=CITY, declared_revenue_fen=2_900_000_000)
    ok("a3.withdraw", "withdraw", uscc=a, application_id="a3", reason="自愿撤回", occurred_on="2023-05-02",
       actor=CITY)
    through_assessment(a, "a4", "specialized", ("2023-05-10", "2023-05-11", "2023-05-12"), SPEC)
    ok("a4.notice", "open_notice", uscc=a, application_id="a4", occurred_on="2023-05-15", actor=PROV)
    ok("a4.approve", "approve", uscc=a, application_id="a4", occurred_on="2023-05-25", actor=PROV,
       document="辽工信〔2023〕2号")
    ok("a4.revoke", "revoke", uscc=a, application_id="a4", reason="other", occurred_on="2023-06-01", actor=PROV,
       document="辽工信〔2023〕3号")
    through_assessment(a, "a5", "specialized", ("2023-06-10", "2023-06-11", "2023-06-12"), SPEC)
    ok("a5.notice", "open_notice", uscc=a, application_id="a5", occurred_on="2023-06-15", actor=PROV)
    ok("a5.approve", "approve", uscc=a, application_id="a5", occurred_on="2023-06-25", actor=PROV,
       document="辽工信〔2023〕4号")
    after_step()
    # b: a Liaoning product designation (next-January validity, renewal replaces)
    through_assessment(b, "p1", "product", ("2023-07-01", "2023-07-05", "2023-07-10"), {"score": 66},
                       programme="liaoning", product_id="PUMP-7", product_name="高压柱塞泵")
    ok("p1.notice", "open_notice", uscc=b, application_id="p1", occurred_on="2023-07-12", actor=PROV)
    ok("p1.approve", "approve", uscc=b, application_id="p1", occurred_on="2023-07-20", actor=PROV,
       document="辽工信〔2023〕7号")
    ok("b.rename", "report_change", uscc=b, kind="rename", changed_on="2023-09-01", new_name="葫芦岛某流体科技有限公司",
       occurred_on="2024-01-15", actor=CITY)  # reported late: more than three months after the change
    ok("b.listing", "report_change", uscc=b, kind="listing", changed_on="2024-02-01", occurred_on="2024-02-03",
       actor=CITY, board="bse")
    ok("b.data2024", "file_yearly_data", uscc=b, data_year=2024, occurred_on="2025-04-10", actor=CITY)
    ok("p1.review", "review", uscc=b, application_id="p1", passed=True, occurred_on="2026-02-01", actor=PROV,
       document="辽工信〔2026〕1号")
    after_step()
    ok("a.data2024", "file_yearly_data", uscc=a, data_year=2024, indicators={"revenue_fen": 3_100_000_000},
       occurred_on="2025-04-01", actor=CITY)
    ok("a1.review", "review", uscc=a, application_id="a1", passed=True, occurred_on="2025-12-01", actor=PROV,
       document="辽工信〔2025〕9号")
    ok("a5.review", "review", uscc=a, application_id="a5", passed=False, occurred_on="2026-01-02", actor=PROV,
       document="辽工信〔2026〕2号")
    ok("a.relocate", "report_change", uscc=a, kind="relocation", changed_on="2025-12-10", new_region="330106",
       occurred_on="2026-01-05", actor=CITY)
    ok("a5.reconfirm", "reconfirm", uscc=a, application_id="a5", confirmed=True, occurred_on="2026-01-20",
       actor="330000")
    ok("a1.reconfirm", "reconfirm", uscc=a, application_id="a1", confirmed=False, occurred_on="2026-01-21",
       actor="330000")
    ok("a1.annul", "annul", uscc=a, application_id="a1", reason="材料不实，误认定", occurred_on="2026-01-25",
       actor="330000", document="浙经信〔2026〕1号")
    after_step()
    ok("a.r1", "grant_reward", uscc=a, reward_id="r1", programme="zhejiang", scheme="hz_specialized_first",
       amount_fen=10_000_000, occurred_on="2026-02-01", actor="330100", document="杭经信〔2026〕1号")
    ok("a.r2", "grant_reward", uscc=a, reward_id="r2", programme="zhejiang", scheme="hz_loan_interest",
       amount_fen=100_000, loan_fen=10_000_000_00, lpr_bp=345, days=200, occurred_on="2026-02-03", actor="330100")
    ok("a.r1.claw", "claw_back", uscc=a, reward_id="r1", amount_fen=4_000_000, reason="多拨", occurred_on="2026-02-10",
       actor="330100", document="杭经信〔2026〕2号")
    after_step()
    # the facts rewards rest on: a chain tag, a product's recognition, a guaranteed loan and its repayment
    ok("a.chain", "tag_chain", uscc=a, programme="zhejiang", chain="intelligent_equipment", occurred_on="2026-02-11",
       actor="330100", document="杭经信〔2026〕3号")
    ok("a.recognise", "recognise_product", uscc=a, programme="zhejiang", recognition="first_equipment",
       product_id="EQ-1", product_name="智能灌装生产线", level="national", occurred_on="2026-02-11", actor="330000",
       document="浙经信装备〔2026〕1号")
    ok("a.r3", "grant_reward", uscc=a, reward_id="r3", programme="zhejiang", scheme="hz_first_equipment_national",
       amount_fen=50_000_000, product_id="EQ-1", occurred_on="2026-02-12", actor="330100")
    ok("a.loan", "record_loan", uscc=a, loan_id="L1", lender="杭州银行", guarantor="杭州市融资担保有限公司",
       principal_fen=500_000_000, drawn_on="2026-01-05", due_on="2026-07-04", guarantee_fee_fen=2_000_000,
       guarantee_fee_rate_bp=80, occurred_on="2026-02-12", actor="330100")
    ok("a.repaid", "record_repayment", uscc=a, loan_id="L1", repaid_on="2026-02-12", occurred_on="2026-02-13",
       actor="330100")
    after_step()
    # the facts the bars at recommendation rest on: a credit list on and off, groups joined and left
    ok("a.credit", "record_credit_listing", uscc=a, credit_list="abnormal_operations", listed=True,
       listed_on="2026-02-14", occurred_on="2026-02-14", actor="330100", document="杭市监〔2026〕1号")
    ok("a.credit.off", "record_credit_listing", uscc=a, credit_list="abnormal_operations", listed=False,
       listed_on="2026-02-20", occurred_on="2026-02-21", actor="330100")
    ok("a.group", "record_group", uscc=a, group_uscc=b, occurred_on="2026-02-22", actor="330100")
    ok("a.group.left", "record_group", uscc=a, group_uscc=uscc(3, "211400"), occurred_on="2026-02-23",
       actor="330100")
    after_step()
    return out


# ---------------------------------------------------------------------- round trips
def test_every_event_type_round_trips_exactly(store: str) -> None:
    producer = RecordingLedger(db=store)
    try:
        drive_every_event_type(Script(producer))
        produced = producer.produced
    finally:
        producer.close()

    covered = {type(e).__qualname__ for e in produced}
    expected = leaf_event_classes()
    assert expected - covered == set(), f"event types never produced by the test: {sorted(expected - covered)}"
    assert covered <= expected, f"unexpected event types {sorted(covered - expected)}"

    reader = Ledger(db=store)  # a new instance: nothing can come from memory
    try:
        notes = all_notifications(reader)
        assert len(notes) == len(produced)
        for note, ev in zip(notes, produced):
            back = reader.mapper.to_domain_event(note)
            where = f"{type(ev).__qualname__} {ev.originator_id} v{ev.originator_version}"
            assert type(back) is type(ev), where
            assert (note.originator_id, note.originator_version) == (ev.originator_id, ev.originator_version)
            assert list(vars(back)) == list(vars(ev)) or set(vars(back)) == set(vars(ev)), where
            for field in vars(ev):
                assert_same(getattr(ev, field), getattr(back, field), f"{where}.{field}")
            # the types the domain relies on, spelt out
            assert type(back.timestamp) is datetime and back.timestamp.tzinfo is not None
            assert type(back.originator_id) is UUID
            if hasattr(ev, "occurred_on"):
                assert type(back.occurred_on) is date
            if hasattr(ev, "actor"):
                assert type(back.actor).__name__ == "Actor" and isinstance(back.actor, msgspec.Struct)

        # the same through the event store, aggregate by aggregate
        by_aggregate: dict[UUID, list[Any]] = {}
        for ev in produced:
            by_aggregate.setdefault(ev.originator_id, []).append(ev)
        for agg_id, evs in by_aggregate.items():
            back_evs = list(reader.events.get(agg_id))
            assert [e.originator_version for e in back_evs] == list(range(1, len(evs) + 1))
            for ev, back in zip(evs, back_evs):
                assert type(back) is type(ev)
                for field in vars(ev):
                    assert_same(getattr(ev, field), getattr(back, field), f"{agg_id} v{ev.originator_version}")
    finally:
        reader.close()


def test_event_ids_named_by_state_match_the_stored_events(any_ledger: Ledger) -> None:
    """Corrections name the event they correct; the ids the aggregates keep must be the
    ids of the stored Approved / RewardGranted events."""
    drive_every_event_type(Script(any_ledger))
    ent = any_ledger.enterprise(uscc(1, "211400"))
    stored = {e.originator_version: e for e in any_ledger.events.get(ent.id)}
    for app in ent.applications.values():
        if app.approved_event is not None and app.renewal_of is None:
            versions = [v for v, e in stored.items() if event_id(ent.id, v) == app.approved_event]
            assert len(versions) == 1 and type(stored[versions[0]]).__name__ == "Approved"
            assert stored[versions[0]].application_id == app.id
    for reward in ent.rewards.values():
        versions = [v for v, e in stored.items() if event_id(ent.id, v) == reward.event_id]
        assert len(versions) == 1 and type(stored[versions[0]]).__name__ == "RewardGranted"
    claw = next(e for e in stored.values() if type(e).__name__ == "RewardClawedBack")
    assert claw.corrects == ent.rewards["r1"].event_id
    annul = next(e for e in stored.values() if type(e).__name__ == "Annulled")
    assert annul.corrects == ent.applications["a1"].approved_event


def test_stored_state_is_compact_json_without_type_tags(any_ledger: Ledger) -> None:
    drive_every_event_type(Script(any_ledger))
    notes = all_notifications(any_ledger)
    assert notes
    for note in notes:
        state = bytes(note.state)
        obj = msgspec.json.decode(state)
        assert isinstance(obj, dict)
        assert msgspec.json.encode(obj) == state, f"not compact: {state[:120]!r}"
        for tag in (b'"_type_"', b'"_data_"', b'"__type__"'):
            assert tag not in state, f"{note.topic} carries a library type tag: {state[:200]!r}"
        assert "originator_id" not in obj and "originator_version" not in obj  # the record keys carry them
        assert datetime.fromisoformat(obj["timestamp"]).utcoffset() is not None  # RFC 3339 with its offset
        if "occurred_on" in obj:
            date.fromisoformat(obj["occurred_on"])  # a plain ISO date
        if "actor" in obj:
            assert set(obj["actor"]) <= {"authority", "person", "role"}
    registered = next(n for n in notes if n.topic.endswith("Enterprise.Registered"))
    assert "葫芦岛某泵业有限公司".encode() in bytes(registered.state)  # UTF-8, not \\u escapes


# ---------------------------------------------------------------------- idempotency
def test_same_command_id_twice_returns_first_outcome_and_writes_nothing(any_ledger: Ledger) -> None:
    s = Script(any_ledger)
    u = uscc(10, "211400")
    reg = s.cmd("register", uscc=u, name="某企业", occurred_on="2023-01-10", actor=CITY)
    first = any_ledger.handle(reg)
    assert not first.repeated and [e.type for e in first.events] == ["Registered"]
    before = any_ledger.max_position()

    again = any_ledger.handle(reg)
    assert again.repeated and again.events == first.events
    assert any_ledger.max_position() == before

    # re-sent as JSON to another instance (a second service process), field order shuffled
    other = Ledger(db=any_ledger.store)
    try:
        raw = msgspec.json.decode(c.encode_command(reg))
        shuffled = dict(reversed(list(raw.items())))
        third = other.handle(c.decode_command(msgspec.json.encode(shuffled)))
        assert third.repeated and third.events == first.events
        assert other.max_position() == before
    finally:
        other.close()

    # a two-aggregate command (enterprise and budget) repeated
    grant = _qualify_for_reward(s, u)
    before = any_ledger.max_position()
    again = any_ledger.handle(grant)
    assert again.repeated and {e.type for e in again.events} == {"RewardGranted", "Opened", "Spent"}
    assert any_ledger.max_position() == before


def _qualify_for_reward(s: Script, u: str) -> c.Command:
    """Relocate ``u`` to Hangzhou, make it an innovative enterprise there and grant it a
    service voucher; returns the grant command (already handled)."""
    s.ok("report_change", uscc=u, kind="relocation", changed_on="2023-01-20", new_region="330106",
         occurred_on="2023-01-25", actor=CITY)
    s.ok("apply", uscc=u, application_id="i1", programme="national", tier="innovative", occurred_on="2023-02-01",
         actor="330100")
    s.ok("recommend", uscc=u, application_id="i1", occurred_on="2023-02-02", actor="330100")
    s.ok("assess", uscc=u, application_id="i1", occurred_on="2023-02-03", actor="330100", **INNO)
    s.ok("open_notice", uscc=u, application_id="i1", occurred_on="2023-02-04", actor="330100")
    s.ok("approve", uscc=u, application_id="i1", occurred_on="2023-02-10", actor="330000", document="浙经信〔2023〕1号")
    grant = s.cmd("grant_reward", uscc=u, reward_id="v1", programme="zhejiang", scheme="hz_service_purchase",
                  amount_fen=5_000_000, occurred_on="2023-03-01", actor="330100")
    out = s.ledger.handle(grant)
    assert not out.repeated
    return grant


def test_reused_command_id_with_other_payload_is_refused(any_ledger: Ledger) -> None:
    s = Script(any_ledger)
    u = uscc(11, "211400")
    reg = s.cmd("register", uscc=u, name="某企业", occurred_on="2023-01-10", actor=CITY)
    any_ledger.handle(reg)
    before = any_ledger.max_position()
    variants = [
        s.cmd("register", command_id=reg.command_id, uscc=u, name="另一企业", occurred_on="2023-01-10", actor=CITY),
        s.cmd("register", command_id=reg.command_id, uscc=u, name="某企业", occurred_on="2023-01-11", actor=CITY),
        s.cmd("admit_to_pool", command_id=reg.command_id, uscc=u, programme="national", tier="innovative",
              occurred_on="2023-01-12", actor=CITY),
    ]
    for cmd in variants:
        with pytest.raises(RuleViolation) as info:
            any_ledger.handle(cmd)
        assert info.value.code == "command_id.reused"
        assert info.value.field == "command_id"
        assert any_ledger.max_position() == before
    # the journal entry is untouched: the original still repeats
    assert any_ledger.handle(reg).repeated


# ---------------------------------------------------------------------- concurrency
def _register_and_apply(s: Script, u: str) -> None:
    s.ok("register", uscc=u, name="某企业", occurred_on="2023-01-10", actor=CITY)
    s.ok("apply", uscc=u, application_id="a1", programme="national", tier="innovative", occurred_on="2023-02-01",
         actor=CITY)


def _interleave(a: Ledger, b: Ledger, b_cmd: c.Command) -> list[c.Command]:
    """Make ``a`` decide (load), then let ``b`` handle ``b_cmd`` before ``a`` saves."""
    decided: list[c.Command] = []
    original = a._decide

    def decide_then_let_b_write(cmd: c.Command) -> Any:
        aggregates = original(cmd)
        decided.append(cmd)
        if len(decided) == 1:
            b.handle(b_cmd)
        return aggregates

    a._decide = decide_then_let_b_write  # type: ignore[method-assign]
    return decided


def test_interleaved_writers_retry_on_the_new_version(store: str) -> None:
    a, b = Ledger(db=store), Ledger(db=store)
    try:
        sa, sb = Script(a), Script(b)
        u = uscc(20, "211400")
        _register_and_apply(sa, u)
        b_cmd = sb.cmd("admit_to_pool", uscc=u, programme="national", tier="innovative", occurred_on="2023-02-02",
                       actor=CITY)
        a_cmd = sa.cmd("recommend", uscc=u, application_id="a1", occurred_on="2023-02-03", actor=CITY)
        decided = _interleave(a, b, b_cmd)
        out = a.handle(a_cmd)
        assert len(decided) == 2, "A's first save should have conflicted and been retried"
        assert not out.repeated

        reader = Ledger(db=store)
        try:
            evs = list(reader.events.get(enterprise_id(u)))
            assert [e.originator_version for e in evs] == list(range(1, len(evs) + 1))
            assert [type(e).__name__ for e in evs] == ["Registered", "Applied", "AdmittedToPool", "Recommended"]
            assert [(r.version, r.type) for r in out.events] == [(4, "Recommended")]
            assert out.events[0].event_id == event_id(enterprise_id(u), 4)
            # both commands journaled once, with the events they really produced
            journal = reader.handled([b_cmd.command_id, a_cmd.command_id])
            for cmd, version in ((b_cmd, 3), (a_cmd, 4)):
                refs = msgspec.json.decode(journal[cmd.command_id].events, type=list[EventRef])
                assert [r.version for r in refs] == [version]
                assert reader.handle(cmd).repeated
            ent = reader.enterprise(u)
            assert ent.pools["national/innovative"] == date(2023, 2, 2)
            assert ent.applications["a1"].recommendations == {"municipal": CITY}
            # four enterprise events; the journal entries are rows, not events (PostgreSQL's
            # sequence may have a gap where A's conflicting insert was rolled back)
            assert len(all_notifications(reader)) == 4
        finally:
            reader.close()
    finally:
        a.close()
        b.close()


def test_interleaved_retry_decides_again_and_may_refuse(store: str) -> None:
    """A withdraws while B rejects the same application in between: A's retry sees the
    rejection and refuses; nothing of A's is written."""
    a, b = Ledger(db=store), Ledger(db=store)
    try:
        sa, sb = Script(a), Script(b)
        u = uscc(21, "211400")
        _register_and_apply(sa, u)
        b_cmd = sb.cmd("reject", uscc=u, application_id="a1", reason="材料不全", occurred_on="2023-02-02", actor=CITY)
        a_cmd = sa.cmd("withdraw", uscc=u, application_id="a1", occurred_on="2023-02-03", actor=CITY)
        decided = _interleave(a, b, b_cmd)
        with pytest.raises(RuleViolation) as info:
            a.handle(a_cmd)
        assert info.value.code == "withdraw.closed"
        assert len(decided) == 1  # decided once, conflicted, then refused on the new version
        evs = list(a.events.get(enterprise_id(u)))
        assert [type(e).__name__ for e in evs] == ["Registered", "Applied", "Rejected"]
        assert a.handled([a_cmd.command_id]) == {}
    finally:
        a.close()
        b.close()


BUDGET_POLICY = """
id = "budgettest"
name = "并发预算测试"
version = "2023"
effective_from = 2023-01-01
level = "municipal"
jurisdiction = "330100"

[[schemes]]
id = "voucher"
name = "服务券"
kind = "per_item"
granted_by = "330100"
cap_fen = 300
yearly_budget_fen = 1000
once_per_enterprise = false
"""
BUDGET = 1000


@pytest.fixture
def budget_policies(tmp_path: Path) -> str:
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "budgettest.toml").write_text(BUDGET_POLICY, encoding="utf-8")
    return str(folder)


def _grant_until_decided(app: Ledger, cmd: c.Command) -> tuple[str, Any]:
    """Send ``cmd`` the way a client does: on ``conflict`` send the same command again."""
    for _ in range(50):
        try:
            return "accepted", app.handle(cmd)
        except Conflict:
            continue
        except RuleViolation as e:
            return "refused", e.code
    raise AssertionError(f"{cmd.command_id} kept conflicting")


def _grant_worker(args: tuple[str, str, list[str], int, int, int]) -> list[tuple[str, int, str, Any]]:
    """One writer (a thread or a process): its own Ledger, ``n`` grants to random enterprises."""
    store, policies, usccs, worker, n, seed = args
    rnd = random.Random(seed)
    app = Ledger(db=store, policies=policies)
    results = []
    try:
        for i in range(n):
            amount = rnd.randint(40, 300)
            cmd = c.convert_command({
                "command": "grant_reward", "command_id": f"w{worker}-{i}", "uscc": rnd.choice(usccs),
                "reward_id": f"w{worker}-{i}", "programme": "budgettest", "scheme": "voucher",
                "amount_fen": amount, "occurred_on": "2023-06-01",
                "actor": {"authority": "330100", "person": f"worker {worker}"}})
            verdict, detail = _grant_until_decided(app, cmd)
            if verdict == "accepted":
                detail = [(str(r.aggregate_id), r.version, r.type) for r in detail.events]
            results.append((cmd.command_id, amount, verdict, detail))
    finally:
        app.close()
    return results


def _check_budget_outcome(store: str, policies: str, usccs: list[str],
                          results: list[tuple[str, int, str, Any]]) -> None:
    accepted = {cid: (amount, refs) for cid, amount, verdict, refs in results if verdict == "accepted"}
    refused = [refs for _, _, verdict, refs in results if verdict == "refused"]
    assert set(refused) <= {"reward.over_budget"}, refused
    assert accepted, "no grant got through"
    assert refused, "the budget was never exhausted: the test proves nothing"
    total = sum(amount for amount, _ in accepted.values())
    assert total <= BUDGET

    reader = Ledger(db=store, policies=policies)
    try:
        budget = reader.repository.get(budget_id("budgettest", "voucher", 2023))
        assert budget.spent_fen == total and budget.budget_fen == BUDGET
        notes = all_notifications(reader)
        evs = [reader.mapper.to_domain_event(n) for n in notes]
        # every aggregate's versions are contiguous
        versions: dict[UUID, list[int]] = {}
        for e in evs:
            versions.setdefault(e.originator_id, []).append(e.originator_version)
        for agg, vs in versions.items():
            assert sorted(vs) == list(range(1, len(vs) + 1)), f"{agg}: versions {vs}"
        # every accepted grant stored exactly once, nothing stored for the refused ones
        granted = Counter(e.reward_id for e in evs if type(e).__name__ == "RewardGranted")
        spent = Counter(e.reward_id for e in evs if type(e).__name__ == "Spent")
        assert granted == Counter(accepted.keys()) and spent == Counter(accepted.keys())
        assert sum(e.amount_fen for e in evs if type(e).__name__ == "Spent") == total
        assert sum(1 for e in evs if type(e).__name__ == "Opened") == 1
        stored = {(str(e.originator_id), e.originator_version, type(e).__name__) for e in evs}
        for cid, (_amount, refs) in accepted.items():
            assert {t for _, _, t in refs} >= {"RewardGranted", "Spent"}
            assert set(map(tuple, refs)) <= stored, cid
        journal = reader.handled(list(accepted))
        for cid, (_amount, refs) in accepted.items():
            j = msgspec.json.decode(journal[cid].events, type=list[EventRef])
            assert [(str(r.aggregate_id), r.version, r.type) for r in j] == [tuple(r) for r in refs]
        assert not [e for e in evs if type(e).__name__ == "Handled"]  # journal entries are rows now
        rewards = {rid: r for u in usccs for rid, r in reader.enterprise(u).rewards.items()}
        assert {rid: r.amount_fen for rid, r in rewards.items()} == {cid: a for cid, (a, _) in accepted.items()}
    finally:
        reader.close()


def _register_grantees(store: str, policies: str, n: int) -> list[str]:
    app = Ledger(db=store, policies=policies)
    try:
        s = Script(app)
        usccs = [uscc(100 + i, "330100") for i in range(n)]
        for u in usccs:
            s.ok("register", uscc=u, name=f"杭州某企业{u[-4:]}", occurred_on="2023-01-05", actor="330100")
        return usccs
    finally:
        app.close()


def test_concurrent_threads_never_overspend_the_budget(store: str, budget_policies: str) -> None:
    usccs = _register_grantees(store, budget_policies, 3)
    workers, per_worker = 6, 5
    results: list[Any] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(workers)

    def run(w: int) -> None:
        try:
            barrier.wait()
            results.extend(_grant_worker((store, budget_policies, usccs, w, per_worker, w)))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert len(results) == workers * per_worker
    _check_budget_outcome(store, budget_policies, usccs, results)


def test_concurrent_processes_never_overspend_the_budget(store: str, budget_policies: str) -> None:
    usccs = _register_grantees(store, budget_policies, 2)
    workers, per_worker = 4, 5
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers) as pool:
        chunks = pool.map(_grant_worker, [(store, budget_policies, usccs, w, per_worker, 100 + w)
                                          for w in range(workers)])
    results = [r for chunk in chunks for r in chunk]
    assert len(results) == workers * per_worker
    _check_budget_outcome(store, budget_policies, usccs, results)


# ---------------------------------------------------------------------- read model
def read_model_rows(rm: ReadModel) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the read model's tables, by kind, in key order."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    with rm._tx() as cur:
        for kind, (table, row_type, key) in rm.tables.items():
            cols = list(row_type.__struct_fields__)
            cur.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY {key}")
            rows[kind] = [tuple(bool(v) if isinstance(v, int) and c in BOOLS else v for c, v in zip(cols, r))
                          for r in cur.fetchall()]
    return rows


def test_read_model_caught_up_in_steps_equals_rebuild(any_ledger: Ledger) -> None:
    rm = ReadModel(any_ledger, batch_size=3)
    steps: list[int] = []
    try:
        drive_every_event_type(Script(any_ledger), after_step=lambda: steps.append(rm.catch_up()))
        steps.append(rm.catch_up())
        assert len([n for n in steps if n]) >= 5, steps
        assert rm.catch_up() == 0  # nothing new: nothing read again
        assert rm.position() == any_ledger.max_position()
        incremental = read_model_rows(rm)
        assert incremental["designation"] and incremental["member"] and incremental["enterprise"]

        fresh = ReadModel(any_ledger, batch_size=1000, prefix="rebuilt")  # its own tables beside rm_*
        try:
            assert fresh.rebuild() == any_ledger.max_position()
            rebuilt = read_model_rows(fresh)
        finally:
            fresh.close()
        assert rebuilt == incremental
    finally:
        rm.close()


@pytest.mark.postgres
def test_a_schema_named_after_an_sql_keyword_is_refused_clearly(pg_base_url: str | None) -> None:
    """The library registers its composite type under the unquoted schema name; a keyword
    such as ``national`` would fail deep inside it, so the ledger refuses it at the start."""
    if pg_base_url is None:
        pytest.skip("no PostgreSQL")
    with pytest.raises(ValueError, match="'national' is an SQL keyword"):
        Ledger(db=f"{pg_base_url}?schema=national")


def test_opening_a_read_model_waits_for_no_writer_of_its_tables(any_ledger: Ledger) -> None:
    """PostgreSQL: ``CREATE INDEX IF NOT EXISTS`` locks its table before it finds the index
    there, so opening a read model made before waited for every transaction writing into
    it, and one holding other tables deadlocked with it (``benchmarks/run.py``'s wait for
    serve's live projector, in CI).  SQLite: the open took the write lock, and queued
    behind the projector's commits.  What exists is now left alone: opening it takes no
    lock a writer holds."""
    ReadModel(any_ledger).close()  # the tables and indexes exist
    writer = ReadModel(any_ledger)
    opened: list[ReadModel] = []

    def open_while_written() -> bool:
        opening = threading.Thread(target=lambda: opened.append(ReadModel(any_ledger)))
        opening.start()
        opening.join(5)
        return opening.is_alive()

    try:
        if is_postgres(any_ledger.store):
            with writer.conn.cursor() as cur:
                cur.execute(f"LOCK TABLE {writer.prefix}_audit IN ROW EXCLUSIVE MODE")  # as an INSERT holds it
                waited = open_while_written()
            writer.conn.rollback()
        else:
            writer.conn.execute("BEGIN IMMEDIATE")  # SQLite's one write lock, as a commit under way holds it
            waited = open_while_written()
            writer.conn.execute("ROLLBACK")
        for _ in range(60):
            if opened:
                break
            time.sleep(0.5)
        assert not waited and opened
    finally:
        writer.close()
        for rm in opened:
            rm.close()
