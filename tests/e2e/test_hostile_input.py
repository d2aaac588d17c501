"""Hostile and careless input at the edge (issue 11, findings 2, 3 and 4).

Each test attacks the way a client could: JSON bytes through ``decode_command`` (what
``submit`` and the NATS service use), flags through ``convert_command`` (the CLI), whole
files through ``cultivation submit``, requests through a real ``cultivation serve``.  Each
checks the refusal names the field and the rule, that nothing was written (the store's row
counts), and that the ledger goes on answering.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import msgspec
import nats
import pytest

from domain.errors import LedgerError
from domain.values import MAX_FEN, DateOutOfRange, add_months, add_years
from infra.nats import connect_options
from services import commands as c
from services.ledger import DecisionFailed, Ledger, Outcome
from tests.support.hostile import SAMPLES, USCC, actor, cli, journey, row_counts, sample, send_raw, subject_of
from tests.support.serving import Serve


def refused_at(body: dict[str, Any] | bytes, field: str, says: str) -> c.InputError:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    with pytest.raises(c.InputError) as info:
        c.decode_command(data)
    assert info.value.field == field, info.value
    assert says in info.value.message, info.value
    return info.value


# ============================================================================ finding 4: the edge
@pytest.mark.parametrize("change, field", [
    ({"command_id": "x\n"}, "$.command_id"),
    ({"uscc": USCC + "\n"}, "$.uscc"),
    ({"application_id": "sp\n"}, "$.application_id"),
    ({"actor": actor("211400\n")}, "$.actor.authority"),
    ({"actor": actor("\n211400")}, "$.actor.authority"),
])
def test_a_pattern_refuses_a_final_newline(change: dict[str, Any], field: str) -> None:
    refused_at(sample("recommend", **change), field, "")


def test_a_region_with_a_final_newline_never_reaches_region() -> None:
    # Before: accepted by the pattern, then ValueError inside Region() deep in the aggregate.
    refused_at(sample("register", region="211402\n"), "$.region", "")


@pytest.mark.parametrize("command, field, value", [
    ("recommend", "occurred_on", "0001-01-01"),
    ("recommend", "occurred_on", "9999-12-31"),
    ("recommend", "occurred_on", "1989-12-31"),
    ("recommend", "occurred_on", "2100-01-01"),
    ("report_change", "changed_on", "9999-12-01"),
    ("revoke", "effective_on", "9999-12-31"),
])
def test_business_dates_outside_the_plausible_range_are_refused(command: str, field: str, value: str) -> None:
    e = refused_at(sample(command, **{field: value}), f"$.{field}", "outside the business dates")
    assert "1990-01-01 to 2099-12-31" in e.message


def test_the_range_s_ends_are_accepted() -> None:
    for d in ("1990-01-01", "2099-12-31"):
        assert c.decode_command(json.dumps(sample("recommend", occurred_on=d))).occurred_on.isoformat() == d


@pytest.mark.parametrize("command, change, field", [
    ("grant_reward", {"amount_fen": 2**70}, "$.amount_fen"),
    ("grant_reward", {"amount_fen": MAX_FEN + 1}, "$.amount_fen"),
    ("grant_reward", {"loan_fen": 2**70}, "$.loan_fen"),
    ("claw_back", {"amount_fen": 2**70}, "$.amount_fen"),
    ("apply", {"declared_revenue_fen": 2**70}, "$.declared_revenue_fen"),
    ("assess", {"indicators": {"revenue_fen": 2**70}}, "$.indicators[...]"),
    ("file_yearly_data", {"indicators": {"revenue_fen": -(2**70)}}, "$.indicators[...]"),
    ("assess", {"indicators": {f"i{n}": 1 for n in range(101)}}, "$.indicators"),
])
def test_money_and_indicators_have_an_upper_bound(command: str, change: dict[str, Any], field: str) -> None:
    refused_at(sample(command, **change), field, "")


def test_the_largest_sum_is_accepted() -> None:
    assert c.decode_command(json.dumps(sample("grant_reward", amount_fen=MAX_FEN))).amount_fen == MAX_FEN


@pytest.mark.parametrize("data", [
    b'{"command": "register", "name": "\xff\xfe"}',
    b'{"command": "register", "document": "\xc3\x28"}',
    b'{"command": "recommend", "command_id": "\xed\xa0\x80"}',  # an encoded surrogate is not UTF-8 either
])
def test_bytes_that_are_not_utf8_are_malformed_input(data: bytes) -> None:
    with pytest.raises(c.InputError) as info:
        c.decode_command(data)
    assert info.value.field == "$" and "UTF-8" in info.value.message


# ============================================================================ finding 3: control characters
TEXT = {name: [k for k, v in fields.items() if isinstance(v, str)] for name, fields in SAMPLES.items()}


@pytest.mark.parametrize("command", sorted(SAMPLES))
@pytest.mark.parametrize("bad", ["\u0000", "\n", "\x1b[2J", "\x7f", "\x85", "\u202e", "\u2028"])
def test_every_text_field_of_every_command_refuses_control_characters(command: str, bad: str) -> None:
    for name in [*TEXT[command], "command_id", "document", "actor.person", "actor.role"]:
        body = sample(command)
        if name.startswith("actor."):
            body["actor"] = {**body["actor"], name[6:]: f"ab{bad}c"}
        else:
            body[name] = f"ab{bad}c"
        refused_at(body, f"$.{name}", "")


def test_the_refusal_of_a_nul_names_the_field_and_the_rule() -> None:
    e = refused_at(sample("register", name="连山\u0000泵业"), "$.name", "U+0000")
    assert "text may hold no control characters" in e.message


def test_flags_with_undecodable_bytes_are_refused_like_json() -> None:
    # argv decodes bytes that are not UTF-8 as lone surrogates (surrogateescape): they could
    # never be written as UTF-8, so the CLI's own path refuses them too.
    with pytest.raises(c.InputError) as info:
        c.convert_command({**sample("register"), "name": "连山\udcff"})
    assert info.value.field == "$.name" and "surrogate" in info.value.message


def test_a_nul_never_reaches_the_store_and_pool_report_rebuild_keep_working(store: str, tmp_path: Path) -> None:
    """On PostgreSQL a NUL in a name made pool, report and rebuild fail for good."""
    good = sample("register", n=1, name="连山测试泵业")
    assert cli("submit", "-", db=store, stdin=json.dumps(good).encode() + b"\n").returncode == 0
    before = row_counts(store)
    poisoned = b"\n".join([
        json.dumps(sample("register", n=2, uscc="91211402MF00000036", name="a\u0000b")).encode(),
        json.dumps(sample("report_change", n=3, new_name="新\u0000名")).encode(),
    ]) + b"\n"
    done = cli("submit", "-", db=store, stdin=poisoned)
    assert done.returncode == 2, done
    err = done.stderr.decode()
    assert "$.name" in err and "$.new_name" in err and "control character" in err and "Traceback" not in err
    assert row_counts(store) == before
    for args in (["pool", "--tier", "specialized", "--json"], ["report", "--format", "json"], ["rebuild"]):
        done = cli(*args, db=store)
        assert done.returncode == 0, (args, done.stderr.decode())


def test_submit_of_a_line_that_is_not_utf8_exits_2_naming_the_line(tmp_path: Path) -> None:
    db = str(tmp_path / "ledger.db")
    assert cli("submit", "-", db=db, stdin=json.dumps(sample("register", n=1)).encode() + b"\n").returncode == 0
    before = row_counts(db)
    done = cli("submit", "-", db=db, stdin=json.dumps(sample("register", n=2)).encode() + b"\n\xff\xfe{}\n")
    assert done.returncode == 2, done
    err = done.stderr.decode()
    assert "UTF-8" in err and "Traceback" not in err
    assert row_counts(db) == before


# ============================================================================ finding 2: one bad command
def test_date_arithmetic_past_the_calendar_is_a_named_error_not_a_bare_valueerror() -> None:
    from datetime import date

    with pytest.raises(DateOutOfRange):
        add_months(date(9999, 12, 1), 3)
    with pytest.raises(DateOutOfRange):
        add_years(date(9999, 6, 1), 1)
    assert add_months(date(2099, 12, 31), 24) == date(2101, 12, 31)


class FaultyLedger(Ledger):
    """The real ledger with one injected fault: a command whose id starts with ``poison``
    raises a plain ValueError after its decision has changed the enterprise (the worst
    moment: the staged aggregate holds half a decision)."""

    def _decide(self, cmd: c.Command) -> list[Any]:
        aggregates = super()._decide(cmd)
        if cmd.command_id.startswith("poison"):
            raise ValueError("year 10000 is out of range (injected)")
        return aggregates


def test_a_command_that_fails_unexpectedly_is_refused_alone_and_leaves_no_trace(sqlite_store: str) -> None:
    ledger = FaultyLedger(db=sqlite_store)
    try:
        cmds = [cmd for n in range(10) for cmd in journey(n)]
        # The poison acts on enterprise 3 between its pooling and its removal from the pool.
        poison = {**cmds[10], "command": "admit_to_pool", "command_id": "poison-1", "tier": "specialized",
                  "occurred_on": "2023-02-15"}
        cmds.insert(11, poison)
        results: list[tuple[str, Outcome | LedgerError]] = []
        counts = ledger.handle_many([c.convert_command(x) for x in cmds],
                                    on_result=lambda cmd, r: results.append((cmd.command_id, r)))
        assert counts == {"accepted": 30, "repeated": 0, "refused": 1}
        assert [cid for cid, _ in results] == [x["command_id"] for x in cmds]  # every command answered, in order
        failed = dict(results)["poison-1"]
        assert isinstance(failed, DecisionFailed) and failed.code == "internal.error" and failed.exit_code == 3
        assert "ValueError" in failed.message and "nothing was written" in failed.message
        # Nothing of the poison is stored; the commands after it on the same enterprise are.
        fresh = Ledger(db=sqlite_store)
        try:
            ent = fresh.enterprise(cmds[10]["uscc"])
            types = [type(e).__name__ for e in fresh.events.get(ent.id)]
            assert types.count("AdmittedToPool") == 1 and types.count("RemovedFromPool") == 1, types
        finally:
            fresh.close()
        rows = row_counts(sqlite_store)
        # 30 accepted commands: each its event and its journal row; the poison nothing.
        assert rows["stored_events"] == 30 and rows["stored_events_journal"] == 30, rows
    finally:
        ledger.close()


def test_each_command_alone_fails_alone_too(sqlite_store: str) -> None:
    ledger = FaultyLedger(db=sqlite_store)
    try:
        results: list[Any] = []
        ledger.handle_many([c.convert_command({**journey(1)[0], "command_id": "poison-2"}),
                            c.convert_command(journey(2)[0])], on_result=lambda _c, r: results.append(r),
                           batch_size=1)
        assert isinstance(results[0], DecisionFailed) and isinstance(results[1], Outcome)
        assert ledger.max_position() == 1  # the registration's event (its journal entry is a row)
    finally:
        ledger.close()


# ============================================================================ over NATS, a real serve
@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("hostile")
    s = Serve(folder, str(folder / "ledger.db"))
    yield s
    assert s.stop() == 0, s.output()


async def _group(url: str, bodies: list[bytes], subjects: list[str]) -> list[dict[str, Any]]:
    nc = await nats.connect(**connect_options(url))
    try:
        return await asyncio.gather(*(send_raw(nc, s, b) for s, b in zip(subjects, bodies)))
    finally:
        await nc.close()


def test_one_bad_command_in_a_group_costs_no_other_command_its_answer(served: Any) -> None:
    """Before: report_change in 9999-12 raised ValueError in add_months and the group commit
    answered all 41 requests with 500."""
    # 40 valid commands, each independent of the others: requests sent at once may reach the
    # service in any order, so none may need another (an apply before its register would be
    # refused, rightly, with enterprise.not_found).
    good = [journey(n)[0] for n in range(100, 140)]
    bad = [sample("report_change", n="9999", uscc=good[0]["uscc"], actor=actor("211402"),
                  occurred_on="2023-06-01", changed_on="9999-12-01"),
           sample("open_notice", n="9999b", occurred_on="9999-12-31"),
           sample("approve", n="9998", occurred_on="9998-06-30")]
    bodies = good[:20] + bad + good[20:]
    replies = asyncio.run(_group(served.url, [json.dumps(b).encode() for b in bodies],
                                 [subject_of(b) for b in bodies]))
    by_id = {b["command_id"]: r for b, r in zip(bodies, replies)}
    assert all(by_id[b["command_id"]]["body"]["ok"] for b in good), [r for r in replies if not r["body"]["ok"]]
    for b, field in zip(bad, ("$.changed_on", "$.occurred_on", "$.occurred_on")):
        r = by_id[b["command_id"]]
        assert r["headers"]["Nats-Service-Error-Code"] == "400", r
        assert r["body"]["error"]["field"] == field and r["body"]["error"]["code"] == "input.invalid", r


@pytest.mark.parametrize("data, field", [
    (b'{"command_id": "h-utf8", "name": "\xff"}', "$"),
    (json.dumps(sample("register", n="nul", name="a\u0000b")).encode(), "$.name"),
    (json.dumps(sample("register", n="nl", actor=actor("211402\n"))).encode(), "$.actor.authority"),
    (json.dumps(sample("register", n="nl2", command_id="x\n")).encode(), "$.command_id"),
    (json.dumps(sample("grant_reward", n="big", amount_fen=2**70)).encode(), "$.amount_fen"),
    (json.dumps(sample("register", n="old", occurred_on="0001-01-01")).encode(), "$.occurred_on"),
])
def test_the_service_refuses_hostile_bodies_with_a_400_naming_the_field(served: Any, data: bytes,
                                                                       field: str) -> None:
    before = row_counts(served.db)
    command = "grant_reward" if b"grant_reward" in data else "register"
    reply = asyncio.run(_group(served.url, [data], [f"cultivation.cmd.211402.{command}"]))[0]
    assert reply["headers"].get("Nats-Service-Error-Code") == "400", reply
    assert reply["body"]["ok"] is False and reply["body"]["error"]["field"] == field, reply
    assert row_counts(served.db) == before
    assert "Traceback" not in served.output()


def test_a_fault_in_one_command_of_a_group_answers_that_command_alone(sqlite_store: str, nats_url: str) -> None:
    """The command service's group commit, on a real NATS, with the injected fault: 40
    answers ok, the poisoned one a 500 with a structured body."""
    from entrypoints.nats_service import CommandService

    async def run() -> list[dict[str, Any]]:
        ledger = FaultyLedger(db=sqlite_store)
        nc = await nats.connect(**connect_options(nats_url))
        service = CommandService(ledger, nc)
        await service.start()
        try:
            good = [journey(n)[0] for n in range(200, 240)]  # independent: sent at once, any order
            poison = {**journey(299)[0], "command_id": "poison-3"}
            bodies = good[:10] + [poison] + good[10:]
            client = await nats.connect(**connect_options(nats_url))
            try:
                replies = await asyncio.gather(*(send_raw(client, subject_of(b), json.dumps(b).encode())
                                                 for b in bodies))
                ping = await client.request("$SRV.PING.cultivation", b"", timeout=10)
                assert json.loads(ping.data)["name"] == "cultivation"
            finally:
                await client.close()
            return [{"id": b["command_id"], **r} for b, r in zip(bodies, replies)]
        finally:
            await service.stop()
            await nc.close()
            ledger.close()

    replies = asyncio.run(run())
    ok = [r for r in replies if r["body"]["ok"]]
    assert len(ok) == 40
    (failed,) = [r for r in replies if not r["body"]["ok"]]
    assert failed["id"] == "poison-3" and failed["headers"]["Nats-Service-Error-Code"] == "500"
    assert failed["body"]["error"]["code"] == "internal.error"
    assert row_counts(sqlite_store)["stored_events"] == row_counts(sqlite_store)["stored_events_journal"] == 40


def test_a_struct_check_names_nested_fields() -> None:
    # The actor's checks come from Command.__post_init__ and still name the nested path.
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(json.dumps(sample("recommend", actor=actor(person="a\tb"))).encode(),
                            type=c.Recommend)
    refused_at(sample("recommend", actor=actor(person="a\tb")), "$.actor.person", "U+0009")
