"""The questions the command service answers on NATS: ``cultivation.query.<query>``.

Each query is a request (a JSON object, checked at the edge like a command) answered by one
reply, under the permissions of :data:`infra.permissions.QUERY_ASKERS`:

- ``query.pool`` (:class:`~services.queries.PoolQuery`): a pool as of a business date, and as
  recorded by a ledger time, in pages;
- ``query.history`` (:class:`~services.queries.HistoryQuery`): one enterprise's trail;
- ``query.audit.head`` (``{}``): the head an auditor writes down;
- ``query.audit.prove`` (:class:`ProveQuery`): inclusion proofs of an enterprise's events or
  of one event, which ``cultivation audit verify-bundle`` checks offline once saved to a file;
- ``query.audit.consistency`` (:class:`ConsistencyQuery`): whether the ledger's head extends
  a head kept earlier, with the proof.

A malformed query is a 400 naming its field (``$.subject``), a refusal of the domain its own
code (``enterprise.not_found``: 404), exactly like a command's.  :class:`Answers` keeps what
answering costs most to rebuild: the read model, the scratch read model of the last
``as_recorded`` position asked, and the head of the last position asked.

>>> decode_query(ConsistencyQuery, b'{"old_size": 0, "old_root": "ab"}')
Traceback (most recent call last):
...
services.commands.InputError: $.old_size: Expected `int` >= 1
>>> decode_query(HeadQuery, b"")   # an empty request is the empty object
HeadQuery()
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Annotated, Any, NamedTuple

import msgspec

from audit.bundle import (
    ConsistencyProof,
    Hash,
    InclusionProofs,
    TreeHead,
    parse_root,
    positions_of_subject,
    prove,
    prove_consistency,
)
from domain.errors import LedgerError
from infra.integrity import position_recorded_by, stored_head
from services import commands as c
from services.queries import (
    HistoryAnswer,
    HistoryQuery,
    PoolAnswer,
    PoolQuery,
    RecordedAt,
    answer_pool,
    decode_history_query,
    decode_pool_query,
    decode_query,
    history,
    parse_moment,
    recorded_read_model,
)


class HeadQuery(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``cultivation.query.audit.head``: no fields (an empty request is ``{}``)."""


class HeadAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """The head as ``cultivation audit head`` prints it: the tree ``size`` and ``root`` (what an
    auditor writes down), the last ``chain`` hash and the ledger ``position`` it covers."""

    ok: bool = True
    size: int
    root: str
    chain: str
    position: int


