"""The command journal as a table (issue 17, item 3), on SQLite and PostgreSQL:

- a repeated command id gets the first outcome again and writes nothing; a command id
  reused for a different command is refused;
- the journal row is written in the events' transaction: a command id already there makes
  the whole save fail (``IntegrityError``), as a version already there does;
- duplicates sent at the same moment by separate processes: one is accepted, the others
  answered "repeated" with the same outcome, the events written once;
- a store written while journal entries were ``HandledCommand`` events gets its table
  filled when it is opened, the events stay, the hash chain still verifies.
"""

from __future__ import annotations

import hashlib
import multiprocessing
from typing import Any

import msgspec
import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from domain.enterprise import enterprise_id
from domain.errors import RuleViolation
from infra.event_store import JournalRow
from infra.integrity import verify_store
from infra.store import is_postgres
from services import commands as c
from services.ledger import EventRef, HandledCommand, Ledger, Outcome
from tests.support.streams import journey


def _cmds(round_: int, prefix: str) -> list[c.Command]:
    return [c.convert_command({**obj, "command_id": f"{prefix}-{j}"}) for j, obj in enumerate(journey(round_))]


def test_a_repeated_command_gets_its_first_outcome_and_writes_nothing(any_ledger: Ledger) -> None:
    cmds = _cmds(0, "r")
    first = {cmd.command_id: any_ledger.handle(cmd) for cmd in cmds[:3]}
    counts = any_ledger.handle_many(cmds[3:])
    assert counts["refused"] == 0 and counts["repeated"] == 0
    size = any_ledger.max_position()
    for cmd in cmds[:3]:
        again = any_ledger.handle(cmd)
        assert again.repeated and msgspec.structs.replace(again, repeated=False) == first[cmd.command_id]
    got: list[Outcome] = []
    counts = any_ledger.handle_many(cmds, on_result=lambda _cmd, r: got.append(r))  # type: ignore[arg-type,return-value]
    assert counts == {"accepted": 0, "repeated": len(cmds), "refused": 0}
    assert [o.events for o in got[:3]] == [first[cmd.command_id].events for cmd in cmds[:3]]
    assert any_ledger.max_position() == size
    # A fresh ledger (nothing kept) answers the same, from the row.
    fresh = Ledger(db=any_ledger.store)
    try:
        assert fresh.handle(cmds[0]) == msgspec.structs.replace(first[cmds[0].command_id], repeated=True)
        assert set(fresh.handled([cmd.command_id for cmd in cmds])) == {cmd.command_id for cmd in cmds}
    finally:
        fresh.close()


def test_the_same_command_twice_in_one_batch_is_repeated(any_ledger: Ledger) -> None:
    cmds = _cmds(1, "b")
    got: list[Any] = []
    counts = any_ledger.handle_many([cmds[0], cmds[0], *cmds[1:3], cmds[1]], on_result=lambda _c, r: got.append(r))
    assert counts == {"accepted": 3, "repeated": 2, "refused": 0}
    assert got[1].repeated and got[1].events == got[0].events and got[4].events == got[2].events


def test_a_reused_command_id_is_refused(any_ledger: Ledger) -> None:
    cmds = _cmds(2, "u")
    any_ledger.handle(cmds[0])
    other = msgspec.structs.replace(cmds[1], command_id=cmds[0].command_id)
    size = any_ledger.max_position()
    with pytest.raises(RuleViolation) as info:
        any_ledger.handle(other)
    assert info.value.code == "command_id.reused" and info.value.field == "command_id"
    results: list[Any] = []
    any_ledger.handle_many([other], on_result=lambda _c, r: results.append(r))
    assert isinstance(results[0], RuleViolation) and results[0].code == "command_id.reused"
    assert any_ledger.max_position() == size


