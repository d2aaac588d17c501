"""An auditor's replay of ``CULTIVATION_EVENTS``: rebuild every projection from the stream
and compare it with a rebuild from the store.

The replay may start at any stream sequence or time.  The projections' state before that
point comes from the store (folded up to the position just before the first replayed
message), the rest from the stream; the result must equal a rebuild from the store up to
the same position, row for row, audit entry for audit entry.  Both read models are
scratch SQLite databases in memory: the replay writes nothing anywhere.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.persistence import StoredEvent

from infra.nats import Names, connect_options, ledger_names, local_nats_url
from infra.readmodel import ReadModel
from infra.relay import wire_decoder


def compare(a: ReadModel, b: ReadModel) -> list[str]:
    """Differences between two read models, by row kind (empty when equal)."""
    out = []
    for kind in a.tables:
        ra, rb = a.rows(kind), b.rows(kind)
        if ra != rb:
            out.append(f"{kind}: {len(ra)} rows replayed vs {len(rb)} from the store"
                       + ("" if len(ra) != len(rb) else " (same count, different content)"))
    from infra.readmodel import VERSIONED

    for kind in VERSIONED:  # and every version over business time
        va, vb = a.versions(kind, upto="9999-12-31"), b.versions(kind, upto="9999-12-31")
        if va != vb:
            out.append(f"{kind} versions: {len(va)} replayed vs {len(vb)} from the store")
    if a.statistics() != b.statistics():
        out.append("statistics differ")
    return out


async def replay_and_compare(ledger: Any, from_seq: int = 1, since: str | None = None,
                             url: str | None = None, batch: int = 1000, names: Names | None = None) -> dict[str, Any]:
    import nats
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy


    n = names or ledger_names()
    url = url or local_nats_url()
    if not url:
        raise RuntimeError("no NATS to replay from: set NATS_URL or start `cultivation serve`")
    nc = await nats.connect(**connect_options(url))
    js = nc.jetstream()
    if since:
        config = ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.BY_START_TIME,
                                # RFC 3339 text, as the server reads it: nats-py sends the field as given
                                # (its annotation says datetime)
                                opt_start_time=datetime.fromisoformat(since).isoformat())  # type: ignore[arg-type]
    else:
        config = ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                                opt_start_seq=max(from_seq, 1))
    sub = await js.pull_subscribe(f"{n.events_prefix}.>", stream=n.stream, config=config)
    replayed = ReadModel(ledger, prefix="replay", follows_store=False, target=":memory:")
    messages = 0
    first_position: int | None = None
    last_position = 0
    try:
        while True:
            try:
                msgs = await sub.fetch(batch, timeout=2)
            except Exception:  # nats.errors.TimeoutError: the stream is exhausted
                break
            if not msgs:
                break
            events = []
            for m in msgs:
                w = wire_decoder.decode(m.data)
                if first_position is None:
                    first_position = w.position
                    replayed.catch_up(upto=w.position - 1)  # the state before the replayed part
                stored = StoredEvent(originator_id=w.aggregate_id, originator_version=w.version, topic=w.topic,
                                     state=bytes(w.state))
                events.append((w.position, ledger.mapper.to_domain_event(stored)))
                last_position = w.position
            with replayed._tx() as cur:
                replayed.apply_batch(cur, events, last_position)
            messages += len(msgs)
            if (await sub.consumer_info()).num_pending == 0:
                break
    finally:
        await nc.close()
    from_store = ReadModel(ledger, prefix="store", follows_store=False, target=":memory:")
    from_store.catch_up(upto=last_position)
    differences = compare(replayed, from_store)
    replayed.close()
    from_store.close()
    return {"messages": messages, "first_position": first_position, "last_position": last_position,
            "equal": not differences, "differences": differences}
