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
- refused: ``{"ok": false, "error": {"code", "rule", "field", "message", "retry"}}`` (``retry``:
  ``yes``, ``after_facts`` or ``never``, whether sending it again can help; ``cultivation
  codes`` lists them), with the
  micro error headers ``Nats-Service-Error-Code`` 400 (malformed input), 422 (a rule of
  the domain), 404 (unknown enterprise, application or reward), 409 (conflict) or 500
  (``internal.error``: this command could not be decided; ``store.unavailable``: the
  store failed for the whole group; nothing was written).  A refused command writes nothing, and
  one command's failure never costs another command of its group its answer.

More endpoints answer queries (:mod:`entrypoints.nats_queries`), on
``cultivation.query.<query>``: ``pool`` takes a :class:`services.queries.PoolQuery`
(``{"tier", "as_of", "as_recorded"?, "level"?, "region"?, "programme"?, "stage"?, "limit"?,
"after"?}``) and replies ``{"ok": true, "as_of", "position", "count", "total", "next",
"items"}``, a page of the items ``cultivation --json pool`` prints, each row as it stood on
``as_of``; ``history``, ``audit.head``, ``audit.prove`` and ``audit.consistency`` answer as
the CLI's ``history`` and ``audit`` commands do.  A malformed query or an unknown tier is a
400 naming the field, a failure a 500 with a body.  They read the store and the read model the
CLI reads in a worker thread, one query at a time, beside the group commits and never inside
them.

Commands are written in group commits (see :class:`CommandService`).  Discovery comes
from ``nats.micro``: ``nats micro ls``, ``$SRV.INFO.cultivation``; ``$SRV.STATS.cultivation``
counts what callers see: every refusal or malformed request is an error, and the processing
time runs from a request's arrival to its reply, the group commit included.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import msgspec

from domain.codes import Code, Retry, with_retry
from domain.errors import Conflict, LedgerError, NotFound, RuleViolation
from domain.regions import name_regions
from entrypoints.nats_queries import QUERY_HANDLERS, Answers
from infra.nats import QUERIES, Names
from services import commands as c
from services.ledger import STORE_UNAVAILABLE, DecisionFailed, EventRef, Outcome
from services.queries import PoolAnswer

log = logging.getLogger("cultivation.service")
VERSION = "0.1.0"
_enc = msgspec.json.Encoder()


def subject_authority(subject: str, names: Names) -> str | None:
    """The authority token of a command subject (None when the subject has none).

    >>> subject_authority("cultivation.cmd.211400.recommend", Names()), subject_authority("x.cmd.1.r", Names())
    ('211400', None)
    """
    parts = subject.split(".")
    return parts[2] if len(parts) == 4 and subject.startswith(names.cmd_prefix + ".") else None


def _status(e: Exception) -> str:
    if isinstance(e, c.InputError):
        return "400"
    if isinstance(e, NotFound):
        return "404"
    if isinstance(e, Conflict):
        return "409"
    if isinstance(e, DecisionFailed):
        return "500"
    return "422"


class QueryTooLarge(c.InputError):
    """A query whose answer would not fit in one NATS message (400, ``query.too_large``)."""

    def as_dict(self) -> dict[str, str | None]:
        return {**super().as_dict(), "code": "query.too_large", "rule": "query"}


class CommandReply(msgspec.Struct, frozen=True, kw_only=True):
    """The reply to an accepted command: its events are durable before it is sent."""

    ok: bool = True
    command_id: str
    command: str
    repeated: bool = False
    events: list[EventRef]


class Refusal(msgspec.Struct, frozen=True, kw_only=True):
    """Why a command or query was refused (``cultivation codes`` lists every code)."""

    code: Code
    rule: str
    field: str | None
    message: str
    retry: Retry


class RefusalReply(msgspec.Struct, frozen=True, kw_only=True):
    """The body of a refused request (beside the micro error headers)."""

    ok: bool = False
    error: Refusal


class _CallerStats:
    """An endpoint's ``$SRV.STATS`` figures, made to count what its callers see.

    ``nats.micro`` counts an error only when a handler raises, and times the handler
    call.  Ours never raises (every refusal is an answer) and returns once a request is
    queued, the reply following the group commit: left alone, the stats would show no
    errors and the queueing time.  So each answer is counted here: a refusal or a
    malformed request is an error (its status and code the last error), and the time
    from queueing to the reply is added to what the endpoint timed itself, making a
    request's processing time its arrival to its reply.  nats-py keeps these figures in
    the endpoint's own attributes (nats-py is pinned; tests/e2e/test_service_stats.py reads
    them back through ``$SRV.STATS``).
    """

    def __init__(self, endpoint: Any):
        self.endpoint = endpoint

    def answered(self, error: str | None, queued_ns: int | None) -> None:
        ep = self.endpoint
        if error is not None:
            ep._num_errors += 1
            ep._last_error = error
        if queued_ns is not None:  # answered after its handler returned
            ep._processing_time += time.perf_counter_ns() - queued_ns
            if ep._num_requests:
                ep._average_processing_time = int(ep._processing_time / ep._num_requests)


