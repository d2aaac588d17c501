"""The command service on NATS: ``nats.micro`` service ``cultivation``.

One endpoint per command, on ``cultivation.cmd.<authority>.<command>`` (queue group
``cultivation``, so several ledger processes share the load).  The ``<authority>`` token
is the GB/T 2260 code of the acting authority and must equal the command's
``actor.authority``: NATS subject permissions can then let each authority's service
publish only under its own code, so no service can act in another's name (refusal
``authority.subject_mismatch``).  The request is the command as JSON (the ``command``
field may be left out: the subject names it).  The reply is JSON:

- accepted: ``{"ok": true, "command_id", "command", "repeated", "events": [{"event_id",
  "aggregate_id", "version", "type", "occurred_on", "recorded_at"}, ...]}``; the events
  are durable before the reply is sent;
- refused: ``{"ok": false, "error": {"code", "rule", "field", "message"}}``, with the
  micro error headers ``Nats-Service-Error-Code`` 400 (malformed input), 422 (a rule of
  the domain), 404 (unknown enterprise, application or reward) or 409 (conflict), so
  the service's ``$SRV.STATS`` count them.  A refused command writes nothing.

Discovery and statistics come from ``nats.micro``: ``nats micro ls``, ``$SRV.INFO.cultivation``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec

from domain.errors import Conflict, LedgerError, NotFound, RuleViolation
from infra.nats import CMD_PREFIX, SERVICE_NAME
from services import commands as c

VERSION = "0.1.0"
_enc = msgspec.json.Encoder()


def command_subject(authority: str, command: str) -> str:
    """Where an authority sends a command: ``cultivation.cmd.<authority>.<command>``.

    >>> command_subject("211400", "recommend")
    'cultivation.cmd.211400.recommend'
    """
    return f"{CMD_PREFIX}.{authority}.{command}"


def subject_authority(subject: str) -> str | None:
    """The authority token of a command subject (None when the subject has none)."""
    parts = subject.split(".")
    return parts[2] if len(parts) == 4 and subject.startswith(CMD_PREFIX + ".") else None


def _status(e: Exception) -> str:
    if isinstance(e, c.InputError):
        return "400"
    if isinstance(e, NotFound):
        return "404"
    if isinstance(e, Conflict):
        return "409"
    return "422"


class CommandService:
    """Handles command requests with the ledger, a bounded number at a time in threads."""

    def __init__(self, ledger: Any, nc: Any, concurrency: int = 8):
        self.ledger = ledger
        self.nc = nc
        self.service: Any = None
        self._slots = asyncio.Semaphore(concurrency)
        self._decoders = {tag: msgspec.json.Decoder(t) for tag, t in c.COMMAND_TYPES.items()}
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def decide(self, tag: str, data: bytes, subject: str = "") -> tuple[bytes, str | None]:
        """Decode, handle, and encode the reply (runs in a worker thread)."""
        try:
            try:
                cmd = self._decoders[tag].decode(data)
            except (msgspec.ValidationError, msgspec.DecodeError) as e:
                raise c._input_error(e) from None
            authority = subject_authority(subject)
            if authority is not None and authority != cmd.actor.authority:
                raise RuleViolation("authority", "authority.subject_mismatch",
                                    f"the request came on {subject} (authority {authority}) but the command acts as "
                                    f"{cmd.actor.authority}", field="actor.authority")
            outcome = self.ledger.handle(cmd)
            return _enc.encode({"ok": True, **msgspec.structs.asdict(outcome)}), None
        except (LedgerError, c.InputError) as e:
            return _enc.encode({"ok": False, "error": e.as_dict()}), _status(e)

    def _handler(self, tag: str):  # type: ignore[no-untyped-def]
        async def handle(req: Any) -> None:
            self.in_flight += 1
            self._idle.clear()
            try:
                async with self._slots:
                    body, status = await asyncio.to_thread(self.decide, tag, req.data, req.subject)
                if status is None:
                    await req.respond(body)
                else:
                    error = msgspec.json.decode(body)["error"]
                    await req.respond_error(status, f"{error['code']}: {error['message']}"[:200], data=body)
            finally:
                self.in_flight -= 1
                if self.in_flight == 0:
                    self._idle.set()

        return handle

    async def start(self) -> None:
        from nats.micro import add_service

        self.service = await add_service(
            self.nc, name=SERVICE_NAME, version=VERSION, queue_group=SERVICE_NAME,
            description="cultivation ledger commands: one endpoint per command, JSON in, JSON out")
        group = self.service.add_group(name=CMD_PREFIX, queue_group=SERVICE_NAME)
        for tag in c.COMMAND_TYPES:
            await group.add_endpoint(name=tag, subject=f"*.{tag}", handler=self._handler(tag),
                                     metadata={"schema": f"services.commands.{c.COMMAND_TYPES[tag].__name__}"})

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop taking requests, then wait for the ones in flight to finish."""
        if self.service is not None:
            await self.service.stop()
        await asyncio.wait_for(self._idle.wait(), timeout)
