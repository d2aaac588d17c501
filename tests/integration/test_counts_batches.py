"""Batches (第N批) as facts, and the three counts (valid on D, ever designated up to D, newly
designated in a year) on a real ledger, SQLite and PostgreSQL (docs/domain.md, "Three counts")."""

from __future__ import annotations

from datetime import date, timedelta

import msgspec
import pytest

from domain.enterprise import Enterprise
from infra.readmodel import ReadModel
from services import commands as c
from services.ledger import Ledger
from services.queries import pool_items
from tests.support.journeys import COUNTY, PROVINCE, designate, passing_assessment, register
from tests.support.ledgers import Script, uscc


def _specialized(script: Script, code: str, *, on: str, batch: int | None) -> str:
    """A provincial 专精特新 of ``code`` whose recommendation and approval name ``batch``:
    applied on ``on``, recommended the day after, approved when the notice period ends."""
    d = designate(script, code, "specialized", on=on, until="applied")
    app, start = d.application_id, date.fromisoformat(on)
    named = {"batch": batch} if batch else {}
    t = script.ledger.policy.in_force("national", start).tier("specialized")
    script.ok("recommend", uscc=code, application_id=app, occurred_on=str(start + timedelta(days=1)),
              actor="211400", **named)
    script.ok("assess", uscc=code, application_id=app, occurred_on=str(start + timedelta(days=10)), actor=PROVINCE,
              **passing_assessment(t))
    script.ok("open_notice", uscc=code, application_id=app, occurred_on=str(start + timedelta(days=11)),
              actor=PROVINCE)
    approve_on = start + timedelta(days=11 + t.notice_days)
    script.ok("approve", uscc=code, application_id=app, occurred_on=str(approve_on), actor=PROVINCE,
              document=f"辽工信发〔{approve_on.year}〕9号", **named)
    return app


def test_a_batch_is_kept_from_the_command_to_the_event_and_the_pool_rows(any_ledger: Ledger) -> None:
    script = Script(any_ledger)
    a, b = uscc(1, COUNTY), uscc(2, COUNTY)
    register(script, a)
    register(script, b)
    app_a = _specialized(script, a, on="2023-03-01", batch=5)
    _specialized(script, b, on="2023-03-01", batch=None)
    approved = [ev for ev in any_ledger.events.get(Enterprise.create_id(uscc=a))
                if type(ev).__name__ == "Approved"]
    assert [ev.batch for ev in approved] == [5]
    assert any_ledger.enterprise(a).applications[app_a].batch == 5
    rm = ReadModel(any_ledger)
    try:
        rows = {d.uscc: d for d in rm.pool(tier="specialized", as_of="2023-06-30")}
        assert (rows[a].batch, rows[a].recommended_batch, rows[b].batch) == (5, 5, None)
        assert rows[a].approved_on is not None and rows[a].approved_on <= "2023-06-30"
        lines = rm.batches(as_of="2023-06-30", tier="specialized")
        assert [(x.batch, x.recommended, x.approved) for x in lines] == [(5, 1, 1)]
        # before the approval, the batch has its recommendation only
        early = rm.batches(as_of="2023-03-05", tier="specialized")
        assert [(x.batch, x.recommended, x.approved) for x in early] == [(5, 1, 0)]
    finally:
        rm.close()


def test_a_batch_number_is_checked_at_the_edge(ledger: Ledger) -> None:
    script = Script(ledger)
    with pytest.raises(c.InputError) as info:
        script.cmd("approve", uscc=uscc(1, COUNTY), application_id="x", occurred_on="2023-03-01", actor=PROVINCE,
                   document="d", batch=0)
    assert info.value.field == "$.batch" and ">= 1" in info.value.message


def test_an_approval_stored_before_batches_existed_still_loads(ledger: Ledger) -> None:
    """Old stores hold Approved and Recommended events without ``batch``: they decode to None,
    and the command they came from keeps its digest."""
    script = Script(ledger)
    code = uscc(1, COUNTY)
    register(script, code)
    app = _specialized(script, code, on="2023-03-01", batch=None)
    mapper = ledger.mapper
    for ev in ledger.events.get(Enterprise.create_id(uscc=code)):
        if type(ev).__name__ not in ("Approved", "Recommended"):
            continue
        stored = mapper.to_stored_event(ev)
        state = msgspec.json.decode(stored.state)
        del state["batch"]
        old = msgspec.structs.replace(stored, state=msgspec.json.encode(state)) if isinstance(
            stored, msgspec.Struct) else type(stored)(originator_id=stored.originator_id,
                                                      originator_version=stored.originator_version,
                                                      topic=stored.topic, state=msgspec.json.encode(state))
        assert mapper.to_domain_event(old).batch is None
    cmd = script.cmd("approve", uscc=code, application_id=app, occurred_on="2023-06-30", actor=PROVINCE, document="d")
    assert b"batch" not in c.encode_command(cmd)


def test_ever_new_and_valid_counts_on_a_ledger(any_ledger: Ledger) -> None:
    """A revoked designation still counts as ever designated, an annulled one never did; a
    subject counts once, in the year of its first approval."""
    script = Script(any_ledger)
    a, b, d = uscc(1, COUNTY), uscc(2, COUNTY), uscc(3, COUNTY)
    for code in (a, b, d):
        register(script, code, on="2019-01-10")
    app_a = _specialized(script, a, on="2019-03-01", batch=1)
    _specialized(script, b, on="2022-03-01", batch=4)
    app_d = _specialized(script, d, on="2022-03-01", batch=4)
    script.ok("revoke", uscc=a, application_id=app_a, occurred_on="2020-05-01", actor=PROVINCE,
              reason="false_material", document="辽工信发〔2020〕1号")
    script.ok("annul", uscc=d, application_id=app_d, occurred_on="2022-09-01", actor=PROVINCE,
              reason="认定有误", document="辽工信发〔2022〕2号")
    rm = ReadModel(any_ledger)
    try:
        def n(count: str, as_of: str, year: int | None = None) -> int:
            return len(pool_items(rm, tier="specialized", as_of=as_of, region="211400", count=count, year=year))

        assert (n("valid", "2021-12-31"), n("ever", "2021-12-31")) == (0, 1)  # a revoked: still ever designated
        assert (n("valid", "2022-06-30"), n("ever", "2022-06-30"), n("new", "2022-06-30")) == (2, 3, 2)
        # d annulled on 2022-09-01: never a designation from then on; as of June it still counted
        assert (n("valid", "2022-12-31"), n("ever", "2022-12-31"), n("new", "2022-12-31")) == (1, 2, 1)
        assert n("new", "2022-12-31", year=2019) == 1
        assert rm.designated(tier="specialized", as_of="2022-12-31", count="ever", batch=4)[0].uscc == b
    finally:
        rm.close()