def test_a_journal_row_already_there_fails_the_whole_save(any_ledger: Ledger) -> None:
    """The primary key is the duplicate guard: the events of the transaction are not written."""
    cmds = _cmds(3, "k")
    any_ledger.handle(cmds[0])
    eid = enterprise_id(cmds[0].uscc)
    last = any_ledger.bulk.read_after({eid: 0})[1][-1]
    size = any_ledger.max_position()
    row = any_ledger.handled([cmds[0].command_id])[cmds[0].command_id]
    moved = msgspec.structs.replace(row, command_id="k-new")  # a new command id, with a new event
    bumped = StoredEvent(originator_id=eid, originator_version=last.originator_version + 1, topic=last.topic,
                         state=last.state)
    with pytest.raises(IntegrityError):
        any_ledger.bulk.insert([bumped], [moved, row])  # row's command id is there already
    assert any_ledger.max_position() == size and any_ledger.handled(["k-new"]) == {}
    any_ledger.bulk.insert([bumped], [moved])  # the same without the duplicate: written
    assert any_ledger.max_position() > size and set(any_ledger.handled(["k-new"])) == {"k-new"}


def test_a_rival_that_journaled_the_command_first_makes_it_repeated(store: str) -> None:
    """Ledger ``a`` keeps the enterprise and takes the journal entry as absent; ``b`` handles
    the same command in between.  ``a``'s save meets the row (and the version): decided
    again on what the store holds, the answer is "repeated", with ``b``'s events."""
    a, b = Ledger(db=store), Ledger(db=store)
    try:
        cmds = _cmds(4, "x")
        for cmd in cmds[:2]:
            a.handle(cmd)
        by_b = b.handle(cmds[2])
        puts: list[int] = []
        real_put = a._put

        def counting_put(events: Any, journal: Any, snapshots: Any = ()) -> None:
            puts.append(len(journal))
            real_put(events, journal, snapshots)

        a._put = counting_put  # type: ignore[method-assign]
        size = a.max_position()
        by_a = a.handle(cmds[2])
        assert by_a.repeated and by_a.events == by_b.events
        assert a.max_position() == size and len(puts) <= 1
        # A command b had journaled, sent in a batch to a (which takes its entry as absent).
        by_b = b.handle(cmds[3])
        got: list[Any] = []
        assert a.handle_many(cmds[3:5], on_result=lambda _c, r: got.append(r))["repeated"] == 1
        assert got[0].repeated and got[0].events == by_b.events and not got[1].repeated
    finally:
        a.close()
        b.close()


def _send(store: str, barrier: Any, queue: Any, commands: list[dict[str, Any]], many: bool) -> None:
    from domain.errors import LedgerError

    ledger = Ledger(db=store)
    cmds = [c.convert_command(x) for x in commands]
    barrier.wait(timeout=60)

    def put(cmd: c.Command, r: Any) -> None:
        if isinstance(r, LedgerError):
            queue.put((cmd.command_id, "refused", r.code))
        else:
            queue.put((cmd.command_id, "repeated" if r.repeated else "accepted", msgspec.json.encode(r.events)))

    if many:
        ledger.handle_many(cmds, on_result=put)
    else:
        for cmd in cmds:
            try:
                put(cmd, ledger.handle(cmd))
            except LedgerError as e:
                put(cmd, e)
    ledger.close()


@pytest.mark.parametrize("many", [False, True], ids=["handle", "handle_many"])
def test_concurrent_duplicates_one_is_accepted_the_others_repeated(store: str, many: bool) -> None:
    ledger = Ledger(db=store)
    steps = [{**obj, "command_id": f"d-{j}"} for j, obj in enumerate(journey(5))]
    ledger.handle(c.convert_command(steps[0]))
    size = ledger.max_position()
    ctx = multiprocessing.get_context("spawn")
    senders = 3
    barrier, queue = ctx.Barrier(senders), ctx.Queue()
    procs = [ctx.Process(target=_send, args=(store, barrier, queue, steps[1:4], many)) for _ in range(senders)]
    for p in procs:
        p.start()
    results: dict[str, list[tuple[str, Any]]] = {}
    for _ in range(senders * 3):
        cid, kind, detail = queue.get(timeout=120)
        results.setdefault(cid, []).append((kind, detail))
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    for cid, answers in results.items():
        kinds = sorted(k for k, _ in answers)
        assert kinds == ["accepted", "repeated", "repeated"], (cid, answers)
        assert len({d for _, d in answers}) == 1, (cid, answers)  # the same events in every reply
    fresh = Ledger(db=store)
    try:
        written = sum(len(msgspec.json.decode(results[s["command_id"]][0][1])) for s in steps[1:4])
        assert fresh.max_position() - size == written or is_postgres(store)  # (PostgreSQL: gaps of rollbacks)
        ent = fresh.enterprise(steps[0]["uscc"])
        assert ent.version == 1 + written
    finally:
        fresh.close()
        ledger.close()


