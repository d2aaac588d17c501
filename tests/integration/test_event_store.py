"""The ledger's bulk port on each real store (infra/event_store.py): the adapter chosen by
the recorder, the snapshots and events after given versions (across chunks of ids),
the latest stored versions, and the raw insert refusing a version that exists."""

from __future__ import annotations

from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError

from domain.enterprise import enterprise_id
from domain.values import make_uscc
from infra.event_store import CHUNK, PostgresEventStore, SQLiteEventStore
from infra.store import is_postgres
from services import commands as c
from services.ledger import Ledger

USCC = make_uscc("91370202MA0000002")
ACTOR = {"authority": "370200", "person": "青岛市工信局"}


def _enterprise_of_six_events(ledger: Ledger) -> None:
    ledger.handle(c.convert_command({"command": "register", "command_id": "r", "uscc": USCC, "name": "青岛某阀门厂",
                                     "occurred_on": "2012-01-01", "actor": ACTOR}))
    ledger.handle_many([c.convert_command({"command": "file_yearly_data", "command_id": f"y{y}", "uscc": USCC,
                                           "programme": "qingdao", "data_year": y, "occurred_on": f"{y + 1}-03-01",
                                           "actor": ACTOR}) for y in range(2012, 2017)])


def test_the_bulk_port_reads_and_writes_each_store(any_ledger: Ledger) -> None:
    bulk = any_ledger.bulk
    assert type(bulk) is (PostgresEventStore if is_postgres(any_ledger.store) else SQLiteEventStore)
    _enterprise_of_six_events(any_ledger)
    eid, absent = enterprise_id(USCC), uuid4()
    assert bulk.stored_versions([eid, absent]) == {eid: 6}
    assert set(bulk.journal_entries(["r", "y2012", "nope"])) == {"r", "y2012"}
    assert bulk.journal_entries([]) == {}
    assert bulk.stored_versions([]) == {}

    def versions(starts: dict, snapshot_of: tuple = ()) -> tuple[list[int], list[int]]:
        snaps, events = bulk.read_after(starts, snapshot_of)
        assert all(e.originator_id == eid for e in [*snaps, *events])
        return [s.originator_version for s in snaps], [e.originator_version for e in events]

    assert versions({eid: 0, absent: 0}) == ([], [1, 2, 3, 4, 5, 6])
    assert versions({eid: 4}) == ([], [5, 6])
    assert versions({eid: 0}, (eid,)) == ([], [1, 2, 3, 4, 5, 6])  # no snapshot yet
    any_ledger.take_snapshot(eid, version=2)
    any_ledger.take_snapshot(eid, version=3)
    assert versions({eid: 0}, (eid,)) == ([3], [4, 5, 6])  # the latest snapshot, then the events after it
    assert versions({eid: 0}) == ([], [1, 2, 3, 4, 5, 6])  # not asked for a snapshot
    # Ids enough for three chunks, the enterprise in the last.
    many = {**{uuid4(): 0 for _ in range(2 * CHUNK + 7)}, eid: 0}
    assert versions(many, list(many)) == ([3], [4, 5, 6])
    assert vars(any_ledger.load_many([eid])[eid]) == vars(any_ledger.repository.get(eid))

    stored = any_ledger.recorder.select_events(eid, gt=5)
    with pytest.raises(IntegrityError):
        bulk.insert(stored)  # version 6 exists: refused, nothing written
    assert bulk.stored_versions([eid]) == {eid: 6}
