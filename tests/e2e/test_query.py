"""``cultivation.query.pool`` over NATS: a consumer that asks "as of D" gets the state on D.

Against a real ``serve --principals`` (readers, auditors and authorities in accounts of their
own, the ledger exporting the query to them) and a plain ``serve``; no mocks.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import nats
import pytest

from domain.enterprise import event_id
from infra.nats import Names
from infra.permissions import accounts_for, decode_principals, permissions_for
from infra.policy_files import load_policy_book
from tests.support import ROOT
from tests.support.principals import Client, Served, designate_specialized, new_uscc, ok
from tests.support.serving import Serve
from tests.support.streams import journey

N = Names()  # the default ledger's NATS names

BOOK = load_policy_book()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    s = Served(tmp_path_factory.mktemp("query"))
    yield s
    assert s.stop() == 0, s.output()


async def ask(client: Client, **query: Any) -> dict[str, Any]:
    return await client.send(N.pool_query_subject, query)


def mine(reply: dict[str, Any], uscc: str) -> list[dict[str, Any]]:
    assert reply["ok"], reply
    assert reply["count"] == len(reply["items"])
    return [i for i in reply["items"] if i["uscc"] == uscc]


async def review_extending(served: Served, uscc: str) -> None:
    """The yearly data of 2019-2021, then a passed review on 2022-04-01: the designation
    approved 2019-05-20 (valid until 2022-05-20) is renewed until 2025-05-20."""
    async with Client(served, "huludao") as city, Client(served, "liaoning") as province:
        for year in (2019, 2020, 2021):
            await ok(city, "file_yearly_data", "211400", uscc=uscc, programme="national", data_year=year,
                     occurred_on=f"{year + 1}-03-01", indicators={"revenue_fen": 1})
        await ok(province, "review", "210000", uscc=uscc, application_id="sp", passed=True,
                 occurred_on="2022-04-01", document="辽工信复核〔2022〕1号")


def test_a_reader_asks_the_pool_as_of_a_date_and_gets_the_state_on_that_date(served: Served) -> None:
    uscc = new_uscc()

    async def go() -> None:
        await designate_specialized(served, uscc)
        await review_extending(served, uscc)
        async with Client(served, "bank-feed") as reader:
            before = await ask(reader, tier="specialized", as_of="2022-03-01", region="211402")
            [old] = mine(before, uscc)
            assert (old["valid_from"], old["valid_until"], old["last_day"]) == \
                ("2019-05-20", "2022-05-20", "2022-05-19")
            assert before["as_of"] == "2022-03-01" and before["position"] > 0
            after = await ask(reader, tier="specialized", as_of="2022-04-02", region="211402")
            [new] = mine(after, uscc)
            assert (new["valid_until"], new["last_day"]) == ("2025-05-20", "2025-05-19")
            assert after["position"] >= before["position"]
            # before the designation and after its renewed validity: not in the pool
            assert mine(await ask(reader, tier="specialized", as_of="2019-05-19"), uscc) == []
            assert mine(await ask(reader, tier="specialized", as_of="2025-05-20"), uscc) == []
            assert mine(await ask(reader, tier="specialized", as_of="2022-03-01", region="330000"), uscc) == []
        # the same answer for an auditor and an authority, each from its own account
        for who in ("audit-office", "huludao"):
            async with Client(served, who) as other:
                [seen] = mine(await ask(other, tier="specialized", as_of="2022-03-01", region="211400",
                                        level="provincial"), uscc)
                assert seen["valid_until"] == "2022-05-20", who
                assert not other.errors, other.errors

    asyncio.run(go())


def test_the_answer_is_what_the_cli_prints(served: Served) -> None:
    async def go() -> dict[str, Any]:
        async with Client(served, "bank-feed") as reader:
            return await ask(reader, tier="specialized", as_of="2022-03-01", region="211402")

    reply = asyncio.run(go())
    env = {k: v for k, v in os.environ.items() if not k.startswith("NATS_")}
    env.update({"CULTIVATION_HOME": str(served.home), "CULTIVATION_DB": served.db})
    out = subprocess.run([sys.executable, "-m", "entrypoints.cli", "--json", "pool", "--tier", "specialized",
                          "--as-of", "2022-03-01", "--region", "211402"], env=env, cwd=ROOT, text=True,
                         capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr
    printed = json.loads(out.stdout)
    assert printed["items"] == reply["items"] and printed["count"] == reply["count"]
    assert reply["items"] and all(i["region_name"] == "连山区" for i in reply["items"])  # GB/T 2260 name of 211402


@pytest.mark.parametrize("query, field, says", [
    ({"tier": "specialized", "as_of": "2022-02-30"}, "$.as_of", "Invalid RFC3339 encoded date"),
    ({"tier": "specialized", "as_of": "1899-12-31"}, "$.as_of", "outside the dates"),
    ({"tier": "unicorn", "as_of": "2022-03-01"}, "$.tier", "unknown tier 'unicorn'"),
    ({"tier": "specialized", "as_of": "2022-03-01", "colour": "red"}, "$", "unknown field `colour`"),
    ({"tier": "specialized", "as_of": "2022-03-01", "region": "21140"}, "$.region", ""),
    ({"tier": "specialized", "as_of": "2022-03-01", "stage": "all"}, "$.stage", ""),
    ({"as_of": "2022-03-01"}, "$", "missing required field `tier`"),
    ({"tier": "specialized", "as_of": "2022-03-01", "count": "all"}, "$.count", ""),
    ({"tier": "specialized", "as_of": "2022-03-01", "count": "new", "year": 2023}, "$.year", "after as_of"),
])
def test_a_malformed_query_is_a_400_naming_the_field_and_the_service_goes_on(
        served: Served, query: dict[str, Any], field: str, says: str) -> None:
    async def go() -> None:
        async with Client(served, "bank-feed") as reader:
            reply = await ask(reader, **query)
            assert reply["ok"] is False, reply
            assert reply["headers"].get("Nats-Service-Error-Code") == "400", reply
            error = reply["error"]
            assert set(error) == {"code", "rule", "field", "message", "retry"} and error["retry"] == "never"
            assert error["code"] == "input.invalid" and error["field"] == field and says in error["message"], error
        async with Client(served, "lianshan") as county:
            pong = json.loads((await county.nc.request("$SRV.PING.cultivation", b"", timeout=10)).data)
            assert pong["name"] == "cultivation"
            await ok(county, "register", "211402", uscc=new_uscc(), name="连山查询测试", occurred_on="2020-01-02")
        async with Client(served, "bank-feed") as reader:
            assert (await ask(reader, tier="specialized", as_of="2022-03-01"))["ok"]

    asyncio.run(go())


def test_the_query_is_exported_to_every_principal_but_the_ledger() -> None:
    ps = decode_principals("\n".join([
        '[[principals]]', 'name = "ledger"', 'kind = "service"', 'password_env = "L"',
        '[[principals]]', 'name = "hz"', 'kind = "authority"', 'authority = "330100"', 'password_env = "H"',
        '[[principals]]', 'name = "audit"', 'kind = "auditor"', 'password_env = "A"',
        '[[principals]]', 'name = "bank"', 'kind = "reader"', 'password_env = "B"']))
    ledger, *others = accounts_for(ps, BOOK)
    [export] = [e for e in ledger.exports if e.subject == N.pool_query_subject]
    assert export.kind == "service" and export.accounts == ("P-hz", "P-audit", "P-bank")
    for account in others:
        assert [i.account for i in account.imports if i.subject == N.pool_query_subject] == ["LEDGER"], account.name
    service, *principals = (permissions_for(p, BOOK) for p in ps.principals)
    assert N.pool_query_subject in service.subscribe_allow and N.pool_query_subject not in service.publish_allow
    assert all(N.pool_query_subject in p.publish_allow for p in principals)
    # what shows the events themselves goes to auditors only; hashes to everyone
    for query, accounts in (("history", ("P-audit",)), ("audit.prove", ("P-audit",)),
                            ("audit.head", ("P-hz", "P-audit", "P-bank")),
                            ("audit.consistency", ("P-hz", "P-audit", "P-bank"))):
        [export] = [e for e in ledger.exports if e.subject == N.query_subject(query)]
        assert export.accounts == accounts, query
        assert N.query_subject(query) in service.subscribe_allow


# ============================================================================ without principals
@pytest.fixture
def plain(tmp_path: Path) -> Iterator[Serve]:
    s = Serve(tmp_path)
    yield s
    assert s.stop() == 0, s.out.read_text()


def test_without_principals_the_query_answers_too(plain: Serve) -> None:
    async def go() -> None:
        nc = await nats.connect(servers=[plain.url])
        try:
            for j, obj in enumerate(journey(7)):
                subject = f"cultivation.cmd.{obj['actor']['authority']}.{obj['command']}"
                reply = json.loads((await nc.request(subject, json.dumps({**obj, "command_id": f"q-{j}"}).encode(),
                                                     timeout=30)).data)
                assert reply["ok"], reply
            uscc = journey(7)[0]["uscc"]

            async def query(**q: Any) -> dict[str, Any]:
                return json.loads((await nc.request(N.pool_query_subject, json.dumps(q).encode(), timeout=30)).data)

            assert [i["uscc"] for i in (await query(tier="specialized", as_of="2020-01-01"))["items"]] == [uscc]
            assert (await query(tier="specialized", as_of="2019-05-19"))["count"] == 0
            pooled = await query(tier="specialized", as_of="2020-01-01", stage="pooled")
            assert pooled["ok"] and pooled["count"] == len(pooled["items"])
            # long expired, still ever designated; newly so in the year of its approval (README, "Three counts")
            assert (await query(tier="specialized", as_of="2025-01-01"))["count"] == 0
            ever = await query(tier="specialized", as_of="2025-01-01", count="ever")
            assert [i["uscc"] for i in ever["items"]] == [uscc] and ever["items"][0]["approved_on"] == "2019-05-20"
            assert (await query(tier="specialized", as_of="2025-01-01", count="new", year=2019))["count"] == 1
            bad = await query(tier="specialized", as_of="yesterday")
            assert bad["ok"] is False and bad["error"]["field"] == "$.as_of"
        finally:
            await nc.close()

    asyncio.run(go())


# ============================================================================ a failing read
def test_a_query_the_store_cannot_answer_is_one_500_with_a_body_and_commands_go_on(sqlite_store: str,
                                                                                  nats_url: str) -> None:
    """The real service on a real NATS and SQLite store; the read model's version table taken
    away under it (as a broken disk or an operator's mistake would): the query gets a 500 with
    a structured body, a command sent beside it is accepted, and once the table is back the
    next query answers from a read model opened afresh."""
    import sqlite3

    from entrypoints.nats_service import CommandService
    from infra.nats import connect_options
    from services.ledger import Ledger
    from tests.support.hostile import send_raw, subject_of

    def rename(old: str, new: str) -> None:
        db = sqlite3.connect(sqlite_store)
        db.execute(f"ALTER TABLE {old} RENAME TO {new}")
        db.commit()
        db.close()

    async def run() -> None:
        ledger = Ledger(db=sqlite_store)
        nc = await nats.connect(**connect_options(nats_url))
        service = CommandService(ledger, nc)
        await service.start()
        client = await nats.connect(**connect_options(nats_url))
        query = json.dumps({"tier": "specialized", "as_of": "2020-01-01"}).encode()
        try:
            for j, body in enumerate(journey(11)):
                assert (await send_raw(client, subject_of(body), json.dumps({**body, "command_id": f"f-{j}"}
                                                                            ).encode()))["body"]["ok"]
            assert (await send_raw(client, N.pool_query_subject, query))["body"]["count"] == 1
            await asyncio.to_thread(rename, "rm_designations_v", "rm_designations_v_away")
            command = {**journey(12)[0], "command_id": "beside-the-failing-query"}
            failed, accepted = await asyncio.gather(
                send_raw(client, N.pool_query_subject, query),
                send_raw(client, subject_of(command), json.dumps(command).encode()))
            assert failed["headers"].get("Nats-Service-Error-Code") == "500", failed
            assert failed["body"]["ok"] is False and failed["body"]["error"]["code"] == "internal.error"
            assert set(failed["body"]["error"]) == {"code", "rule", "field", "message", "retry"}
            assert accepted["body"]["ok"], accepted
            assert json.loads((await client.request("$SRV.PING.cultivation", b"", timeout=10)).data)["name"]
            await asyncio.to_thread(rename, "rm_designations_v_away", "rm_designations_v")
            again = (await send_raw(client, N.pool_query_subject, query))["body"]
            assert again["ok"] and again["count"] == 1, again
        finally:
            await client.close()
            await service.stop()
            await nc.close()
            ledger.close()

    asyncio.run(run())


# ============================================================================ paging, as recorded
def cli(served: Served, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NATS_")}
    env.update({"CULTIVATION_HOME": str(served.home), "CULTIVATION_DB": served.db})
    return subprocess.run([sys.executable, "-m", "entrypoints.cli", *args], env=env, cwd=ROOT, text=True,
                          capture_output=True, timeout=120)


def test_a_bank_feed_pages_through_a_pool_and_sees_each_designation_once(served: Served) -> None:
    usccs = [new_uscc() for _ in range(5)]

    async def go() -> None:
        for uscc in usccs:
            await designate_specialized(served, uscc)
        async with Client(served, "bank-feed") as reader:
            whole = await ask(reader, tier="specialized", as_of="2021-01-01", region="211402")
            assert whole["next"] is None and whole["count"] == whole["total"] >= 5
            seen: list[str] = []
            after = None
            while True:
                query: dict[str, Any] = {"tier": "specialized", "as_of": "2021-01-01", "region": "211402",
                                         "limit": 2, **({"after": after} if after else {})}
                page = await ask(reader, **query)
                assert page["ok"] and page["total"] == whole["total"] and page["count"] <= 2, page
                seen += [i["key"] for i in page["items"]]
                after = page["next"]
                if after is None:
                    break
                assert after == page["items"][-1]["key"]
            assert seen == sorted(seen) and len(seen) == len(set(seen))
            assert seen == sorted(i["key"] for i in whole["items"])
            assert set(usccs) <= {i["uscc"] for i in whole["items"]}
            refused = await ask(reader, tier="specialized", as_of="2021-01-01", limit=1001)
            assert refused["error"]["field"] == "$.limit", refused

    asyncio.run(go())


def test_a_pool_as_recorded_by_a_time_shows_nothing_recorded_after_it(served: Served) -> None:
    from datetime import UTC, datetime

    uscc = new_uscc()

    async def go() -> None:
        async with Client(served, "bank-feed") as reader:
            await asyncio.sleep(0.01)
            before = datetime.now(UTC).isoformat()
            await asyncio.sleep(0.01)
            await designate_specialized(served, uscc)
            then = await ask(reader, tier="specialized", as_of="2021-01-01", region="211402", as_recorded=before)
            now = await ask(reader, tier="specialized", as_of="2021-01-01", region="211402")
            assert mine(then, uscc) == [] and len(mine(now, uscc)) == 1
            assert then["as_recorded"]["position"] < now["position"], (then["as_recorded"], now["position"])
            assert then["as_recorded"]["time"].endswith("Z")
            bad = await ask(reader, tier="specialized", as_of="2021-01-01", as_recorded="last tuesday")
            assert bad["error"]["field"] == "$.as_recorded" and "ISO 8601" in bad["error"]["message"], bad

    asyncio.run(go())


# ============================================================================ history, head, proofs
def test_an_auditor_asks_a_history_and_a_reader_may_not(served: Served) -> None:
    uscc = new_uscc()

    async def go() -> tuple[dict[str, Any], dict[str, Any]]:
        await designate_specialized(served, uscc)
        async with Client(served, "audit-office") as auditor:
            whole = await auditor.send(N.query_subject("history"), {"uscc": uscc})
            early = await auditor.send(N.query_subject("history"), {"uscc": uscc, "as_of": "2019-03-31"})
            unknown = await auditor.send(N.query_subject("history"), {"uscc": new_uscc()})
            malformed = await auditor.send(N.query_subject("history"), {"uscc": "91211402"})
            assert unknown["error"]["code"] == "enterprise.not_found" and unknown["error"]["field"] == "$.uscc"
            assert unknown["headers"]["Nats-Service-Error-Code"] == "404", unknown
            assert malformed["error"]["field"] == "$.uscc" and "USCC" in malformed["error"]["message"], malformed
            assert not auditor.errors, auditor.errors
        async with Client(served, "bank-feed") as reader:
            await reader.refused_publish(N.query_subject("history"), {"uscc": uscc})
        async with Client(served, "huludao") as city:
            await city.refused_publish(N.query_subject("audit.prove"), {"subject": uscc})
        return whole, early

    whole, early = asyncio.run(go())
    assert whole["ok"] and whole["uscc"] == uscc and whole["count"] == len(whole["events"]) >= 6
    assert [e["type"] for e in early["events"]] == [e["type"] for e in whole["events"]][:2]  # register, apply
    printed = cli(served, "--json", "history", uscc)
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout)["events"] == whole["events"]


def test_head_and_proofs_over_nats_are_what_the_cli_gives_and_verify_offline(served: Served,
                                                                              tmp_path: Path) -> None:
    uscc = new_uscc()

    async def go() -> dict[str, Any]:
        async with Client(served, "bank-feed") as reader, Client(served, "audit-office") as auditor:
            old = await reader.send(N.query_subject("audit.head"), {})
            assert old["ok"] and old["size"] > 0, old
            await designate_specialized(served, uscc)
            new = await auditor.send(N.query_subject("audit.head"), {})
            assert new["size"] > old["size"]
            proof = await auditor.send(N.query_subject("audit.prove"), {"subject": uscc})
            assert proof["ok"] and proof["proof"]["head"]["size"] >= new["size"], proof
            (tmp_path / "inclusion.json").write_text(json.dumps(proof["proof"]), encoding="utf-8")
            event = proof["proof"]["proofs"][0]
            by_event = await auditor.send(N.query_subject("audit.prove"), {"subject": str(uuid_of(event))})
            assert [p["position"] for p in by_event["proof"]["proofs"]] == [event["position"]]
            extends = await reader.send(N.query_subject("audit.consistency"),
                                        {"old_size": old["size"], "old_root": old["root"]})
            assert extends["ok"] and extends["extends"] is True and extends["problems"] == [], extends
            (tmp_path / "consistency.json").write_text(json.dumps(extends["proof"]), encoding="utf-8")
            forged = await reader.send(N.query_subject("audit.consistency"),
                                       {"old_size": old["size"], "old_root": "0" * 64})
            assert forged["ok"] and forged["extends"] is False and forged["proof"] is None and forged["problems"]
            for body, field in (({"old_size": 10**9, "old_root": "0" * 64}, "$.old_size"),
                                ({"old_size": 1, "old_root": "xyz"}, "$.old_root"),
                                ({"subject": "nonsense"}, "$.subject"), ({"subject": new_uscc()}, "$.subject")):
                subj = N.query_subject("audit.prove" if "subject" in body else "audit.consistency")
                bad = await auditor.send(subj, body)
                assert bad["headers"]["Nats-Service-Error-Code"] == "400" and bad["error"]["field"] == field, bad
            bad = await reader.send(N.query_subject("audit.head"), {"size": 1})
            assert bad["error"]["field"] == "$" and "unknown field" in bad["error"]["message"], bad
            assert not reader.errors and not auditor.errors, (reader.errors, auditor.errors)
            return {"old": old, "proof": proof}

    seen = asyncio.run(go())

    async def head_now() -> dict[str, Any]:
        async with Client(served, "bank-feed") as reader:
            return await reader.send(N.query_subject("audit.head"), {})

    asked_now = asyncio.run(head_now())
    head = json.loads(cli(served, "--json", "audit", "head").stdout)
    assert {k: asked_now[k] for k in head} == head  # nothing was written in between
    asked = seen["proof"]["proof"]["head"]
    for name in ("inclusion.json", "consistency.json"):
        expected = f"{asked['size']}:{asked['root']}" if name == "inclusion.json" else \
            f"{seen['old']['size']}:{seen['old']['root']}"
        checked = cli(served, "--json", "audit", "verify-bundle", str(tmp_path / name), "--head", expected)
        assert checked.returncode == 0 and json.loads(checked.stdout)["ok"], (name, checked.stdout, checked.stderr)


def uuid_of(proof: dict[str, Any]) -> str:
    """The event id of a proof's event (as replies and the stream carry it)."""
    return str(event_id(UUID(proof["aggregate_id"]), proof["version"]))
