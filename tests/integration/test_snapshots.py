"""Snapshots of long-lived aggregates: taken every N events, typed through the msgspec
mapper, used on load, equal to a replay, and checked by `audit verify` (they are a cache
outside the hash chain, so a doctored one must not pass unseen)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError

from domain.budget import SchemeBudget
from domain.enterprise import Enterprise
from domain.values import Actor, make_uscc
from infra.integrity import verify_store
from services import commands as c
from services.ledger import Ledger


def _long_lived(ledger: Ledger) -> Any:
    u = make_uscc("91370202MA0000001")
    actor = {"authority": "370200", "person": "青岛市工信局"}
    ledger.handle(c.convert_command({"command": "register", "command_id": "r", "uscc": u,
                                     "name": "青岛某精密机械有限公司",
                                     "occurred_on": "2012-01-01", "actor": actor}))
    ledger.handle_many([c.convert_command({"command": "file_yearly_data", "command_id": f"y{y}", "uscc": u,
                                           "programme": "qingdao", "data_year": y, "occurred_on": f"{y + 1}-03-01",
                                           "actor": actor}) for y in range(2012, 2070)], batch_size=7)
    return ledger.enterprise(u)


def test_snapshots_are_taken_used_and_equal_a_replay(any_ledger: Ledger) -> None:
    ent = _long_lived(any_ledger)
    assert ent.version == 59
    # one snapshot each time a batch's events cross a multiple of the interval (10), at the
    # version the batch ends on: batches of 7 commands end on versions 8, 15, 22, 29, 36, 43, 50, 57, 59
    every = Ledger.snapshot_every[type(ent)]
    ends = [*range(8, 59, 7), 59]
    crossed = [v for before, v in zip([1, *ends], ends) if v // every > before // every]
    assert crossed == [15, 22, 36, 43, 50]
    assert [s.originator_version for s in any_ledger.snapshots.get(ent.id)] == crossed
    fresh = Ledger(db=any_ledger.store)
    via_snapshot = fresh.repository.get(ent.id)
    via_replay = None
    for event in fresh.events.get(ent.id):  # every event, no snapshot
        via_replay = event.mutate(via_replay)
    via_load = Ledger(db=any_ledger.store).load_many([ent.id])[ent.id]  # snapshot + the events after it
    assert vars(via_load) == vars(ent)
    assert vars(via_snapshot) == vars(ent) == vars(via_replay)
    assert isinstance(via_snapshot._created_on, type(ent._created_on)) and via_snapshot.yearly_data[2020] is False
    assert verify_store(fresh).ok
    fresh.close()


def test_snapshots_are_written_with_the_events_that_made_them_due_or_not_at_all(any_ledger: Ledger) -> None:
    """One transaction for a batch's events, journal rows and snapshots (one commit, one
    fsync on SQLite, where the snapshots' own transaction made two): refused together."""
    ent = _long_lived(any_ledger)
    taken = [15, 22, 36, 43, 50]
    snapshot = any_ledger.mapper.to_stored_event(Enterprise.Snapshot.take(ent))  # at version 59
    last = any_ledger.recorder.select_events(ent.id, gt=58)  # version 59 is stored: the insert is refused
    with pytest.raises(IntegrityError):
        any_ledger.bulk.insert(last, snapshots=[snapshot])
    assert [s.originator_version for s in any_ledger.snapshots.get(ent.id)] == taken
    with pytest.raises(IntegrityError):  # a command id in the journal: the same
        any_ledger.bulk.insert([], [any_ledger.handled(["y2012"])["y2012"]], [snapshot])
    assert [s.originator_version for s in any_ledger.snapshots.get(ent.id)] == taken


def test_a_snapshot_that_cannot_be_taken_costs_no_command(ledger: Ledger, monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    """A snapshot is a cache: when one cannot be taken the batch is written without it
    (logged), and every command stands."""
    def fail(agg: Any) -> Any:
        raise RuntimeError("no snapshot today")

    monkeypatch.setattr(Enterprise.Snapshot, "take", classmethod(lambda cls, agg: fail(agg)))
    with caplog.at_level("ERROR", logger="cultivation.ledger"):
        ent = _long_lived(ledger)
    assert ent.version == 59 and len(ledger.handled([f"y{y}" for y in range(2012, 2070)])) == 58
    assert list(ledger.snapshots.get(ent.id)) == []
    assert "could not take 1 snapshot(s)" in caplog.text
    monkeypatch.undo()
    assert vars(Ledger(db=ledger.store).repository.get(ent.id)) == vars(ent)


def test_a_doctored_snapshot_is_caught_by_verify(ledger: Ledger) -> None:
    ent = _long_lived(ledger)
    with ledger.snapshots.recorder.datastore.transaction(commit=True) as cur:
        cur.execute("SELECT state FROM stored_snapshots")
        state = bytes(cur.fetchone()[0])
        cur.execute("UPDATE stored_snapshots SET state = ?", (state.replace(b'"listed":false', b'"listed":true'),))
    result = verify_store(ledger)
    assert not result.ok and result.first_bad is not None
    assert result.first_bad.problem == "snapshot_mismatch" and str(ent.id) in result.first_bad.detail


def test_a_budget_snapshot_round_trips_through_the_mapper(ledger: Ledger) -> None:
    budget = SchemeBudget.open(programme="zhejiang", scheme="hz_service_purchase", year=2023, budget_fen=10_000)
    hz = Actor(authority="330100", person="杭州市经信局")
    for i in range(120):
        budget.spend(reward_id=f"r{i}", uscc="X", amount_fen=10, occurred_on=date(2023, 5, 1), actor=hz, document="")
    snapshot = SchemeBudget.Snapshot.take(budget)
    back = ledger.mapper.to_domain_event(ledger.mapper.to_stored_event(snapshot))
    restored = back.mutate(None)
    assert vars(restored) | {"_pending_events": []} == vars(budget) | {"_pending_events": []}
    assert restored.spent_fen == 1200 and restored.left_fen == 8800
