"""Batch command handling (``Ledger.handle_many``) is the same as one command at a time:
same outcomes, same refusals, same stored state; and a batch that meets a concurrent
writer falls back to one by one without losing or doubling anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from domain.errors import LedgerError
from infra.readmodel import ReadModel
from services import commands as c
from services.ledger import Ledger, Outcome


def _outcome(result: Any) -> tuple[str, Any]:
    if isinstance(result, Outcome):
        return ("ok", [e.type for e in result.events])
    return ("refused", result.code)


def test_batches_decide_exactly_as_one_at_a_time(tmp_path: Path) -> None:
    from scenarios.demo import dalian_generated, demo_script

    # one at a time costs a commit each: the demo without most of Dalian's generated
    # population (every 15th of its enterprises stays, some of every part)
    generated = dalian_generated()
    skip = set(generated) - set(generated[::15])
    cmds = [c.convert_command(obj) for obj, _ in demo_script() if obj.get("uscc") not in skip]
    one = Ledger(db=str(tmp_path / "one.db"))
    singles = []
    for cmd in cmds:
        try:
            singles.append(_outcome(one.handle(cmd)))
        except LedgerError as e:
            singles.append(_outcome(e))
    many = Ledger(db=str(tmp_path / "many.db"))
    batched: list[tuple[str, Any]] = []
    for size in (7, 200):  # the second pass repeats every command id: nothing new is written
        before = many.max_position()
        got: list[tuple[str, Any]] = []
        many.handle_many(cmds, lambda cmd, r: got.append(_outcome(r)), batch_size=size)  # noqa: B023 (called in this pass)
        if size == 7:
            batched = got
        else:
            assert many.max_position() == before
            assert all(o[0] == "refused" or o == ("ok", b[1]) for o, b in zip(got, batched))
    assert batched == singles
    assert one.max_position() == many.max_position()
    a, b = ReadModel(one), ReadModel(many)
    a.catch_up()
    b.catch_up()
    for kind in a.tables:
        rows_a = [{k: v for k, v in __import__("msgspec").structs.asdict(r).items() if k != "changed_at"}
                  for r in a.rows(kind)]
        rows_b = [{k: v for k, v in __import__("msgspec").structs.asdict(r).items() if k != "changed_at"}
                  for r in b.rows(kind)]
        assert rows_a == rows_b, kind


@pytest.mark.parametrize("rivals", [1, 2])
def test_a_batch_that_meets_a_concurrent_writer_is_decided_again(tmp_path: Path, rivals: int) -> None:
    """A rival writes after the batch took its enterprise for granted (kept from earlier
    commands): the batch is decided again on what it reads.  If a second rival writes
    after that read too, the batch is handled one command at a time."""
    from tests.support.streams import journey

    db = str(tmp_path / "l.db")
    ledger, other = Ledger(db=db), Ledger(db=db)
    first = [c.convert_command({**o, "command_id": f"a-{j}"}) for j, o in enumerate(journey(1)[:3])]
    ledger.handle_many(first)
    rest = [c.convert_command({**o, "command_id": f"a-{j + 3}"}) for j, o in enumerate(journey(1)[3:])]
    rival = [c.convert_command({**o, "command_id": f"other-{j}"}) for j, o in enumerate(journey(1)[3:3 + rivals])]
    real_load, trusted = ledger._load_for, []

    def load_then_interfere(cmds: Any, trust: bool) -> Any:
        staged = real_load(cmds, trust)
        trusted.append(trust)
        if rival:
            other.handle(rival.pop(0))
        return staged

    ledger._load_for = load_then_interfere  # type: ignore[method-assign]
    results: list[Any] = []
    ledger.handle_many(rest, lambda cmd, r: results.append(r))
    assert trusted[:2] == [True, False]
    # The assessment is refused (already assessed) and the rest goes on.
    assert isinstance(results[0], LedgerError) and results[0].code == "assess.not_recommended"
    if rivals == 2:
        assert isinstance(results[1], LedgerError) and results[1].code.startswith("notice.")
        assert len(trusted) == 2 + len(rest)  # one by one after the second conflict
    else:
        assert all(isinstance(r, Outcome) for r in results[1:]) and len(trusted) == 2
    types = [type(e).__name__ for e in ledger.events.get(ledger.enterprise(journey(1)[0]["uscc"]).id)]
    assert types == ["Registered", "Applied", "Recommended", "Assessed", "NoticeOpened", "Approved"]


def test_a_cached_enterprise_catches_up_with_what_another_writer_recorded(tmp_path: Path) -> None:
    """An aggregate kept between commands is taken as it is; when another writer moved it
    on, the save conflicts (or the refusal it led to is not confirmed) and the command is
    decided again on what the store holds."""
    from domain.enterprise import enterprise_id
    from tests.support.streams import journey

    db = str(tmp_path / "l.db")
    ours, theirs = Ledger(db=db), Ledger(db=db)
    steps = [c.convert_command({**o, "command_id": f"j-{j}"}) for j, o in enumerate(journey(1))]
    ours.handle_many(steps[:2])  # register, apply
    eid = enterprise_id(steps[0].uscc)
    assert ours._cache[eid].version == 2  # kept
    theirs.handle(steps[2])  # another process recommends: version 3, which our copy lacks
    assessed = ours.handle(steps[3])
    assert [(e.type, e.version) for e in assessed.events if e.aggregate_id == eid] == [("Assessed", 4)]
    ours.handle_many(steps[4:])
    types = [type(e).__name__ for e in ours.events.get(eid)]
    assert types == ["Registered", "Applied", "Recommended", "Assessed", "NoticeOpened", "Approved"]
    assert vars(ours._cache[eid]) == vars(Ledger(db=db, cache_size=0).repository.get(eid))


def test_a_failed_write_forgets_the_aggregates_it_changed(tmp_path: Path) -> None:
    from eventsourcing.persistence import IntegrityError

    from domain.enterprise import enterprise_id
    from tests.support.streams import journey

    ledger = Ledger(db=str(tmp_path / "l.db"))
    steps = [c.convert_command({**o, "command_id": f"j-{j}"}) for j, o in enumerate(journey(2))]
    ledger.handle_many(steps[:2])
    eid = enterprise_id(steps[0].uscc)
    real_put, calls = ledger._put, []

    def fail_once(events: Any, journal: Any, snapshots: Any = ()) -> Any:
        calls.append(len(events))
        if len(calls) == 1:
            raise IntegrityError("a rival wrote first")
        return real_put(events, journal, snapshots)

    ledger._put = fail_once  # type: ignore[method-assign]
    ledger.handle(steps[2])  # the first write fails: the changed copy must not be kept, the retry reloads
    assert len(calls) == 2 and ledger._cache[eid].version == 3
    assert [type(e).__name__ for e in ledger.events.get(eid)] == ["Registered", "Applied", "Recommended"]


def test_a_batch_s_refusals_leave_nothing_for_the_cyclic_collector(tmp_path: Path) -> None:
    """Each refusal a batch answered held a cycle through its traceback (its frames hold the
    batch's results, which hold it): some 13 objects of garbage per refusal that only the
    cyclic collector frees, and that a serving process refreezing its heap every second
    (``infra.heap.refreeze``) would keep once they reached the old generation.  The answers
    are the same refusals, with their codes and fields, and leave none."""
    import gc

    from scenarios.generate import generate_commands

    dicts = list(generate_commands(40, 2, 1, start_year=2016))
    ledger = Ledger(db=str(tmp_path / "ledger.db"))
    ledger.handle_many([c.convert_command(d) for d in dicts])
    again = [c.convert_command({**d, "command_id": d["command_id"] + "-again"}) for d in dicts
             if d["command"] in ("register", "apply")]
    refused: list[tuple[str, str, str | None]] = []  # what is answered of each, not the refusal itself
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()  # every cycle made from here on is still there for the count below
    try:
        counts = ledger.handle_many(again, on_result=lambda cmd, r: refused.append((type(r).__name__, r.code, r.field)),
                                   batch_size=20)
        garbage = gc.collect()
    finally:
        if enabled:
            gc.enable()
    assert counts["refused"] == len(again) >= 40 and {kind for kind, _, _ in refused} == {"RuleViolation"}
    assert {code for _, code, _ in refused} >= {"register.exists"} and all(field for _, _, field in refused)
    assert garbage < len(again), garbage  # (a few closures; it was 13 per refusal)
