"""The service layer: turns one command into aggregate calls and one atomic save.

:class:`Ledger` is an ``eventsourcing`` application.  ``handle(command)``:

1. looks up the command's journal entry (a row of the journal table, keyed by
   ``command_id``: :class:`infra.event_store.JournalRow`); a repeated command id returns
   the first outcome and writes nothing, and a command id reused for a different command
   is refused;
2. picks the policy version in force on the command's business date (the handler asks
   :meth:`Ledger.in_force`);
3. loads the aggregates and lets the domain decide on the facts of the command's date
   (``_decide``): the command's handler (:data:`services.handlers.HANDLERS`) calls the
   aggregates, which check the rules (a refusal raises before any event);
4. saves the new events and the journal row in one transaction (the row is no event: it
   is in no notification, no hash chain, no stream);
5. on a version conflict (another writer changed the same enterprise or budget in
   between) starts again from 1 against the new versions, a few times, then refuses
   with ``conflict``.

Nothing is written unless everything is.

The store is read and written in bulk through :mod:`infra.event_store` (one adapter per
SQL dialect); this module holds no SQL.

Reading is optimistic.  An enterprise kept from an earlier command is taken as it is,
and a journal entry as absent, without asking the store: the save is what checks them,
because it writes the next version of every aggregate the decision changed and the
journal row of the command, and the store refuses a version or a command id that exists.  What
the save cannot check is read before it counts: a refusal, or an aggregate a decision read
but did not change, is given only once the store confirms the versions taken for granted
(:meth:`Ledger._check_assumed`); otherwise the command is decided again on what was read.

Stores written before the journal had its table kept its entries as ``HandledCommand``
events; opening one fills the table from them (:meth:`Ledger._upgrade_journal`).  Those
events stay in the log (history is immutable, the hash chain covers them); no new one is
written.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from functools import lru_cache
from typing import Any, ClassVar, TypeVar
from uuid import UUID, uuid5

import msgspec
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import (
    ApplicationRecorder,
    ConnectionPoolClosedError,
    IntegrityError,
    InterfaceError,
    Mapper,
    OperationalError,
    StoredEvent,
)
from eventsourcing.persistence import InternalError as StoreInternalError
from eventsourcing.utils import get_topic

from domain.budget import SchemeBudget, budget_id
from domain.enterprise import LEDGER_NAMESPACE, Enterprise, enterprise_id, event_id
from domain.errors import Conflict, LedgerError, NotFound, RuleViolation
from domain.group import Group, group_id
from domain.policy import PolicyBook, Programme
from domain.sme import SmeStandard
from domain.values import Actor, uscc_check_char
from infra.event_store import BulkEventStore, JournalRow, bulk_event_store
from infra.mapper import MsgspecMapper
from infra.policy_files import load_policy_book, load_sme_standard
from infra.store import schema_lock, store_env, store_url
from services import commands as c
from services.handlers import HANDLERS

log = logging.getLogger("cultivation.ledger")

# The store is unreachable, locked or broken: every command of a group meets the same
# failure, so it is the group's (nothing written, each caller told), not one command's.
STORE_UNAVAILABLE = (InterfaceError, OperationalError, StoreInternalError, ConnectionPoolClosedError)


class DecisionFailed(LedgerError):
    """One command could not be decided or written for a reason that is no rule's (a bug,
    a value the store cannot hold).  That command alone is refused, nothing of it is
    written, and the cause is logged with its traceback; the commands around it go on.
    Exit code 3: an internal error, not the user's."""

    exit_code = 3

    @classmethod
    def of(cls, cmd: c.Command, e: BaseException) -> DecisionFailed:
        log.error("command %s (%s) could not be decided", cmd.command_id, c.command_name(cmd), exc_info=e)
        return cls("internal", "internal.error",
                   f"the ledger could not decide this command ({type(e).__name__}: {e})"[:300]
                   + "; nothing was written, the cause is in the ledger's log")


class _Isolate(Exception):
    """Something that is no refusal went wrong in a batch: decide its commands one by one,
    so that only the command it belongs to fails."""


class EventRef(msgspec.Struct, frozen=True, kw_only=True):
    """One accepted event, as a reply names it."""

    event_id: UUID
    aggregate_id: UUID
    version: int
    type: str
    occurred_on: date | None
    recorded_at: datetime


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """What an accepted command produced.  ``repeated`` is true when the command id
    had been handled before and this is the first outcome returned again."""

    command_id: str
    command: str
    events: list[EventRef]
    repeated: bool = False


_refs_encoder = msgspec.json.Encoder()
_refs_decoder = msgspec.json.Decoder(list[EventRef])


_Refusal = TypeVar("_Refusal", bound=BaseException)


def as_refusal(e: _Refusal) -> _Refusal:
    """``e``, a refusal kept as a value (a batch's answer to one of its commands), without the
    tracebacks of it and of the exceptions it was raised from.  Kept with them, each refusal
    held a cycle (its traceback's frames hold the batch's results, which hold it) that only
    the cyclic collector frees: 13 objects of garbage per refusal, and once such garbage
    reaches the old generation, a serving process that refreezes its heap every second
    (``infra.heap.refreeze``) would keep it for good.  Nobody reads a refusal's frames: it is
    answered by its code, rule, field and message.

    >>> import gc
    >>> def refuse():
    ...     results = []
    ...     try:
    ...         raise RuleViolation("identity", "register.exists", "already registered", field="uscc")
    ...     except RuleViolation as e:
    ...         results.append(as_refusal(e))
    ...     return results
    >>> _ = gc.collect()
    >>> kept = refuse()
    >>> gc.collect()  # nothing left for the cyclic collector
    0
    >>> refuse()[0].code, refuse()[0].__traceback__
    ('register.exists', None)
    """
    seen: set[int] = set()
    x: BaseException | None = e
    while x is not None and id(x) not in seen:
        seen.add(id(x))
        x.__traceback__ = None
        x = x.__cause__ or x.__context__
    return e


