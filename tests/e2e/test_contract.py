"""The contract against a running ``serve`` (issue 16, item 1): every kind of message the
ledger sends (command replies, refusals, the pool answer, a stream message, a KV value, pool,
audit and stats messages) captured off a real NATS and validated with jsonschema against
docs/api/schema.json, the committed document (a struct changed without it fails here too)."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import nats
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from entrypoints import api
from infra.nats import Names, connect_options
from tests.support.streams import journey, start_serve

N = Names()
DOC = json.loads((api.DOCS / "schema.json").read_text(encoding="utf-8"))


def check(name: str, message: Any) -> None:
    errors = [e.message for e in Draft202012Validator(api.message_schema(name, DOC)).iter_errors(message)]
    assert not errors, (name, message, errors)


def test_messages_of_a_running_serve_match_the_documents(tmp_path: Path, nats_url: str) -> None:
    proc = start_serve(str(tmp_path / "ledger.db"), tmp_path / "home", nats_url)
    try:
        asyncio.run(_capture_and_check(nats_url))
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0


async def _capture_and_check(url: str) -> None:
    nc = await nats.connect(**connect_options(url))
    seen: dict[str, list[Any]] = {"pool": [], "audit": [], "stats": []}
    for kind, subject in (("pool", f"{N.pool_prefix}.>"), ("audit", f"{N.audit_prefix}.>"),
                          ("stats", N.stats_subject)):
        async def note(msg: Any, k: str = kind) -> None:
            seen[k].append(json.loads(msg.data))

        await nc.subscribe(subject, cb=note)
    try:
        steps = journey(1)
        for j, step in enumerate(steps):
            cmd = {**step, "command_id": f"c-{j}"}
            check(type_name(cmd["command"]), cmd)  # what we send is what the document describes
            msg = await nc.request(N.command_subject(cmd["actor"]["authority"], cmd["command"]),
                                   json.dumps(cmd).encode(), timeout=30)
            reply = json.loads(msg.data)
            assert reply["ok"], reply
            check("CommandReply", reply)
        refused = []
        for cmd in ({**steps[2], "command_id": "again", "application_id": "none"},  # a rule: unknown application
                    {**steps[0], "command_id": "bad", "occurred_on": "2019-13-01"}):  # malformed
            msg = await nc.request(N.command_subject(cmd["actor"]["authority"], cmd["command"]),
                                   json.dumps(cmd).encode(), timeout=30)
            refused.append(json.loads(msg.data))
        for r in refused:
            assert r["ok"] is False, r
            check("RefusalReply", r)
        assert refused[1]["error"]["code"] == "input.invalid"
        msg = await nc.request(N.pool_query_subject, json.dumps({"tier": "specialized", "as_of": "2020-01-01"})
                               .encode(), timeout=30)
        answer = json.loads(msg.data)
        assert answer["ok"] and answer["count"] == 1, answer
        check("PoolAnswer", answer)
        msg = await nc.request(N.pool_query_subject, b'{"tier": "nonsense", "as_of": "2020-01-01"}', timeout=30)
        check("RefusalReply", json.loads(msg.data))
        # every other query, asked as its request type describes, answered as its reply type does
        uscc = steps[0]["uscc"]
        head = json.loads((await nc.request(N.query_subject("audit.head"), b"{}", timeout=30)).data)
        for query, body, reply_type in (
                ("history", {"uscc": uscc, "as_of": "2020-01-01"}, "HistoryAnswer"),
                ("audit.head", {}, "HeadAnswer"),
                ("audit.prove", {"subject": uscc}, "ProofAnswer"),
                ("audit.consistency", {"old_size": head["size"], "old_root": head["root"]}, "ConsistencyAnswer"),
                ("audit.prove", {"subject": "nonsense"}, "RefusalReply")):
            request_type = {"history": "HistoryQuery", "audit.head": "HeadQuery", "audit.prove": "ProveQuery",
                            "audit.consistency": "ConsistencyQuery"}[query]
            check(request_type, body)
            answer = json.loads((await nc.request(N.query_subject(query), json.dumps(body).encode(), timeout=30)).data)
            assert answer["ok"] is (reply_type != "RefusalReply"), answer
            check(reply_type, answer)

        js = nc.jetstream()
        first = await js.get_msg(N.stream, 1)
        check("WireEvent", json.loads(first.data))
        for _ in range(300):
            if seen["pool"] and seen["audit"] and seen["stats"]:
                break
            await asyncio.sleep(0.1)
        kv = await js.key_value(N.pool_bucket)
        keys = await kv.keys()
        assert keys
        check("Designation", json.loads((await kv.get(keys[0])).value))
        for kind, name in (("pool", "PoolChange"), ("audit", "AuditEntry"), ("stats", "StatsDeltas")):
            assert seen[kind], f"no {kind} message arrived"
            for m in seen[kind]:
                check(name, m)
    finally:
        await nc.close()


def type_name(tag: str) -> str:
    return api.c.COMMAND_TYPES[tag].__name__
