"""The contract: JSON Schema (2020-12) and AsyncAPI 3.0 of every NATS message of the ledger.

Everything comes from one table, :data:`CHANNELS`: a row per subject, with the messages it
carries (msgspec types), who sends them and an example subject.  The schema generator
(:func:`schema`), the AsyncAPI generator (:func:`asyncapi`) and the tests read only it.

Adding a subject is one row (a query is one row of
:data:`entrypoints.nats_queries.QUERY_HANDLERS`, which this table reads)::

    Channel("stats", "{ledger}.stats", "publish", list[StatsDelta], "cultivation.stats", "...")

then ``python -m entrypoints.api`` regenerates ``docs/api/schema.json`` and
``docs/api/asyncapi.json`` (a unit test fails until it is run).  Who may publish or subscribe
is not written here: it is derived from :func:`infra.permissions.permissions_for`.

>>> [n for n in ("Command", "CommandReply", "RefusalReply", "WireEvent", "StatsDeltas") if n in schema()["messages"]]
['Command', 'CommandReply', 'RefusalReply', 'WireEvent', 'StatsDeltas']
>>> schema()["$schema"]
'https://json-schema.org/draft/2020-12/schema'
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Literal, NamedTuple, Union

import msgspec

from domain.codes import CATALOGUE
from entrypoints.nats_queries import QUERY_HANDLERS
from entrypoints.nats_service import VERSION, CommandReply, RefusalReply
from infra.nats import Names
from infra.projector import PoolChange, StatsDelta
from infra.relay import WireEvent
from projections.audit import AuditEntry
from projections.pools import Designation
from services import commands as c

JSON_SCHEMA = "https://json-schema.org/draft/2020-12/schema"
DOCS = Path(__file__).resolve().parent.parent / "docs" / "api"
Action = Literal["request", "publish"]

# The command union: one JSON object, tagged by ``command``.
AnyCommand = Union[tuple(c.COMMAND_TYPES.values())]  # type: ignore[valid-type]  # noqa: UP007


class Channel(NamedTuple):
    """One subject of the ledger.  ``address`` uses ``{ledger}`` for the ledger's name
    (``CULTIVATION_LEDGER``, default ``cultivation``) and AsyncAPI parameters in braces;
    ``example`` is a concrete subject, used to derive the permissions; ``action``: a request
    answered with ``reply`` (request/reply), or messages the ledger publishes."""

    id: str
    address: str
    action: Action
    message: Any
    example: str
    summary: str
    reply: tuple[Any, ...] = ()
    name: str = ""  # the message's name (default: the type's)
    stream: str = ""  # the JetStream stream it is kept in (read through a consumer): a Names attribute


def _name(t: Any) -> str:
    return getattr(t, "__name__", None) or str(t)


def _command_channels() -> list[Channel]:
    return [Channel(f"cmd_{tag}", "{ledger}.cmd.{authority}." + tag, "request", ctype,
                    "cultivation.cmd.{authority}." + tag,
                    (ctype.__doc__ or tag).strip().split("\n\n")[0].replace("\n", " "),
                    reply=(CommandReply, RefusalReply))
            for tag, ctype in c.COMMAND_TYPES.items()]


def _query_channels() -> list[Channel]:
    return [Channel("query_" + q.replace(".", "_"), "{ledger}.query." + q, "request", kind.request,
                    "cultivation.query." + q, kind.summary, reply=(kind.reply, RefusalReply))
            for q, kind in QUERY_HANDLERS.items()]


CHANNELS: list[Channel] = [
    *_command_channels(),
    *_query_channels(),
    Channel("events", "{ledger}.events.{province}.{tier}.{type}", "publish", WireEvent,
            "cultivation.events.210000.little_giant.Designated",
            "every stored event once, on the JetStream stream CULTIVATION_EVENTS (kept forever); "
            "state is the stored event's JSON, an object whose fields depend on type", stream="stream"),
    Channel("pool_kv", "$KV.{ledger}_pools.{key}", "publish", Designation,
            "$KV.cultivation_pools.little_giant.91211400MA0000001D.0123456789abcdef",
            "the KV bucket cultivation_pools: one value per designation, key <tier>.<uscc>.<digest>",
            stream="kv_stream"),
    Channel("pool", "{ledger}.pool.{tier}.{province}.{city}.{county}", "publish", PoolChange,
            "cultivation.pool.little_giant.210000.211400.211402",
            "a designation row as it now stands, on its tier and region"),
    Channel("audit", "{ledger}.audit.{uscc}", "publish", AuditEntry, "cultivation.audit.91211400MA0000001D",
            "one audit-trail entry per event about an enterprise"),
    Channel("stats", "{ledger}.stats", "publish", list[StatsDelta], "cultivation.stats",
            "statistics deltas of one applied batch", name="StatsDeltas"),
]


def message_types() -> dict[str, Any]:
    """Every message of :data:`CHANNELS` by name (requests, replies, published messages)."""
    out: dict[str, Any] = {}
    for ch in CHANNELS:
        out[ch.name or _name(ch.message)] = ch.message
        for r in ch.reply:
            out[_name(r)] = r
    if any(ch.id.startswith("cmd_") for ch in CHANNELS):
        out["Command"] = AnyCommand
    return out


def schema() -> dict[str, Any]:
    """One JSON Schema 2020-12 document: ``$defs`` of every type, ``messages`` naming the
    schema of each message (``{"$ref": "#/$defs/…"}``)."""
    types = message_types()
    names = list(types)
    refs, defs = msgspec.json.schema_components(list(types.values()), ref_template="#/$defs/{name}")
    # a stream message's state is the stored event's JSON (msgspec.Raw): an object, per event type
    defs["WireEvent"]["properties"]["state"] = {
        "type": "object", "description": "the stored event's JSON verbatim; its fields depend on type"}
    codes = sorted(CATALOGUE)
    defs["Refusal"]["properties"]["code"] = {"enum": codes, "description": "a code of `cultivation codes`"}
    return {"$schema": JSON_SCHEMA, "$id": "https://cultivation-ledger/docs/api/schema.json",
            "title": "cultivation ledger messages", "messages": dict(zip(names, refs)),
            "$defs": dict(sorted(defs.items()))}


def message_schema(name: str, doc: dict[str, Any] | None = None) -> dict[str, Any]:
    """The schema of one message, standalone (its ``$defs`` along): what a validator takes."""
    doc = doc or schema()
    return {"$schema": JSON_SCHEMA, "$defs": doc["$defs"], **doc["messages"][name]}


def _matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: ``*`` one token, ``>`` the rest.

    >>> _matches("cultivation.pool.>", "cultivation.pool.a.b"), _matches("a.*", "a.b.c"), _matches("a.*.c", "a.b.c")
    (True, False, True)
    """
    p, s = pattern.split("."), subject.split(".")
    for i, tok in enumerate(p):
        if tok == ">":
            return len(s) > i
        if i >= len(s) or (tok != "*" and tok != s[i]):
            return False
    return len(p) == len(s)


