"""Two services deciding on the same enterprise at the same moment, as separate processes
on the same store (SQLite and PostgreSQL): one wins, the other is retried on the new
version and then accepted or refused by the rules (or refused with ``conflict``);
nothing is lost or doubled."""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest

from tests.support.streams import journey


def _decide(store: str, barrier: Any, queue: Any, commands: list[dict[str, Any]]) -> None:
    from domain.errors import LedgerError
    from services import commands as c
    from services.ledger import Ledger

    ledger = Ledger(db=store)
    cmds = [c.convert_command(x) for x in commands]
    barrier.wait(timeout=60)
    for cmd in cmds:
        try:
            out = ledger.handle(cmd)
            queue.put((cmd.command_id, "ok", [e.type for e in out.events]))
        except LedgerError as e:
            queue.put((cmd.command_id, "refused", e.code))
    ledger.close()


def _run(store: str, per_process: list[list[dict[str, Any]]]) -> dict[str, tuple[str, Any]]:
    ctx = multiprocessing.get_context("spawn")
    barrier, queue = ctx.Barrier(len(per_process)), ctx.Queue()
    procs = [ctx.Process(target=_decide, args=(store, barrier, queue, cmds)) for cmds in per_process]
    for p in procs:
        p.start()
    results = {}
    for _ in range(sum(len(x) for x in per_process)):
        cid, kind, detail = queue.get(timeout=120)
        results[cid] = (kind, detail)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return results


@pytest.mark.parametrize("round_", range(3))
def test_rival_decisions_at_the_same_moment_one_wins(store: str, round_: int) -> None:
    from services import commands as c
    from services.ledger import Ledger

    ledger = Ledger(db=store)
    steps = journey(round_)
    for j, obj in enumerate(steps[:5]):  # up to the notice
        ledger.handle(c.convert_command({**obj, "command_id": f"setup-{j}"}))
    ent_id = ledger.enterprise(steps[0]["uscc"]).id
    before = ledger.enterprise(steps[0]["uscc"]).version
    province = {"authority": "210000", "person": "省厅"}
    approve = {**steps[5], "command_id": "approve"}
    reject = {"command": "reject", "command_id": "reject", "uscc": steps[0]["uscc"], "application_id": "sp",
              "reason": "材料不实", "occurred_on": "2019-05-20", "actor": province}
    withdraw = {"command": "withdraw", "command_id": "withdraw", "uscc": steps[0]["uscc"], "application_id": "sp",
                "reason": "企业撤回", "occurred_on": "2019-05-20",
                "actor": {"authority": "211402", "person": "企业", "role": "enterprise"}}
    results = _run(store, [[approve], [reject], [withdraw]])
    winners = [cid for cid, (kind, _) in results.items() if kind == "ok"]
    assert len(winners) == 1, results
    for cid, (kind, detail) in results.items():
        if kind == "refused":
            assert detail.endswith(".closed") or detail in ("approve.no_notice", "conflict"), (cid, detail)
    fresh = Ledger(db=store)
    events = list(fresh.events.get(ent_id))
    assert [e.originator_version for e in events] == list(range(1, before + 2))  # exactly one decision, no gap
    decided = type(events[-1]).__name__
    assert decided == {"approve": "Approved", "reject": "Rejected", "withdraw": "Withdrawn"}[winners[0]]
    ledger.close()
    fresh.close()


def test_many_writers_on_one_enterprise_lose_nothing(store: str) -> None:
    from services import commands as c
    from services.ledger import Ledger

    ledger = Ledger(db=store)
    steps = journey(9)
    ledger.handle(c.convert_command({**steps[0], "command_id": "reg"}))
    u = steps[0]["uscc"]
    filings = [[{"command": "file_yearly_data", "command_id": f"y{p}-{k}", "uscc": u, "data_year": 2000 + 5 * p + k,
                 "occurred_on": "2024-01-02", "actor": {"authority": "211400", "person": f"service {p}"}}
                for k in range(5)] for p in range(4)]
    results = _run(store, filings)
    accepted = sorted(cid for cid, (kind, _) in results.items() if kind == "ok")
    conflicts = [cid for cid, (kind, detail) in results.items() if kind == "refused"]
    assert all(results[cid][1] == "conflict" for cid in conflicts)  # the only acceptable refusal here
    ent = Ledger(db=store).enterprise(u)
    assert sorted(ent.yearly_data) == sorted(2000 + int(cid[1]) * 5 + int(cid.split("-")[1]) for cid in accepted)
    assert ent.version == 1 + len(accepted)
    ledger.close()
