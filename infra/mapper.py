"""msgspec in place of the library's JSON transcoder.

The library's :class:`~eventsourcing.persistence.Mapper` hands its transcoder a plain
dict and gets a plain dict back, so the types of dates, UUIDs and nested structs must be
smuggled through tagged JSON objects.  This mapper instead knows each event class's
annotated fields and decodes the stored bytes straight into those types with a msgspec
decoder built once per class: exact round trips, compact bytes, and no tags.

The stored state is JSON (UTF-8), readable by any auditor's tool::

    {"timestamp":"2026-11-21T22:48:33.580793+00:00","application_id":"a1", ...}
"""

from __future__ import annotations

import dataclasses
import typing
from datetime import datetime
from functools import cache
from typing import Any

import msgspec
from eventsourcing.domain import CanSnapshotAggregate, DomainEventProtocol
from eventsourcing.persistence import Mapper, MapperDeserialisationError, StoredEvent, find_id_convertor
from eventsourcing.utils import get_topic, resolve_topic

_ENVELOPE_FIELDS = ("originator_id", "originator_version")


@cache
def state_type(cls: type) -> type[msgspec.Struct]:
    """A msgspec Struct type with the stored fields of event class ``cls``."""
    hints = typing.get_type_hints(cls)
    defaults = {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING} \
        if dataclasses.is_dataclass(cls) else {}
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for name, tp in hints.items():
        if name in _ENVELOPE_FIELDS or typing.get_origin(tp) is typing.ClassVar:
            continue
        if name in defaults:
            fields.append((name, tp, defaults[name]))
        elif type(None) in typing.get_args(tp):
            # An optional field may be missing from events stored before it was added (an
            # event method's default is not on its class): it reads as None.
            fields.append((name, tp, None))
        else:
            fields.append((name, tp))
    return msgspec.defstruct(f"{cls.__qualname__}State", fields, forbid_unknown_fields=True, kw_only=True)


@cache
def _decoder(cls: type) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(state_type(cls))


_encoder = msgspec.json.Encoder()


def encode_state(domain_event: object) -> bytes:
    """The stored bytes of an event: its fields but the two that the record keys carry
    (a copy of its ``__dict__`` without them: the other fields keep their order).

    >>> from eventsourcing.domain import Aggregate
    >>> from datetime import datetime, UTC
    >>> from uuid import UUID
    >>> e = Aggregate.Event(originator_id=UUID(int=1), originator_version=1, timestamp=datetime(2026, 1, 1, tzinfo=UTC))
    >>> encode_state(e)
    b'{"timestamp":"2026-01-01T00:00:00Z"}'
    """
    state = dict(vars(domain_event))
    for k in _ENVELOPE_FIELDS:
        state.pop(k, None)
    return _encoder.encode(state)


class _SnapshotEnvelope(msgspec.Struct):
    timestamp: datetime
    topic: str
    state: msgspec.Raw


_snapshot_envelope = msgspec.json.Decoder(_SnapshotEnvelope)


@cache
def _state_decoder(aggregate_cls: type) -> msgspec.json.Decoder[Any]:
    """The decoder of ``aggregate_cls.SnapshotState`` (the aggregate classes of ``domain`` declare one)."""
    return msgspec.json.Decoder(aggregate_cls.SnapshotState)  # type: ignore[attr-defined]


def decode_state(cls: type, data: bytes) -> dict[str, Any]:
    if issubclass(cls, CanSnapshotAggregate):
        # A snapshot's state is typed by its aggregate class (``SnapshotState``), named by ``topic``.
        env = _snapshot_envelope.decode(data)
        state = _state_decoder(resolve_topic(env.topic)).decode(env.state)
        names = state.__struct_encode_fields__
        return {"timestamp": env.timestamp, "topic": env.topic,
                "state": {n: getattr(state, f) for f, n in zip(state.__struct_fields__, names)}}
    # (narrowed by issubclass, cls reads as type[object], which mypy finds unhashable against
    # functools.cache's Hashable; a class hashes)
    struct = _decoder(cls).decode(data)  # type: ignore[arg-type]
    return {f: getattr(struct, f) for f in struct.__struct_fields__}


class MsgspecMapper(Mapper[Any]):
    """Maps domain events to stored events with typed msgspec JSON."""

    def to_stored_event(self, domain_event: DomainEventProtocol[Any]) -> StoredEvent:
        data = encode_state(domain_event)
        if self.compressor:
            data = self.compressor.compress(data)
        if self.cipher:
            data = self.cipher.encrypt(data)
        return StoredEvent(originator_id=domain_event.originator_id,
                           originator_version=domain_event.originator_version,
                           topic=get_topic(type(domain_event)), state=data)

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[Any]:
        cls = resolve_topic(stored_event.topic)
        data = stored_event.state
        try:
            if self.cipher:
                data = self.cipher.decrypt(data)
            if self.compressor:
                data = self.compressor.decompress(data)
            state = decode_state(cls, data)
        except Exception as e:
            msg = (f"Failed to decode stored event {stored_event.topic} of {stored_event.originator_id} "
                   f"version {stored_event.originator_version}: {e}")
            raise MapperDeserialisationError(msg) from e
        id_type: type = type(stored_event.originator_id)  # (typed as a plain type: the cache's key)
        state["originator_id"] = find_id_convertor(cls, id_type)(stored_event.originator_id)
        state["originator_version"] = stored_event.originator_version
        domain_event = object.__new__(cls)
        object.__setattr__(domain_event, "__dict__", state)
        return domain_event
