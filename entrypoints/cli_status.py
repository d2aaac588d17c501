"""``cultivation status``: the ledger's parts on NATS, as an operator asks after them.

For the ledger ``CULTIVATION_LEDGER`` names (default ``cultivation``) on ``NATS_URL`` (or the
server a local ``cultivation serve`` started):

- the server answering and the cluster it belongs to (its size from the server's INFO);
- each of the ledger's streams (the events, the pool bucket, the relay's lease bucket): the
  replicas configured, the leader, each follower with whether it is current and its lag, the
  messages held (:func:`infra.nats.replication`);
- the relay lease's holder (host, process), the command services answering ``$SRV.PING``;
- how far behind each part is: the store's head position, the position of the stream's last
  message (the relay), and the projector's pending messages on its durable consumer.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from entrypoints.console import EXIT_OK, EXIT_REFUSED, CliError, open_ledger, print_json, table


def add_status_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("status", parents=[common],
                       help="the ledger on NATS: replicas and leaders, the relay lease, the command services, lags",
                       description="Where the ledger's parts stand on NATS (NATS_URL, or the server a local "
                                   "`cultivation serve` started), for the ledger CULTIVATION_LEDGER names: the "
                                   "cluster, each stream's replicas and leader (events, pool bucket, relay lease), "
                                   "who holds the relay lease, the command services answering, and how far the "
                                   "stream and the projector are behind the store (--db). Exit 1 when NATS does "
                                   "not answer within --timeout.")
    p.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS",
                   help="how long to wait for NATS and for each answer (default 5)")
    p.set_defaults(func=_status)


async def gather_status(url: str, names: Any, timeout: float, head: int | None) -> dict[str, Any]:
    """The status document (what ``--json`` prints)."""
    import nats
    from nats.js.errors import NotFoundError

    from infra.lease import lease_holder
    from infra.nats import cluster_size, connect_options, replication, stream_tail

    nc = await nats.connect(**{**connect_options(url), "connect_timeout": timeout, "allow_reconnect": False,
                               "max_reconnect_attempts": 0})
    try:
        info = getattr(nc, "_server_info", None) or {}
        js = nc.jetstream(timeout=timeout)
        out: dict[str, Any] = {
            "ledger": names.ledger, "url": url,
            "server": {"name": info.get("server_name"), "version": info.get("version"),
                       "cluster": info.get("cluster"), "cluster_size": cluster_size(nc),
                       "jetstream": bool(info.get("jetstream"))}}
        try:
            out["streams"] = await replication(js, names)
            out["jetstream_error"] = None
        except Exception as e:  # noqa: BLE001 - JetStream away (no quorum, not enabled): said, not raised
            out["streams"] = []
            out["jetstream_error"] = f"{type(e).__name__}: {e}".strip()
        stream_position = None
        events = next((s for s in out["streams"] if s["stream"] == names.stream), None)
        if events:
            try:
                stream_position = (await stream_tail(js, names.stream))[1]
            except Exception:  # noqa: BLE001 - JetStream went away meanwhile
                stream_position = None
        projector: dict[str, Any] | None = None
        if events:
            try:
                ci = await js.consumer_info(names.stream, names.projector_durable)
                projector = {"consumer": names.projector_durable, "pending": ci.num_pending,
                             "unacknowledged": ci.num_ack_pending, "acknowledged_seq": ci.ack_floor.stream_seq
                             if ci.ack_floor else None}
            except NotFoundError:
                projector = None
            except Exception as e:  # noqa: BLE001
                projector = {"consumer": names.projector_durable, "error": f"{type(e).__name__}: {e}"}
        try:
            holder = await lease_holder(js, names) if out["streams"] else None
        except Exception:  # noqa: BLE001
            holder = None
        out["relay"] = {"lease_holder": holder, "stream_position": stream_position, "store_head": head,
                        "behind": None if head is None or stream_position is None else head - stream_position}
        out["projector"] = projector
        out["services"] = await _ping(nc, f"$SRV.PING.{names.service}", min(timeout, 1.0))
        return out
    finally:
        await nc.close()


async def _ping(nc: Any, subject: str, wait: float) -> list[dict[str, Any]]:
    """Every command service instance answering a micro PING within ``wait`` seconds."""
    import json

    inbox = nc.new_inbox()
    answers: list[dict[str, Any]] = []

    async def on(msg: Any) -> None:
        try:
            body = json.loads(msg.data)
        except ValueError:
            return
        answers.append({"id": body.get("id"), "name": body.get("name"), "version": body.get("version")})

    sub = await nc.subscribe(inbox, cb=on)
    await nc.publish(subject, b"", reply=inbox)
    await asyncio.sleep(wait)
    await sub.unsubscribe()
    return sorted(answers, key=lambda a: str(a["id"]))


def _status(args: argparse.Namespace) -> int:
    from infra.nats import ledger_names, local_nats_url

    try:
        names = ledger_names()
    except ValueError as e:
        raise CliError(str(e), field="CULTIVATION_LEDGER") from None
    if not 0 < args.timeout <= 600:
        raise CliError(f"--timeout: {args.timeout:g}: seconds above 0, at most 600", field="--timeout")
    url = local_nats_url()
    if not url:
        raise CliError("no NATS to ask: set NATS_URL or start `cultivation serve`", EXIT_REFUSED)
    head: int | None = None
    store_error = None
    try:
        ledger = open_ledger(args, create=False)
        head = ledger.max_position()
    except CliError as e:  # no ledger at --db: NATS's side is still worth showing
        store_error = str(e)
    try:
        doc = asyncio.run(gather_status(url, names, args.timeout, head))
    except Exception as e:  # noqa: BLE001 - NATS not reachable: the surroundings, one line
        raise CliError(f"NATS at {url} not reachable: {type(e).__name__}: {e}".rstrip(": "), EXIT_REFUSED) from None
    doc["store_error"] = store_error
    if args.json:
        print_json(doc)
        return EXIT_OK
    s = doc["server"]
    print(f"ledger {doc['ledger']} on {doc['url']}: server {s['name']} {s['version']}, "
          + (f"cluster {s['cluster']} of {s['cluster_size']}" if s["cluster"] else "no cluster"))
    if doc["jetstream_error"]:
        print(f"JetStream does not answer: {doc['jetstream_error']}")
    table("streams (流)", ["stream", "replicas", "leader", "followers", "messages"],
          [[r["stream"], r["replicas"], r["leader"] or "-",
            ", ".join(f"{f['name']} ({'current' if f['current'] else 'behind'}, lag {f['lag'] or 0})"
                      for f in r["followers"]) or "-", r["messages"]] for r in doc["streams"]])
    relay, projector = doc["relay"], doc["projector"]
    print(f"relay: lease held by {relay['lease_holder'] or 'nobody'}; stream at position "
          f"{relay['stream_position'] if relay['stream_position'] is not None else '-'}"
          + (f", store head {head}, {relay['behind']} behind" if relay["behind"] is not None else "")
          + (f" (store: {store_error})" if store_error else ""))
    if projector:
        print(f"projector: consumer {projector['consumer']}, "
              + (projector["error"] if "error" in projector else f"{projector['pending']} pending, "
                 f"{projector['unacknowledged']} unacknowledged"))
    else:
        print("projector: no consumer")
    print(f"command services answering: {len(doc['services'])}"
          + (f" ({', '.join(str(a['id']) for a in doc['services'])})" if doc["services"] else ""))
    return EXIT_OK