_SAMPLE_AUTHORITIES = ("100000", "210000", "211400", "211402")  # national, provincial, municipal, county


def permissions(ch: Channel) -> dict[str, list[str]]:
    """Which principal kinds may publish and subscribe on ``ch``'s example subject, by
    :func:`infra.permissions.permissions_for` (an authority: under its own code only)."""
    from infra.permissions import PRINCIPAL_KINDS, Principal, mirrored_streams, permissions_for
    from infra.policy_files import load_policy_book

    book = load_policy_book()
    out: dict[str, list[str]] = {"publish": [], "subscribe": [], **({"consume": []} if ch.stream else {})}
    for kind in PRINCIPAL_KINDS:
        samples = _SAMPLE_AUTHORITIES if kind == "authority" else (None,)
        for code in samples:
            p = Principal(name=f"sample-{kind}", kind=kind, authority=code, password_env="PW")  # type: ignore[arg-type]
            perms = permissions_for(p, book)
            subject = ch.example.replace("{authority}", code or "210000")
            for action, allowed in (("publish", perms.publish_allow), ("subscribe", perms.subscribe_allow)):
                if any(_matches(a, subject) for a in allowed) and kind not in out[action]:
                    out[action].append(kind)
            # a kept stream is read through JetStream: the ledger's own, or the mirror of it in one's account
            if ch.stream and (kind == "service" or getattr(Names(), ch.stream) in mirrored_streams(p)) \
                    and kind not in out["consume"]:
                out["consume"].append(kind)
    return out


def asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every channel, for the default ledger name."""
    sch = schema()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for ch in CHANNELS:
        names = [ch.name or _name(ch.message), *(_name(r) for r in ch.reply)]
        for n in names:
            messages[n] = {"name": n, "contentType": "application/json",
                           "payload": {"$ref": f"schema.json#/$defs/{sch['messages'][n]['$ref'].rsplit('/', 1)[-1]}"}
                           if "$ref" in sch["messages"][n] else sch["messages"][n]}
        address = ch.address.replace("{ledger}", Names().cmd_prefix.split(".")[0])
        params = {p.split("}")[0]: {"description": p.split("}")[0]} for p in address.split("{")[1:]}
        channels[ch.id] = {"address": address, "description": ch.summary,
                           "messages": {n: {"$ref": f"#/components/messages/{n}"} for n in names[:1]},
                           **({"parameters": params} if params else {})}
        if ch.reply:
            channels[f"{ch.id}_reply"] = {"address": None, "description": "the requester's inbox",
                                          "messages": {n: {"$ref": f"#/components/messages/{n}"}
                                                       for n in names[1:]}}
        perms = permissions(ch)
        op: dict[str, Any] = {
            "action": "receive" if ch.action == "request" else "send",
            "channel": {"$ref": f"#/channels/{ch.id}"},
            "summary": ch.summary,
            "description": f"may publish: {', '.join(perms['publish']) or 'nobody'}; "
                           f"may subscribe: {', '.join(perms['subscribe']) or 'nobody'}"
                           + (f"; may consume from JetStream ({getattr(Names(), ch.stream)}, the ledger's or a "
                              f"mirror in the consumer's own account): {', '.join(perms['consume'])}"
                              if ch.stream else "")
                           + " (infra.permissions.permissions_for)",
            "x-permissions": perms,
        }
        if ch.reply:
            op["reply"] = {"channel": {"$ref": f"#/channels/{ch.id}_reply"}}
        operations[ch.id] = op
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "cultivation ledger", "version": VERSION,
                 "description": "The ledger's NATS API for the default ledger name `cultivation`: every subject "
                                "starts with the ledger name, a setting (CULTIVATION_LEDGER; the stream and bucket "
                                "names follow it). Payload schemas: schema.json (JSON Schema 2020-12)."},
        "defaultContentType": "application/json",
        "channels": channels, "operations": operations,
        "components": {"messages": messages},
    }


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def documents() -> dict[str, str]:
    """The files of ``docs/api/`` as the code generates them."""
    return {"schema.json": render(schema()), "asyncapi.json": render(asyncapi())}


def write(folder: Path = DOCS) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in documents().items():
        (folder / name).write_text(text, encoding="utf-8")


if __name__ == "__main__":  # python -m entrypoints.api: regenerate docs/api/
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS)