class ProveQuery(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``cultivation.query.audit.prove``: inclusion proofs of every event of an enterprise
    (``subject`` a USCC) or of one event (an event id, as replies and the stream carry it)."""

    subject: Annotated[str, msgspec.Meta(min_length=1, max_length=64,
                                         description="a USCC (统一社会信用代码) or an event id (UUID)")]


class ProofAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """The reply: ``proof`` is the document ``cultivation audit prove`` writes; saved to a
    file, ``cultivation audit verify-bundle FILE --head SIZE:ROOT`` checks it offline."""

    ok: bool = True
    proof: InclusionProofs


class ConsistencyQuery(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``cultivation.query.audit.consistency``: does the ledger's head extend the head
    ``old_size:old_root`` kept earlier?"""

    old_size: Annotated[int, msgspec.Meta(ge=1)]
    old_root: Hash


class ConsistencyAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """The reply: ``extends`` true with the ``proof`` (a document ``verify-bundle`` checks
    offline); false when the ledger's first ``old_size`` events have another root (history
    before the kept head was rewritten), with the ``problems`` and no proof."""

    ok: bool = True
    extends: bool
    old: TreeHead
    new: TreeHead
    proof: ConsistencyProof | None
    problems: list[str]


def _field(e: c.InputError | LedgerError, field: str) -> c.InputError | LedgerError:
    """``e`` naming its field as a query names it (``uscc`` → ``$.uscc``)."""
    if e.field is not None and not e.field.startswith("$"):
        e.field = field
    return e


class Answers:
    """Answers the queries of one ledger, one at a time (each call runs in a worker thread:
    the ledger's staging is per thread, and the read models are not shared)."""

    def __init__(self, ledger: Any):
        self.ledger = ledger
        self.lock = threading.Lock()
        self._read_model: Any = None  # the store's read model, opened at the first pool query
        self._recorded: tuple[int, Any] | None = None  # (position, scratch read model) of the last as_recorded
        self._head: tuple[int, HeadAnswer] | None = None

    def answer(self, query: str, data: bytes) -> msgspec.Struct:
        """The answer to one request on ``cultivation.query.<query>``."""
        kind = QUERY_HANDLERS[query]
        q = kind.decode(data)
        with self.lock:
            return kind.answer(self, q)

    # ------------------------------------------------------------------ one per query
    def pool(self, q: PoolQuery) -> PoolAnswer:
        if q.as_recorded is None:
            if self._read_model is None:
                from infra.readmodel import ReadModel

                self._read_model = ReadModel(self.ledger)
            return answer_pool(self._read_model, self.ledger.policy, q)
        moment = parse_moment(q.as_recorded, "$.as_recorded")
        position = position_recorded_by(self.ledger, moment)
        if self._recorded is None or self._recorded[0] != position:
            self._close_recorded()
            rm, at = recorded_read_model(self.ledger, moment)
            self._recorded = (at.position, rm)
        return answer_pool(self._recorded[1], self.ledger.policy, q, RecordedAt(time=moment, position=position))

    def history(self, q: HistoryQuery) -> HistoryAnswer:
        moment = parse_moment(q.as_recorded, "$.as_recorded") if q.as_recorded else None
        try:
            return history(self.ledger, q.uscc, as_of=q.as_of, as_recorded=moment)
        except (c.InputError, LedgerError) as e:
            raise _field(e, "$.uscc") from None

    def head(self, q: HeadQuery) -> HeadAnswer:
        position = self.ledger.max_position()
        if self._head is None or self._head[0] != position:  # a head is a pass over every leaf: kept per position
            h = stored_head(self.ledger, upto=position)
            self._head = (position, HeadAnswer(size=h.size, root=h.root, chain=h.chain, position=h.position))
        return self._head[1]

    def prove(self, q: ProveQuery) -> ProofAnswer:
        try:
            positions = positions_of_subject(self.ledger, q.subject)
        except ValueError as e:
            raise c.InputError("$.subject", str(e)) from None
        return ProofAnswer(proof=msgspec.convert(prove(self.ledger, positions), InclusionProofs))

    def consistency(self, q: ConsistencyQuery) -> ConsistencyAnswer:
        try:
            doc, problems = prove_consistency(self.ledger, q.old_size, parse_root(q.old_root))
        except ValueError as e:
            raise c.InputError("$.old_size", str(e)) from None
        return ConsistencyAnswer(extends=not problems, old=doc.old, new=doc.new,
                                 proof=None if problems else doc, problems=problems)

    # ------------------------------------------------------------------ keeping and closing
    def _close_recorded(self) -> None:
        if self._recorded is not None:
            rm, self._recorded = self._recorded[1], None
            rm.close()

    def reset(self) -> None:
        """Drop what is kept (after a failure: a connection may be broken; the next query
        opens new ones)."""
        with self.lock:
            for close in (self._close_read_model, self._close_recorded):
                try:
                    close()
                except Exception:  # noqa: BLE001 - already broken
                    pass
            self._head = None

    def _close_read_model(self) -> None:
        if self._read_model is not None:
            rm, self._read_model = self._read_model, None
            rm.close()

    def close(self, timeout: float = 5) -> None:
        if self.lock.acquire(timeout=timeout):  # a query still reading keeps its read models
            try:
                self._close_read_model()
                self._close_recorded()
            finally:
                self.lock.release()


class QueryKind(NamedTuple):
    """One query: its request and answer types (the contract, entrypoints.api), how a request
    is decoded and checked, the :class:`Answers` method answering it, and what it is for."""

    request: type[Any]
    reply: type[Any]
    decode: Callable[[bytes], Any]
    answer: Callable[[Answers, Any], msgspec.Struct]
    summary: str


def _decoder(kind: type[Any]) -> Callable[[bytes], Any]:
    return lambda data: decode_query(kind, data)


# One row per query of infra.nats.QUERIES.
QUERY_HANDLERS: dict[str, QueryKind] = {
    "pool": QueryKind(PoolQuery, PoolAnswer, decode_pool_query, Answers.pool,
                      "a pool as of a business date (and as recorded by a ledger time), in pages of items by key"),
    "history": QueryKind(HistoryQuery, HistoryAnswer, decode_history_query, Answers.history,
                         "one enterprise's trail: every event of it, with its business date and ledger time"),
    "audit.head": QueryKind(HeadQuery, HeadAnswer, _decoder(HeadQuery), Answers.head,
                            "the audit head: the tree size and root an auditor writes down"),
    "audit.prove": QueryKind(ProveQuery, ProofAnswer, _decoder(ProveQuery), Answers.prove,
                             "inclusion proofs of an enterprise's events or of one event, checkable offline"),
    "audit.consistency": QueryKind(ConsistencyQuery, ConsistencyAnswer, _decoder(ConsistencyQuery),
                                   Answers.consistency, "whether the head extends a head kept earlier, with the proof"),
}
