"""Parts start and keep going without JetStream (issue 15, item 2).

``serve`` against a NATS whose JetStream does not answer (here a server started without it;
in production a cluster without a quorum) starts its command service and answers commands,
which are durable in the store before the reply; the relay and the projector wait with
bounded, logged retries, and once JetStream answers (the server restarted with it on the same
port) they start and catch up: every stored event on the stream once, in order, and the pool
in the bucket."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

import nats

from infra.nats import EmbeddedNats, Names, connect_options
from services.ledger import Ledger
from tests.support.streams import assert_stream_equals_log, journey, kv_designations, read_stream, start_serve

N = Names()


def test_commands_are_answered_while_jetstream_is_away_and_streamed_when_it_returns(tmp_path: Path) -> None:
    server = EmbeddedNats(store_dir=tmp_path / "nats", jetstream=False).start()
    db = str(tmp_path / "ledger.db")
    proc = None
    try:
        proc = start_serve(db, tmp_path / "home", server.url)
        assert "waiting for JetStream" in proc.ready_line, proc.ready_line  # type: ignore[attr-defined]

        async def send_journey() -> list[dict[str, object]]:
            nc = await nats.connect(**connect_options(server.url))
            replies = []
            for j, cmd in enumerate(journey(7)):
                msg = await nc.request(N.command_subject(cmd["actor"]["authority"], cmd["command"]),  # type: ignore[index]
                                       json.dumps({**cmd, "command_id": f"away-{j}"}).encode(), timeout=30)
                replies.append(json.loads(msg.data))
            await nc.close()
            return replies

        t0 = time.monotonic()
        replies = asyncio.run(send_journey())
        assert all(r["ok"] for r in replies), replies
        assert time.monotonic() - t0 < 20  # answered, not waiting for the stream
        ledger = Ledger(db=db)
        head = ledger.max_position()
        assert head >= 6  # durable before the reply
        # JetStream comes back: the same server, with it
        server.stop()
        server = EmbeddedNats(store_dir=tmp_path / "nats", port=server.port).start()
        deadline = time.monotonic() + 90
        while True:
            try:
                kv = asyncio.run(kv_designations(server.url))
                stream = asyncio.run(read_stream(server.url))
            except Exception:  # the stream or bucket not made yet
                kv, stream = {}, []
            if len(stream) >= head and kv:
                break
            assert time.monotonic() < deadline, "the relay and projector did not catch up"
            time.sleep(0.5)
        assert_stream_equals_log(ledger, stream)
        assert {d.uscc for d in kv.values()} == {journey(7)[0]["uscc"]}
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=90) == 0
            log = proc.stderr.read()  # type: ignore[union-attr]
            assert "JetStream not reachable (attempt 1" in log, log[-2000:]
            assert "Traceback" not in log
        server.close()