# ---------------------------------------------------------------------------- upgrading an old store
class OldLedger(Ledger):
    """The ledger as it was before the journal table: each accepted command's journal entry
    a ``HandledCommand`` event beside its events, in the same save, on the recorders of
    then (no journal table)."""

    name = "Ledger"  # the same tables as the real application

    def __init__(self, db: str):
        old = "ChainedPostgresApplicationRecorder" if is_postgres(db) else "ChainedSQLiteApplicationRecorder"
        self._commands: dict[str, c.Command] = {}
        super().__init__(db=db, env={"APPLICATION_RECORDER_TOPIC": f"infra.integrity:{old}"})

    def _upgrade_journal(self) -> int | None:
        return None

    def _first_outcome(self, cmd: c.Command, digest: str) -> Outcome | None:
        return None  # (the fixture sends each command once)

    def _record_of(self, cmd: c.Command, digest: str, aggregates: list[Any]) -> Any:
        self._commands[cmd.command_id] = cmd
        return super()._record_of(cmd, digest, aggregates)

    def _put(self, events: list[Any], journal: list[JournalRow], snapshots: Any = ()) -> None:
        old = []
        for row in journal:
            cmd = self._commands[row.command_id]
            old += HandledCommand(command_id=row.command_id, command=row.command, digest=row.digest,
                                  occurred_on=cmd.occurred_on, actor=cmd.actor, document=cmd.document,
                                  events=msgspec.json.decode(row.events, type=list[EventRef])).collect_events()
        super()._put([*events, *old], [], snapshots)


def test_a_store_of_journal_events_gets_its_table_on_open(store: str) -> None:
    cmds = _cmds(6, "o") + _cmds(7, "p")  # two enterprises' journeys, in order
    old = OldLedger(store)
    try:
        first = {}
        for cmd in cmds[:4]:
            first[cmd.command_id] = old.handle(cmd)
        old.handle_many(cmds[4:8], on_result=lambda cmd, r: first.__setitem__(cmd.command_id, r))
        topics = [n.topic for n in old.recorder.select_notifications(start=1, limit=10_000)]
        assert topics.count(Ledger.LEGACY_JOURNAL_TOPIC) == len(first) == 8
        with pytest.raises(Exception, match="journal"):  # the old store has no journal table
            old.bulk.journal_entries(["o-0"])
    finally:
        old.close()
    assert all(isinstance(o, Outcome) for o in first.values())
    new = Ledger(db=store)
    try:
        notes = new.recorder.select_notifications(start=1, limit=10_000)
        assert [n.topic for n in notes] == topics  # the history is as it was
        assert verify_store(new).ok
        assert set(new.handled(list(first))) == set(first)
        size = new.max_position()
        for cmd in cmds[:8]:
            assert new.handle(cmd) == msgspec.structs.replace(first[cmd.command_id], repeated=True)
        with pytest.raises(RuleViolation, match="reused"):
            new.handle(msgspec.structs.replace(cmds[8], command_id=cmds[0].command_id))
        assert new.max_position() == size
        for cmd in cmds[8:10]:
            assert not new.handle(cmd).repeated  # new commands: rows, no more HandledCommand events
        topics_after = [n.topic for n in new.recorder.select_notifications(start=1, limit=10_000)]
        assert topics_after.count(Ledger.LEGACY_JOURNAL_TOPIC) == 8
        assert verify_store(new).ok
        assert new._upgrade_journal() is None  # once: the table holds rows now
    finally:
        new.close()
    again = Ledger(db=store)  # reopened: nothing to fill, the same answers
    try:
        assert again.handle(cmds[9]).repeated and again.handle(cmds[1]).repeated
    finally:
        again.close()


def test_the_digest_of_an_upgraded_entry_is_the_one_it_was_journaled_with(store: str) -> None:
    old = OldLedger(store)
    cmd = _cmds(8, "g")[0]
    try:
        old.handle(cmd)
    finally:
        old.close()
    new = Ledger(db=store)
    try:
        row = new.handled([cmd.command_id])[cmd.command_id]
        assert row.digest == hashlib.sha256(c.encode_command(cmd)).hexdigest() and row.command == "register"
    finally:
        new.close()