@lru_cache(maxsize=4096)
def journal_id(command_id: str) -> UUID:
    """The aggregate id a :class:`HandledCommand` (an old store's journal entry) had."""
    return uuid5(LEDGER_NAMESPACE, f"command:{command_id}")


_UNSTAGED: Any = object()  # not in the decision's aggregates (None there: known not to exist)


class _Stale(Exception):
    """What a decision took for granted (a kept aggregate's version, an absent journal
    entry) is not what the store holds: decide again on what it holds."""


class HandledCommand(Aggregate):
    """The journal entry of one accepted command as stores written before the journal
    table kept it: an aggregate of one event.  No longer written; kept so that the events
    of those stores still read (history, audit, the upgrade that fills the table)."""

    @staticmethod
    def create_id(command_id: str, **_: Any) -> UUID:
        return journal_id(command_id)

    @event("Handled")
    def __init__(self, command_id: str, command: str, digest: str, occurred_on: date, actor: Actor, document: str,
                 events: list[EventRef]):
        self.command_id = command_id
        self.command = command
        self.digest = digest
        self.events = events


# How many aggregates a ledger keeps between commands unless told (see Ledger.load_many):
# a full pass of Python's cyclic collector traces every object kept, and in a long-running
# ``serve`` those passes land on the command -> KV path (a pass over 20,000 kept enterprises,
# 217,000 tracked objects, took 148 ms).  A bulk load, where only throughput counts, keeps
# more: ``cultivation submit --cache``.
AGGREGATE_CACHE = 20_000


def aggregate_cache_size(env: Mapping[str, str], default: int = AGGREGATE_CACHE) -> int:
    """The cache size ``$CULTIVATION_AGGREGATE_CACHE`` sets, else ``default``; a value that is
    not a whole number of aggregates is refused, naming the variable.

    >>> aggregate_cache_size({}), aggregate_cache_size({"CULTIVATION_AGGREGATE_CACHE": "0"})
    (20000, 0)
    >>> aggregate_cache_size({"CULTIVATION_AGGREGATE_CACHE": "lots"})
    Traceback (most recent call last):
    ...
    ValueError: CULTIVATION_AGGREGATE_CACHE: 'lots' is not a number of aggregates to keep (a whole number, 0 or more)
    """
    raw = env.get("CULTIVATION_AGGREGATE_CACHE")
    if raw is None:
        return default
    if not (raw.strip().isascii() and raw.strip().isdigit()):
        raise ValueError(f"CULTIVATION_AGGREGATE_CACHE: {raw!r} is not a number of aggregates to keep "
                         f"(a whole number, 0 or more)")
    return int(raw)