class _Pending(msgspec.Struct):
    """A decoded request waiting for its group commit, and where its reply goes."""

    command: c.Command
    request: Any  # the nats.micro Request to answer
    stats: _CallerStats
    queued_ns: int  # when its handler returned, having queued it


class CommandService:
    """Handles command requests with the ledger, in group commits.

    Requests are decoded and checked as they arrive; valid commands join a queue, and one
    worker hands everything waiting (up to ``max_batch`` commands) to
    :meth:`Ledger.handle_many <services.ledger.Ledger.handle_many>` in a thread: one
    transaction, one fsync for the whole group, each command decided in arrival order and
    seeing those before it, exactly as one by one.  Each request is answered after the
    group's commit, so an accepted reply still means durable.  While a group is being
    written the next one gathers: under load the groups grow, and the ledger keeps up
    with far more requests per second than one transaction per command allows.
    ``on_commit`` is called (in the event loop) after each group that accepted something:
    the relay's nudge, so new events go out without waiting for its next poll.
    """

    def __init__(self, ledger: Any, nc: Any, max_batch: int = 200, on_commit: Any = None,
                 names: Names | None = None):
        self.names = names or Names()
        self.ledger = ledger
        self.nc = nc
        self.max_batch = max_batch
        self.on_commit = on_commit
        self.service: Any = None
        self._stats: dict[str, _CallerStats] = {}
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.answers = Answers(ledger)  # the queries, one at a time in a worker thread

    def decode(self, tag: str, data: bytes, subject: str = "") -> c.Command:
        """The command of a request; :class:`~services.commands.InputError` or a refusal
        when it is malformed or acts for another authority than its subject names."""
        cmd = c.decode_command(data, tag)
        authority = subject_authority(subject, self.names)
        if authority is not None and authority != cmd.actor.authority:
            raise RuleViolation("authority", "authority.subject_mismatch",
                                f"the request came on {subject} (authority {authority}) but the command acts as "
                                f"{cmd.actor.authority}", field="actor.authority")
        return cmd

    def _decide_group(self, cmds: list[c.Command]) -> list[Outcome | LedgerError]:
        """Handle a group in one transaction (runs in a worker thread); results in order."""
        results: list[Outcome | LedgerError] = []
        self.ledger.handle_many(cmds, on_result=lambda _cmd, result: results.append(result), batch_size=len(cmds))
        return results

    async def _work(self) -> None:
        while True:
            group = [await self._queue.get()]
            while len(group) < self.max_batch and not self._queue.empty():
                group.append(self._queue.get_nowait())
            try:
                results = await asyncio.to_thread(self._decide_group, [p.command for p in group])
            except Exception as e:  # the store failed: every request of the group learns it, nothing was written
                log.error("a group of %d commands failed: %s: %s", len(group), type(e).__name__, e,
                          exc_info=not isinstance(e, STORE_UNAVAILABLE))
                for p in group:
                    await self._answer(p.request, None, failure=e, stats=p.stats, queued_ns=p.queued_ns)
                continue
            if self.on_commit is not None and any(isinstance(r, Outcome) and not r.repeated for r in results):
                try:
                    self.on_commit()
                except Exception:  # a nudge is an optimisation: the relay still polls
                    log.exception("after a group commit")
            for p, result in zip(group, results):
                await self._answer(p.request, result, stats=p.stats, queued_ns=p.queued_ns)

    async def _answer(self, req: Any, result: Outcome | bytes | LedgerError | c.InputError | None,
                      failure: Exception | None = None, stats: _CallerStats | None = None,
                      queued_ns: int | None = None) -> None:
        """Reply to one request; the request is no longer in flight after this.  A failure
        of the store (``result`` None) is answered as ``store.unavailable``, with a body."""
        if result is None:
            result = DecisionFailed("internal", "store.unavailable",
                                 f"the ledger's store failed ({type(failure).__name__}: {failure})"[:300]
                                 + "; nothing was written, send the command again")
        error = with_retry(result.as_dict()) if isinstance(result, (LedgerError, c.InputError)) else None
        status = _status(result) if isinstance(result, Exception) else None  # a refusal or a failure
        try:
            if isinstance(result, bytes):  # a query's answer
                await req.respond(result)
            elif isinstance(result, Outcome):
                await req.respond(_enc.encode(CommandReply(command_id=result.command_id, command=result.command,
                                                           repeated=result.repeated, events=result.events)))
            elif error is not None and status is not None:  # a refusal or a failure: always, here
                await req.respond_error(status, f"{error['code']}: {error['message']}"[:200],
                                        data=_enc.encode(RefusalReply(error=Refusal(**error))))
        except Exception:  # the requester's connection is gone; the outcome stands in the ledger
            log.exception("could not reply")
        finally:
            if stats is not None:
                stats.answered(None if error is None else f"{status}: {error['code']}", queued_ns)
            self.in_flight -= 1
            if self.in_flight == 0:
                self._idle.set()

    def _handler(self, tag: str):  # type: ignore[no-untyped-def]
        async def handle(req: Any) -> None:
            # Returns without waiting for the group commit: nats.py calls an endpoint's
            # handler for one message at a time, so waiting here would let only one
            # request per endpoint join a group.  The worker answers after the commit.
            self.in_flight += 1
            self._idle.clear()
            stats = self._stats[tag]
            try:
                cmd = self.decode(tag, req.data, req.subject)
            except (LedgerError, c.InputError) as e:
                await self._answer(req, e, stats=stats)
                return
            except Exception as e:  # noqa: BLE001 - a bug, answered (500 with a body), never left hanging
                log.exception("could not decode a request on %s", req.subject)
                failed = DecisionFailed("internal", "internal.error",
                                        f"the ledger could not read this request ({type(e).__name__})")
                await self._answer(req, failed, stats=stats)
                return
            self._queue.put_nowait(_Pending(command=cmd, request=req, stats=stats, queued_ns=time.perf_counter_ns()))

        return handle

    def _ask(self, query: str, data: bytes) -> bytes:
        """The reply to one query (runs in a worker thread): the answer as JSON, a region name
        beside every region code (``domain.regions.name_regions``, as the CLI's ``--json``
        prints it); :class:`QueryTooLarge` naming the way out when it exceeds what one NATS
        message carries."""
        answer = self.answers.answer(query, data)
        body = _enc.encode(name_regions(msgspec.to_builtins(answer)))
        limit = getattr(self.nc, "max_payload", 0)
        if not limit or len(body) <= limit:
            return body
        if isinstance(answer, PoolAnswer):
            raise QueryTooLarge("$.limit", f"{answer.count} items ({len(body)} bytes) exceed the {limit} bytes a NATS "
                                           f"message may carry; ask for fewer items a page (limit)")
        raise QueryTooLarge("$", f"the answer ({len(body)} bytes) exceeds the {limit} bytes a NATS message may carry")

    def _query_handler(self, query: str):  # type: ignore[no-untyped-def]
        async def handle(req: Any) -> None:
            # Awaits its answer: queries do not join the group commits, and nats.py hands an
            # endpoint one message at a time, so they are answered in arrival order.
            self.in_flight += 1
            self._idle.clear()
            result: bytes | LedgerError | c.InputError
            try:
                result = await asyncio.to_thread(self._ask, query, req.data)
            except (LedgerError, c.InputError) as e:
                result = e
            except Exception as e:  # noqa: BLE001 - the store or a bug: answered (500 with a body), never left hanging
                log.error("a %s query failed: %s: %s", query, type(e).__name__, e,
                          exc_info=not isinstance(e, STORE_UNAVAILABLE))
                code: Code = "store.unavailable" if isinstance(e, STORE_UNAVAILABLE) else "internal.error"
                result = DecisionFailed("internal", code, f"the ledger could not answer this query "
                                                          f"({type(e).__name__}: {e})"[:300])
                await asyncio.to_thread(self.answers.reset)  # its connection may be broken
            await self._answer(req, result, stats=self._stats[f"query.{query}"])

        return handle

    async def start(self) -> None:
        from nats.micro import add_service

        self._worker = asyncio.create_task(self._work(), name="command-groups")
        self.service = await add_service(
            self.nc, name=self.names.service, version=VERSION, queue_group=self.names.queue_group,
            description="cultivation ledger commands: one endpoint per command, JSON in, JSON out")
        group = self.service.add_group(name=self.names.cmd_prefix, queue_group=self.names.queue_group)
        for tag in c.COMMAND_TYPES:
            await group.add_endpoint(name=tag, subject=f"*.{tag}", handler=self._handler(tag),
                                     metadata={"schema": f"services.commands.{c.COMMAND_TYPES[tag].__name__}"})
            self._stats[tag] = _CallerStats(self.service._endpoints[-1])  # the endpoint just added
        for query in QUERIES:
            schema = QUERY_HANDLERS[query].request
            await self.service.add_endpoint(name="query_" + query.replace(".", "_"),
                                            subject=self.names.query_subject(query),
                                            handler=self._query_handler(query), queue_group=self.names.queue_group,
                                            metadata={"schema": f"{schema.__module__}.{schema.__qualname__}"})
            self._stats[f"query.{query}"] = _CallerStats(self.service._endpoints[-1])

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop taking requests, then wait for the ones in flight to be written and answered."""
        if self.service is not None:
            await self.service.stop()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        finally:
            if self._worker is not None:
                self._worker.cancel()
                await asyncio.gather(self._worker, return_exceptions=True)
            self.answers.close()