class Ledger(Application[UUID]):
    """The cultivation ledger application."""

    name = "Ledger"
    max_attempts: ClassVar[int] = 5
    is_snapshotting_enabled = True
    # Snapshots of long-lived aggregates, every N of their events (a budget collects one
    # event per grant, all year long).  Snapshots are a cache: the events stay the truth.
    # An enterprise every 10: at national size most commands find their enterprise out of
    # the cache of kept aggregates, and building one of 13 events (the national mean) from
    # them took 290-330 µs, from a snapshot and the few events after it 70-100 µs (issue 17);
    # a snapshot is some 2.3 KB, six events' worth, so the store grows by about a fifth.
    snapshot_every: ClassVar[dict[type[Aggregate], int]] = {Enterprise: 10, SchemeBudget: 100}

    def __init__(self, db: str | None = None, policies: str | None = None, env: dict[str, str] | None = None,
                 cache_size: int | None = None):
        self.store = store_url(db)
        self._thread = threading.local()
        # Aggregates kept between commands, so a busy enterprise is not rebuilt from the
        # store for each (see load_many).  Bounded: an enterprise is some 6-8 KB.
        self.cache_size = cache_size if cache_size is not None else aggregate_cache_size(os.environ)
        self._cache: OrderedDict[UUID, Aggregate] = OrderedDict()
        self._cache_lock = threading.Lock()
        super().__init__(env={**store_env(self.store), **(env or {})})
        # The bulk reads and the raw insert, in the store's dialect (the library's ports read
        # one aggregate at a time).
        self.bulk: BulkEventStore = bulk_event_store(
            self.recorder, self.snapshots.recorder if self.snapshots is not None else None)
        self._upgrade_journal()
        self.policy: PolicyBook = load_policy_book(policies)
        self.sme: SmeStandard = load_sme_standard()

    def construct_recorder(self) -> ApplicationRecorder:
        # Creating the tables: concurrent starts on PostgreSQL must take turns (see schema_lock).
        with schema_lock(self.store):
            return super().construct_recorder()

    LEGACY_JOURNAL_TOPIC: ClassVar[str] = get_topic(HandledCommand.Handled)  # type: ignore[attr-defined]

    def _upgrade_journal(self) -> int | None:
        """Fill an empty journal table from the store's ``HandledCommand`` events, if any
        (a store written before the table): one row per event, the same reply for a
        repeated command.  Once per store; None when there was nothing to do.  Concurrent
        starts take turns (:func:`schema_lock`, and the fill's own transaction)."""
        def to_rows(stored: list[Any]) -> list[JournalRow]:
            rows = []
            for s in stored:
                e = self.mapper.to_domain_event(s)
                rows.append(JournalRow(e.command_id, e.command, e.digest,  # type: ignore[attr-defined]
                                       _refs_encoder.encode(e.events)))  # type: ignore[attr-defined]
            return rows

        if not self.bulk.journal_is_empty():
            return None
        with schema_lock(self.store):
            filled = self.bulk.fill_journal(self.LEGACY_JOURNAL_TOPIC, to_rows)
        if filled:
            log.info("the command journal of %s was filled from %d HandledCommand event(s)", self.store, filled)
        return filled

    def construct_mapper(self) -> Mapper[UUID]:
        return MsgspecMapper(transcoder=self.factory.transcoder(), cipher=self.factory.cipher(),
                             compressor=self.factory.compressor())

    # ------------------------------------------------------------------ reading
    @property
    def _staged(self) -> dict[UUID, Aggregate | None] | None:
        """The aggregates of the command(s) being decided in this thread (``None``: known
        not to exist), or None outside a decision."""
        return getattr(self._thread, "staged", None)

    @_staged.setter
    def _staged(self, staged: dict[UUID, Aggregate | None] | None) -> None:
        self._thread.staged = staged

    @property
    def _assumed(self) -> dict[UUID, int]:
        """The versions of kept aggregates this thread's decision takes for granted
        without having read them; see :meth:`_load_for`."""
        return getattr(self._thread, "assumed", None) or {}

    @_assumed.setter
    def _assumed(self, assumed: dict[UUID, int]) -> None:
        self._thread.assumed = assumed

    @property
    def _journal(self) -> dict[str, JournalRow | None]:
        """The journal entries of the command ids this thread's decision handles (None:
        not handled, as read or as taken for granted), with those of the commands accepted
        so far in the batch under way."""
        journal: dict[str, JournalRow | None] | None = getattr(self._thread, "journal", None)
        if journal is None:
            journal = self._thread.journal = {}
        return journal

    @property
    def _unread(self) -> set[str]:
        """The command ids whose journal entry this thread's decision takes as absent without
        having read it (see :meth:`_load_for`)."""
        unread: set[str] | None = getattr(self._thread, "unread", None)
        if unread is None:
            unread = self._thread.unread = set()
        return unread

    @property
    def _taken_for_granted(self) -> bool:
        return bool(self._assumed or self._unread)

    def _get(self, aggregate_id: UUID) -> Aggregate:
        """An aggregate: from the decision under way (loading it into it), else from the store."""
        staged = self._staged
        if staged is None:
            return self.repository.get(aggregate_id)
        agg = staged.get(aggregate_id, _UNSTAGED)  # (one lookup: a UUID hashes in Python)
        if agg is _UNSTAGED:
            staged.update(self.load_many([aggregate_id]))
            agg = staged[aggregate_id]
        if agg is None:
            raise AggregateNotFoundError(aggregate_id)
        return agg  # type: ignore[return-value]

    def _release(self, staged: dict[UUID, Aggregate | None], written: bool) -> None:
        """Give a decision's aggregates back to the cache: all of them when what was decided
        is written (or nothing was), none when the write failed (they hold events that are
        not in the store, and the store has events they lack)."""
        if not written:
            return
        with self._cache_lock:
            for agg in staged.values():
                # Never one holding uncollected events (a refusal must leave none: every
                # check comes before any event; this keeps a slip from being remembered).
                if agg is not None and type(agg) in self.snapshot_every and not agg.pending_events:
                    self._cache[agg.id] = agg
                    self._cache.move_to_end(agg.id)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def load_many(self, ids: Iterable[UUID], unsnapshotted: Collection[UUID] = ()) -> dict[UUID, Aggregate | None]:
        """Reconstruct many aggregates in one read per 500 of them (``None`` for those not stored).

        An aggregate the cache holds is taken out of it (the decision owns it until
        :meth:`_release`) and brought up to date with the events recorded after its
        version, by this or another process; any other (but those of ``unsnapshotted``) is
        built from its latest snapshot, if it has one, and the events after it.  One query
        finds the snapshots, one the events: each aggregate's events after the version it
        starts from (:meth:`infra.event_store.BulkEventStore.read_after`).
        """
        wanted = list(dict.fromkeys(ids))
        out: dict[UUID, Aggregate | None] = dict.fromkeys(wanted)
        with self._cache_lock:
            for oid in wanted:
                out[oid] = self._cache.pop(oid, None)
        starts = {oid: (agg.version if agg is not None else 0) for oid, agg in out.items()}
        cold = [oid for oid in wanted if out[oid] is None and oid not in unsnapshotted]
        snapshots, events = self.bulk.read_after(starts, cold)
        to_event = self.mapper.to_domain_event
        for stored in snapshots:
            snap = to_event(stored)
            out[snap.originator_id] = snap.mutate(None)  # type: ignore[attr-defined]
        for stored in events:
            ev = to_event(stored)
            out[ev.originator_id] = ev.mutate(out.get(ev.originator_id))  # type: ignore[attr-defined]
        # An enterprise restored from a snapshot taken before it kept the indicators of its
        # yearly data (EnterpriseState.yearly_indicators is None) is folded from its events.
        stale = [oid for oid, agg in out.items() if isinstance(agg, Enterprise) and agg.yearly_indicators is None]
        if stale:
            _, events = self.bulk.read_after(dict.fromkeys(stale, 0))
            for oid in stale:
                out[oid] = None
            for stored in events:
                ev = to_event(stored)
                out[ev.originator_id] = ev.mutate(out.get(ev.originator_id))  # type: ignore[attr-defined]
        return out

    def enterprise(self, uscc: str) -> Enterprise:
        try:
            return self._get(enterprise_id(uscc))  # type: ignore[return-value]
        except AggregateNotFoundError:
            if len(uscc) == 18 and uscc_check_char(uscc[:17]) != uscc[17]:
                raise c.InputError("uscc", f"check character is {uscc[17]!r} but GB 32100-2015 gives "
                                           f"{uscc_check_char(uscc[:17])!r}") from None
            raise NotFound("identity", "enterprise.not_found", f"no enterprise {uscc} is registered",
                           field="uscc") from None

    def is_registered(self, uscc: str) -> bool:
        """Whether an enterprise of ``uscc`` is registered (in the decision under way, else in the store)."""
        try:
            self._get(enterprise_id(uscc))
        except AggregateNotFoundError:
            return False
        return True

    def group(self, group_uscc: str) -> Group | None:
        """The members of group ``group_uscc`` as the decision holds them, or None (no enterprise named it yet)."""
        try:
            return self._get(group_id(group_uscc))  # type: ignore[return-value]
        except AggregateNotFoundError:
            return None

    def sme_standard(self) -> SmeStandard:
        return self.sme

    def max_position(self) -> int:
        return self.recorder.max_notification_id() or 0

    # ------------------------------------------------------------------ writing
    def handle(self, cmd: c.Command) -> Outcome:
        """Decide and record one command (see the module docstring)."""
        digest = hashlib.sha256(c.encode_command(cmd)).hexdigest()
        trust, conflicts = True, 0
        while conflicts < self.max_attempts:
            staged = self._staged = self._load_for([cmd], trust)
            in_step = True  # the staged aggregates agree with the store (False once a write failed)
            try:
                try:
                    first = self._first_outcome(cmd, digest)
                    if first is not None:
                        return first
                    aggregates = self._decide(cmd)
                    events, outcome, journal = self._record_of(cmd, digest, aggregates)
                except (LedgerError, c.InputError):
                    self._check_assumed(cmd)
                    raise
                except BaseException:  # no rule's refusal: what was staged may be half-changed
                    in_step = False
                    raise
                self._check_assumed(cmd, events)
                snapshots = self._snapshots_due({agg.id: agg for agg in aggregates}, events)
                try:
                    self._put(events, [journal], snapshots)
                except IntegrityError:
                    in_step = False
                    if not self._taken_for_granted:  # a rival wrote in between what was read and the save
                        conflicts += 1
                        time.sleep(0.005 * conflicts)
                    raise _Stale from None
                except BaseException:
                    in_step = False
                    raise
                return outcome
            except _Stale:  # decide again on what the store holds, forgetting what was taken for granted
                trust, in_step = False, False
            finally:
                self._staged = None
                self._forget_journal()
                self._release(staged, in_step)
        raise Conflict("order", "conflict", f"command {cmd.command_id} kept meeting concurrent changes to the same "
                                            f"enterprise; nothing was written, send it again", field="uscc")

    def _check_assumed(self, cmd: c.Command, events: list[Any] | None = None) -> None:
        """Raise :class:`_Stale` unless the store holds what this decision took for granted
        and its save will not check (:meth:`_unconfirmed`)."""
        self._confirm([self._unconfirmed(cmd, events)])

    def _unconfirmed(self, cmd: c.Command,
                     events: list[Any] | None = None) -> tuple[str | None, tuple[UUID, int] | None]:
        """What a decision of ``cmd`` took for granted that its save will not check: for a
        refusal (``events`` None), the command's journal entry (absent: its id) and its
        enterprise's version; for an accepted command, the version of an enterprise it did
        not change (the journal row's absence is checked by the save: its command id is the
        table's primary key).  ``(None, None)``: nothing."""
        cid = cmd.command_id if events is None and cmd.command_id in self._unread else None
        assumed = self._assumed
        if not assumed or not isinstance(cmd, c.EnterpriseCommand):
            return cid, None
        eid = enterprise_id(cmd.uscc)
        version = assumed.get(eid)
        if version is not None and (events is None or all(e.originator_id != eid for e in events)):
            return cid, (eid, version)
        return cid, None

    def _confirm(self, unconfirmed: list[tuple[str | None, tuple[UUID, int] | None]]) -> None:
        """Raise :class:`_Stale` unless the store holds what :meth:`_unconfirmed` listed: no
        journal entry of those command ids, those versions of those enterprises (one read
        of each, for a whole batch: the store is not written before its save)."""
        ids = [cid for cid, _ in unconfirmed if cid is not None]
        if ids and self.bulk.journal_entries(ids):
            raise _Stale
        versions = dict(v for _, v in unconfirmed if v is not None)
        if versions and self.stored_versions(list(versions)) != versions:
            raise _Stale

    def stored_versions(self, ids: list[UUID]) -> dict[UUID, int]:
        """The latest stored version of each of ``ids`` that has any event, in one read."""
        return self.bulk.stored_versions(ids)

    def _put(self, events: list[Any], journal: list[JournalRow], snapshots: Sequence[StoredEvent] = ()) -> None:
        """Record new events, the journal rows of their commands and the snapshots they made
        due (:meth:`_snapshots_due`) in one transaction.  The recorder directly
        (:meth:`infra.event_store.BulkEventStore.insert`), rather than ``self.save`` (which
        checks each event against the library's runtime protocols, a slow ``isinstance`` on
        a Protocol, only to find it an event) or ``self.events.put`` (which builds a
        recording and a notification of each, for the application's followers): nothing
        here follows them."""
        to_stored = self.mapper.to_stored_event
        self.bulk.insert([to_stored(e) for e in events], journal, snapshots)

    def _load_for(self, cmds: list[c.Command], trust: bool) -> dict[UUID, Aggregate | None]:
        """The enterprises a batch of commands reads; their journal entries go to :attr:`_journal`.

        With ``trust``, the enterprises kept from earlier commands are taken as they are
        (their versions go to :attr:`_assumed`) and the journal entries as absent (their
        ids to :attr:`_unread`), without a read; the other enterprises are read.  Without,
        everything is read from the store, the kept enterprises only brought up to date,
        the journal entries in one read after the enterprises (so that a rival's command
        whose events were read is found handled, not decided again on its own events).
        """
        ids = list(dict.fromkeys(cmd.command_id for cmd in cmds))
        ents = list(dict.fromkeys(enterprise_id(cmd.uscc) for cmd in cmds if isinstance(cmd, c.EnterpriseCommand)))
        if not trust:
            self._assumed = {}
            self._thread.unread = set()
            read = self.load_many(ents)
            found = self.bulk.journal_entries(ids)
            self._thread.journal = {cid: found.get(cid) for cid in ids}
            return read
        with self._cache_lock:
            kept = {e: self._cache.pop(e) for e in ents if e in self._cache}
        self._assumed = {e: agg.version for e, agg in kept.items()}
        self._thread.unread = set(ids)
        self._thread.journal = dict.fromkeys(ids)
        staged: dict[UUID, Aggregate | None] = dict(kept)
        rest = [e for e in ents if e not in kept]
        if rest:
            staged.update(self.load_many(rest))
        return staged

    def _forget_journal(self) -> None:
        self._thread.journal = None
        self._thread.unread = None

    def handle_many(self, cmds: Iterable[c.Command],
                    on_result: Callable[[c.Command, Outcome | LedgerError], None] | None = None,
                    batch_size: int = 200) -> dict[str, int]:
        """Handle commands in order; a refusal does not stop the batch.  Returns counts.

        Commands are decided ``batch_size`` at a time against aggregates loaded with one
        query, exactly as one by one (each sees the events of those before it), and the
        accepted ones are saved in one transaction.  That is safe because a batch is all
        or nothing: if another writer changed one of its aggregates in between, the save
        conflicts, nothing of the batch is written, and its commands are handled again one
        by one (each retried against the new versions as :meth:`handle` does).

        One command never costs another its outcome: if deciding or writing one fails for
        a reason that is no rule's, the batch is decided again one by one and that command
        alone gets :class:`DecisionFailed`.  Only a store that cannot be reached
        (:data:`STORE_UNAVAILABLE`) fails the whole batch, since it fails every command.
        """
        counts = {"accepted": 0, "repeated": 0, "refused": 0}
        chunk: list[c.Command] = []

        def flush() -> None:
            for cmd, result in self._handle_batch(chunk):
                if isinstance(result, Outcome):
                    counts["repeated" if result.repeated else "accepted"] += 1
                else:
                    counts["refused"] += 1
                if on_result:
                    on_result(cmd, result)
            chunk.clear()

        for cmd in cmds:
            chunk.append(cmd)
            if len(chunk) >= batch_size:
                flush()
        if chunk:
            flush()
        return counts

    def _handle_batch(self, cmds: list[c.Command]) -> list[tuple[c.Command, Outcome | LedgerError]]:
        """A batch decided on what it takes for granted, else on what it reads, else (it met
        a concurrent writer) one command at a time."""
        for trust in (True, False):
            try:
                results = self._decide_batch(cmds, trust)
            except _Stale:
                continue
            except _Isolate:
                break
            if results is not None:
                return results
            break
        return [(cmd, self._handle_or_refusal(cmd)) for cmd in cmds]

    def _decide_batch(self, cmds: list[c.Command],
                      trust: bool) -> list[tuple[c.Command, Outcome | LedgerError]] | None:
        """Decide a batch and save it in one transaction; None when the save conflicted."""
        staged = self._staged = self._load_for(cmds, trust)
        results: list[tuple[c.Command, Outcome | LedgerError]] = []
        pending: list[Any] = []
        journal_rows: list[JournalRow] = []
        unconfirmed: list[tuple[str | None, tuple[UUID, int] | None]] = []
        unsaved: dict[UUID, list[Any]] = {}  # the batch's events not stored yet, by aggregate (see _events_of)
        self._thread.unsaved = unsaved
        in_step = False  # the staged aggregates agree with the store: once the batch is written
        try:
            for cmd in cmds:
                digest = hashlib.sha256(c.encode_command(cmd)).hexdigest()
                try:
                    first = self._first_outcome(cmd, digest)
                    if first is not None:
                        results.append((cmd, first))
                        continue
                    aggregates = self._decide(cmd)
                    events, outcome, journal = self._record_of(cmd, digest, aggregates)
                except (LedgerError, c.InputError) as e:
                    unconfirmed.append(self._unconfirmed(cmd))
                    results.append((cmd, as_refusal(e)))
                    continue
                except STORE_UNAVAILABLE:
                    raise
                except Exception as e:  # the batch's staged aggregates may hold half a decision
                    raise _Isolate from e
                unconfirmed.append(self._unconfirmed(cmd, events))
                for e in events:
                    unsaved.setdefault(e.originator_id, []).append(e)
                for agg in aggregates:
                    staged[agg.id] = agg
                self._journal[cmd.command_id] = journal  # the same id again in this batch: repeated
                pending.extend(events)
                journal_rows.append(journal)
                results.append((cmd, outcome))
            # what the batch took for granted and its save will not check, read once for all
            # its commands (the store held it when they were decided if it holds it now)
            self._confirm(unconfirmed)
            if journal_rows:
                snapshots = self._snapshots_due({k: v for k, v in staged.items() if v is not None}, pending)
                try:
                    self._put(pending, journal_rows, snapshots)
                except IntegrityError:
                    if self._taken_for_granted:
                        raise _Stale from None
                    return None
                except STORE_UNAVAILABLE:
                    raise
                except Exception as e:  # a value the store refused: find whose, one by one
                    raise _Isolate from e
            in_step = True
        finally:
            self._staged = None
            self._thread.unsaved = None
            self._forget_journal()
            self._release(staged, in_step)
        return results

    def _snapshots_due(self, aggregates: dict[UUID, Aggregate], events: list[Any]) -> list[StoredEvent]:
        """The stored snapshot of each aggregate whose new ``events`` crossed a multiple of
        its interval, for :meth:`_put` to write with the events.  A cache: one that cannot
        be taken or encoded is left out (logged), and the next is taken at the next interval."""
        if self.snapshots is None:
            return []
        first_new: dict[UUID, int] = {}
        for e in events:
            first_new.setdefault(e.originator_id, e.originator_version)
        due = []
        for oid, first in first_new.items():
            agg = aggregates.get(oid)
            every = self.snapshot_every.get(type(agg)) if agg is not None else None
            if agg is not None and every and agg.version // every > (first - 1) // every:
                due.append(agg)
        try:
            return [self.mapper.to_stored_event(type(agg).Snapshot.take(agg)) for agg in due]
        except Exception:
            log.exception("could not take %d snapshot(s); the next is taken at the next interval", len(due))
            return []

    def _handle_or_refusal(self, cmd: c.Command) -> Outcome | LedgerError:
        try:
            return self.handle(cmd)
        except (LedgerError, c.InputError) as e:
            return as_refusal(e)  # type: ignore[return-value]
        except STORE_UNAVAILABLE:
            raise
        except Exception as e:
            return DecisionFailed.of(cmd, e)

    def _record_of(self, cmd: c.Command, digest: str,
                   aggregates: list[Aggregate]) -> tuple[list[Any], Outcome, JournalRow]:
        """The new events of ``aggregates``, the outcome naming them, and the journal row."""
        events = [e for agg in aggregates for e in agg.collect_events()]
        refs = [EventRef(event_id=event_id(e.originator_id, e.originator_version), aggregate_id=e.originator_id,
                         version=e.originator_version, type=type(e).__name__,
                         occurred_on=getattr(e, "occurred_on", None), recorded_at=e.timestamp)
                for e in events]
        name = c.command_name(cmd)
        journal = JournalRow(cmd.command_id, name, digest, _refs_encoder.encode(refs))
        return events, Outcome(command_id=cmd.command_id, command=name, events=refs), journal

    def _first_outcome(self, cmd: c.Command, digest: str) -> Outcome | None:
        """The first outcome of ``cmd``'s command id, if it was handled (``repeated``);
        ``command_id.reused`` if it was handled for a different command."""
        journal = self._journal
        if cmd.command_id not in journal:
            journal[cmd.command_id] = self.handled([cmd.command_id]).get(cmd.command_id)
        j = journal[cmd.command_id]
        if j is None:
            return None
        if j.digest != digest:
            raise RuleViolation("identity", "command_id.reused",
                                f"command id {cmd.command_id!r} was used for a different {j.command} command",
                                field="command_id")
        return Outcome(command_id=j.command_id, command=j.command, events=_refs_decoder.decode(j.events),
                       repeated=True)

    def handled(self, command_ids: list[str]) -> dict[str, JournalRow]:
        """The journal entries of those of ``command_ids`` that were accepted, in one read per 500."""
        return self.bulk.journal_entries(command_ids)

    def in_force(self, programme: str, on: date, region: str | None = None) -> Programme:
        """The rule version of ``programme`` in force on business date ``on``, for an
        enterprise in ``region`` with the provincial overrides laid over it."""
        return self.policy.in_force(programme, on, region)

    def reviewing(self, programme: str, tier: str, on: date, region: str | None = None) -> Programme:
        """The rule version that judges a review of a ``tier`` designation on ``on`` for an
        enterprise in ``region`` (PolicyBook.reviewing)."""
        return self.policy.reviewing(programme, tier, on, region)

    def check_known(self, programme: str, tier: str | None = None, scheme: str | None = None,
                    chain: str | None = None, recognition: str | None = None) -> None:
        """Malformed-input checks against the policy book as a whole (any version)."""
        versions = self.policy.versions(programme)
        if not versions:
            raise c.InputError("programme", f"unknown programme {programme!r} (known: {self.policy.programme_ids()})")
        if tier is not None and all(tier not in {t.id for t in v.tiers} for v in versions):
            known = sorted({t.id for v in versions for t in v.tiers})
            raise c.InputError("tier", f"unknown tier {tier!r} in programme {programme!r} (known: {known})")
        if scheme is not None and all(scheme not in {s.id for s in v.schemes} for v in versions):
            known = sorted({s.id for v in versions for s in v.schemes})
            raise c.InputError("scheme", f"unknown scheme {scheme!r} in programme {programme!r} (known: {known})")
        if chain is not None and all(chain not in {x.id for x in v.chains} for v in versions):
            known = sorted({x.id for v in versions for x in v.chains})
            raise c.InputError("chain", f"unknown chain {chain!r} in programme {programme!r} (known: {known})")
        if recognition is not None and all(recognition not in {x.id for x in v.recognitions} for v in versions):
            known = sorted({x.id for v in versions for x in v.recognitions})
            raise c.InputError("recognition", f"unknown recognition {recognition!r} in programme {programme!r} "
                                              f"(known: {known})")

    # ------------------------------------------------------------------ deciding on the facts of the command's date
    # Commands whose event changes which designations are valid, or the facts later decisions
    # are judged on: a backdated one cannot stand before later applications, recommendations or
    # rewards, which were judged without it.
    _CHANGES_VALIDITY: ClassVar[tuple[type, ...]] = (c.Approve, c.Review, c.Revoke, c.Annul, c.Reconfirm)
    _CHANGED_ATTRIBUTE: ClassVar[dict[str, str]] = {"rename": "name", "relocation": "region", "listing": "listed",
                                                    "delisting": "listed"}

    def _decide(self, cmd: c.Command) -> list[Aggregate]:
        """Decide ``cmd`` on the facts of its own date (the time rule, README "The rules").

        The state of an enterprise on date d is the fold, in ledger order, of its events
        dated on or before d.  A command dated on or after every event of its enterprise (the
        usual case) is decided on the aggregate as it stands, with no extra read.  A
        *backdated* one, dated before facts already recorded, is decided on
        :meth:`Enterprise.as_of` its date: a refusal there is the answer, with its own code.
        Accepted there, it is recorded only if it also stands with the later facts; otherwise
        it is refused with ``order.contradicts_later`` (:meth:`_decide_backdated`).
        """
        if isinstance(cmd, c.EnterpriseCommand) and not isinstance(cmd, c.Register):
            try:
                ent: Enterprise = self._get(enterprise_id(cmd.uscc))  # type: ignore[assignment]
            except AggregateNotFoundError:
                pass  # refused below, as always
            else:
                if ent.dated_to is None or ent.dated_to > cmd.occurred_on:
                    return self._decide_backdated(cmd, ent)
        return self._decide_now(cmd)

    def _decide_backdated(self, cmd: c.EnterpriseCommand, ent: Enterprise) -> list[Aggregate]:
        """Decide a command dated before some of its enterprise's events.

        1. On the enterprise as of the command's date (``Enterprise.as_of``); a refusal is
           the answer.  Scheme budgets are judged on the whole year: every grant of the year
           counts, whatever its date (a yearly budget is spent when it is spent).
        2. Then on a copy of the enterprise as it stands: the command must be accepted there
           too and trigger the same events (same payloads), and no later-dated fact may be of
           the same process (:meth:`_later_fact`).  Otherwise ``order.contradicts_later``:
           the command is refused rather than recorded against facts it would contradict.
        3. The copies that decided step 2 become the decision's aggregates.
        """
        events = self._events_of(ent)
        later = [e for e in events if e.occurred_on > cmd.occurred_on]
        if not later:  # dated_to unknown (a snapshot older than it) and in fact not backdated
            return self._decide_now(cmd)
        budgets = self._budgets_of(cmd, ent) + self._groups_of(cmd, ent)

        def as_it_stands() -> dict[UUID, Aggregate | None]:
            return {ent.id: copy.deepcopy(ent), **{b.id: copy.deepcopy(b) for b in budgets}}

        try:
            with self._standing_in({ent.id: Enterprise.as_of(events, cmd.occurred_on),
                                    **{b.id: copy.deepcopy(b) for b in budgets}}):
                then = [self._payload(e) for agg in self._decide_now(cmd) for e in agg.pending_events]
        except NotFound as missing:
            # What the command names did not exist yet on its date: refused as it would have been
            # then (the same code, so a resubmission keeps it); the message says if it exists now.
            with self._standing_in(as_it_stands()):
                try:
                    self._decide_now(cmd)
                except NotFound as e:
                    if e.code == missing.code:
                        raise missing from None
                except LedgerError:
                    pass
            raise NotFound(missing.rule, missing.code, f"{missing.message} on {cmd.occurred_on}; the record holds "
                                                       f"it from a later date", field=missing.field) from None
        now = as_it_stands()
        with self._standing_in(now):
            try:
                decided = self._decide_now(cmd)
            except LedgerError as e:
                raise self._contradiction(cmd, f"the record as it stands refuses it ({e.code}: {e.message})") from None
        if [self._payload(e) for agg in decided for e in agg.pending_events] != then:
            raise self._contradiction(cmd, "the record as it stands would record it differently")
        fact = self._later_fact(cmd, ent, later)
        if fact is not None:
            raise self._contradiction(cmd, fact)
        self._staged.update({agg.id: agg for agg in decided})  # type: ignore[union-attr]
        return decided

    @staticmethod
    def _payload(event: Any) -> tuple[str, dict[str, Any]]:
        """What an event records, but where and when it is stored: its type and fields."""
        return type(event).__name__, {k: v for k, v in vars(event).items()
                                      if k not in ("originator_id", "originator_version", "timestamp")}

    @staticmethod
    def _contradiction(cmd: c.Command, why: str) -> RuleViolation:
        return RuleViolation("order", "order.contradicts_later",
                             f"{c.command_name(cmd)} dated {cmd.occurred_on} is accepted on the facts of its date, "
                             f"but facts dated after it are recorded: {why}; send it with its real date, or "
                             f"correct the later facts first", field="occurred_on")

    def _later_fact(self, cmd: c.EnterpriseCommand, ent: Enterprise, later: list[Any]) -> str | None:
        """The first fact dated after ``cmd`` that belongs to the same process, described;
        None if there is none.  The same process: a step of an application on the same rung
        (programme, tier, product: applications are processes whose steps follow in time);
        after a command changing validity, an application, recommendation or reward (each
        judged on the designations valid on its date); a change report of the same
        attribute, and after a relocation anything (judged on the old region), after a
        listing or delisting a reward of a listing scheme; after a change report or yearly data,
        a review (rules 5 and 7: late data and late change reports forfeit it); a reward of the same scheme; a
        pool entry or exit of the same pool."""
        def rung(app_id: str | None) -> tuple[str, str, str | None] | None:
            a = ent.applications.get(app_id) if app_id else None
            return (a.programme, a.tier, a.product_id) if a else None

        def scheme_of(reward_id: str) -> tuple[str, str] | None:
            r = ent.rewards.get(reward_id)
            return (r.programme, r.scheme) if r else None

        def apps(e: Any) -> list[str]:
            ids = [getattr(e, "application_id", None), getattr(e, "new_application_id", None),
                   *getattr(e, "reconfirmation", ())]
            return [i for i in ids if i]

        mine = None
        if isinstance(cmd, c.Apply):
            mine = (cmd.programme, cmd.tier, cmd.product_id)
        elif isinstance(cmd, c.ApplicationCommand):
            mine = rung(cmd.application_id)
        attribute = self._CHANGED_ATTRIBUTE.get(cmd.kind) if isinstance(cmd, c.ReportChange) else None
        for e in later:
            kind = type(e).__name__
            what = f"{kind} dated {e.occurred_on}"
            if mine is not None and any(rung(i) == mine for i in apps(e)):
                return f"{what} of application {apps(e)[0]!r}, on the same rung {'/'.join(filter(None, mine))}"
            if isinstance(cmd, self._CHANGES_VALIDITY) and kind in ("Applied", "Recommended", "RewardGranted"):
                return f"{what}, judged on the designations valid on its date"
            if attribute == "region":
                return f"{what}, judged in region {ent.region}"
            if attribute is not None and kind == "ChangeReported" and self._CHANGED_ATTRIBUTE.get(e.kind) == attribute:
                return f"{what} changing the {attribute} too"
            if attribute == "listed" and kind in ("Applied", "Recommended"):
                return f"{what}, judged on the listing as it stood"
            if isinstance(cmd, c.FileYearlyData) and kind == "Reviewed":
                return f"{what}, judged on the yearly data filed by its date"
            if isinstance(cmd, c.ReportChange) and kind == "Reviewed":
                return f"{what}, judged on the change reports made by its date"
            if isinstance(cmd, (c.RecordCreditListing, c.RecordGroup)) and kind == "Recommended":
                return f"{what}, judged on the credit lists and the group as they stood"
            if attribute == "listed" and kind == "RewardGranted" and self._rests_on_listing(e):
                return f"{what} of listing scheme {e.programme}/{e.scheme}, judged on the listing as it stood"
            if isinstance(cmd, c.GrantReward) and kind in ("RewardGranted", "RewardClawedBack") \
                    and scheme_of(e.reward_id) == (cmd.programme, cmd.scheme):
                return f"{what} of the same scheme {cmd.programme}/{cmd.scheme}"
            if isinstance(cmd, (c.AdmitToPool, c.RemoveFromPool)) and kind in ("AdmittedToPool", "RemovedFromPool") \
                    and (e.programme, e.tier) == (cmd.programme, cmd.tier):
                return f"{what} of the same pool {cmd.programme}/{cmd.tier}"
        return None

    def _rests_on_listing(self, granted: Any) -> bool:
        """Whether the scheme of a ``RewardGranted`` event pays listed enterprises only."""
        try:
            return bool(self.in_force(granted.programme, granted.occurred_on).scheme(granted.scheme).listing_boards)
        except LedgerError:
            return False

    def _events_of(self, ent: Enterprise) -> list[Any]:
        """Every event of ``ent`` up to its version, in version order: the stored ones and
        those of earlier commands of the batch under way, not stored yet."""
        unsaved = (getattr(self._thread, "unsaved", None) or {}).get(ent.id, ())
        by_version = {e.originator_version: e for e in self.events.get(ent.id, lte=ent.version)}
        by_version.update((e.originator_version, e) for e in unsaved)
        if sorted(by_version) != list(range(1, ent.version + 1)):
            if self._assumed:  # the kept aggregate is not what the store holds: decide again on a read
                raise _Stale
            raise RuntimeError(f"enterprise {ent.id}: versions {sorted(by_version)} for version {ent.version}")
        return [by_version[v] for v in range(1, ent.version + 1)]

    def _budgets_of(self, cmd: c.EnterpriseCommand, ent: Enterprise) -> list[Aggregate]:
        """The stored scheme budget ``cmd`` would spend from or refund to, if any."""
        if isinstance(cmd, c.GrantReward):
            try:
                programme = self.in_force(cmd.programme, cmd.occurred_on)
                key, _ = programme.budget_of(programme.scheme(cmd.scheme))
            except (LedgerError, c.InputError, KeyError):
                return []  # refused in the decision, with its code
            bid = budget_id(cmd.programme, key, cmd.occurred_on.year)
        elif isinstance(cmd, c.ClawBack) and cmd.reward_id in ent.rewards:
            r = ent.rewards[cmd.reward_id]
            try:
                programme = self.in_force(r.programme, r.granted_on)
                key, _ = programme.budget_of(programme.scheme(r.scheme))
            except (LedgerError, KeyError):
                return []
            bid = budget_id(r.programme, key, r.granted_on.year)
        else:
            return []
        try:
            return [self._get(bid)]
        except AggregateNotFoundError:
            return []

    def _groups_of(self, cmd: c.EnterpriseCommand, ent: Enterprise) -> list[Aggregate]:
        """The stored groups a ``record_group`` would change (the one left, the one joined):
        decided on copies, like budgets, so the decision on the command's date leaves them untouched."""
        if not isinstance(cmd, c.RecordGroup):
            return []
        found = [self.group(u) for u in dict.fromkeys((ent.group_uscc, cmd.group_uscc)) if u is not None]
        return [g for g in found if g is not None]

    @contextmanager
    def _standing_in(self, stand_ins: dict[UUID, Aggregate | None]) -> Iterator[None]:
        """Let ``stand_ins`` take the place of the decision's aggregates of the same ids while
        the block runs (the originals come back after it, untouched)."""
        staged = self._staged
        assert staged is not None
        saved = {k: staged[k] for k in stand_ins}
        staged.update(stand_ins)
        try:
            yield
        finally:
            staged.update(saved)

    def _decide_now(self, cmd: c.Command) -> list[Aggregate]:
        """Decide ``cmd`` on the aggregates as the decision holds them: its handler
        (:data:`services.handlers.HANDLERS`), with this ledger as its context."""
        handler = HANDLERS.get(type(cmd))
        if handler is None:  # pragma: no cover - every command type has one (tests/unit/test_handlers.py)
            raise TypeError(f"no handler for {type(cmd).__name__}")
        return handler(cmd, self)

    def budget(self, programme: str, scheme: str, year: int, budget_fen: int | None,
               fund: bool = False) -> SchemeBudget:
        """The budget of ``scheme`` (a scheme's or a fund's key) for ``year`` as the decision
        holds it, or a new one opened with ``budget_fen`` (nothing is stored before the
        decision is saved)."""
        try:
            return self._get(budget_id(programme, scheme, year))  # type: ignore[return-value]
        except AggregateNotFoundError:
            return SchemeBudget.open(programme=programme, scheme=scheme, year=year, budget_fen=budget_fen, fund=fund)
