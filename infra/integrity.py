"""The tamper-evident log: a hash chain written with every event, and a Merkle tree over it.

For each stored event, in the same transaction as the event itself, the recorder writes
a row of ``<events table>_chain``:

- ``leaf  = SHA-256(0x00 || record)``, the RFC 6962 leaf hash of the record's canonical
  bytes (:func:`record_bytes`: position, aggregate id, version, topic, then the stored
  state verbatim);
- ``chain = SHA-256(previous chain || leaf)``, starting from 32 zero bytes;
- ``recorded_at``, the ledger time, which bitemporal queries cut on.

The chain makes any change, removal, insertion or reordering show at the first position
it touches; the Merkle tree over the leaves (:mod:`infra.merkle`) gives a *head*
``(size, root)`` that an auditor writes down, an inclusion proof that one event is in the
ledger with that head, and a consistency proof that a later head extends it.  Whoever
could rewrite the database could rewrite the chain table too: that is why heads are
taken out of the database (exports, signed-off reports) and checked later.

>>> leaf = leaf_of(1, "8a6e0804-2bd0-4672-b79d-d97027f9071a", 1, "domain.enterprise:Enterprise.Registered", b"{}")
>>> leaf.hex()[:16], chain_next(GENESIS, leaf).hex()[:16]
('67294516e5bf785a', 'f59e99922a7114ab')
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

from infra.merkle import TreeBuilder, leaf_hash, root
from infra.store import read_rows, sql_table

GENESIS = bytes(32)


class _Stamp(msgspec.Struct):
    timestamp: str  # as stored: the text is the fast path


_stamp = msgspec.json.Decoder(_Stamp)


def record_bytes(position: int, originator_id: UUID | str, version: int, topic: str, state: bytes) -> bytes:
    """Canonical bytes of one stored record: every field the store keeps, unambiguously.

    >>> record_bytes(7, "8A6E08042BD04672B79DD97027F9071A", 2, "t", b"{}")
    b'7\\n8a6e0804-2bd0-4672-b79d-d97027f9071a\\n2\\nt\\n{}'
    """
    key = originator_id if isinstance(originator_id, UUID) else UUID(originator_id)  # the canonical text
    return f"{position}\n{key}\n{version}\n{topic}\n".encode() + bytes(state)


def leaf_of(position: int, originator_id: UUID | str, version: int, topic: str, state: bytes) -> bytes:
    return leaf_hash(record_bytes(position, originator_id, version, topic, state))


def chain_next(previous: bytes, leaf: bytes) -> bytes:
    return hashlib.sha256(previous + leaf).digest()


def utc_text(moment: datetime) -> str:
    """A fixed-width UTC form that sorts as text in time order (``2023-06-30T04:00:00.000000Z``).

    >>> utc_text(datetime.fromisoformat("2023-06-30T12:00:00+08:00"))
    '2023-06-30T04:00:00.000000Z'
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def recorded_at_of(state: bytes) -> str:
    """The ledger time inside a stored state (its ``timestamp``), as :func:`utc_text`.

    >>> recorded_at_of(b'{"timestamp":"2023-06-30T04:00:00.000001Z","x":1}')
    '2023-06-30T04:00:00.000001Z'
    >>> recorded_at_of(b'{"timestamp":"2023-06-30T12:00:00+08:00"}')
    '2023-06-30T04:00:00.000000Z'
    """
    try:
        text = _stamp.decode(state).timestamp
        if len(text) == 27 and text[-1] == "Z" and text[19] == ".":  # already the form: as msgspec writes UTC
            return text
        return utc_text(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except (msgspec.DecodeError, ValueError):
        return ""


_STAMP_HEAD = b'{"timestamp":"'  # how a state written by infra.mapper begins (its first field)


def chain_rows(previous: bytes, positions: Sequence[int], events: Sequence[StoredEvent]) -> list[tuple[Any, ...]]:
    """The chain rows of ``events`` stored at ``positions``, after the chain value ``previous``:
    :func:`leaf_of`, :func:`chain_next` and :func:`recorded_at_of` of each, computed inline
    (they run for every event written).

    >>> from uuid import UUID
    >>> e = StoredEvent(originator_id=UUID(int=1), originator_version=1, topic="t",
    ...                 state=b'{"timestamp":"2023-06-30T04:00:00.000001Z","x":"a\\"b"}')
    >>> f = StoredEvent(originator_id=UUID(int=1), originator_version=2, topic="t",
    ...                 state=b'{"timestamp":"2023-06-30T12:00:00+08:00"}')
    >>> rows = chain_rows(GENESIS, [1, 2], [e, f])
    >>> [r[1] for r in rows] == [leaf_of(1, UUID(int=1), 1, "t", e.state), leaf_of(2, UUID(int=1), 2, "t", f.state)]
    True
    >>> rows[1][2] == chain_next(chain_next(GENESIS, rows[0][1]), rows[1][1]), [r[3] for r in rows]
    (True, ['2023-06-30T04:00:00.000001Z', '2023-06-30T04:00:00.000000Z'])
    """
    rows = []
    sha256 = hashlib.sha256
    for position, e in zip(positions, events, strict=True):
        state = bytes(e.state)
        key = e.originator_id if isinstance(e.originator_id, UUID) else UUID(e.originator_id)
        leaf = sha256(b"\x00" + f"{position}\n{key}\n{e.originator_version}\n{e.topic}\n".encode() + state).digest()
        previous = sha256(previous + leaf).digest()
        # the timestamp as msgspec writes a UTC one, first in the state: read without decoding the rest
        if state.startswith(_STAMP_HEAD) and state[41:42] == b'"' and state[40:41] == b"Z" and state[33:34] == b".":
            stamp = state[14:41].decode("ascii", "replace")
        else:
            stamp = recorded_at_of(state)
        rows.append((position, leaf, previous, stamp))
    return rows


class ChainedSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    """The library's SQLite recorder, plus the chain row of each event in the same transaction."""

    @property
    def chain_table(self) -> str:
        return f"{self.events_table_name}_chain"

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(),
                f"CREATE TABLE IF NOT EXISTS {self.chain_table} (position INTEGER PRIMARY KEY, leaf BLOB NOT NULL, "
                f"chain BLOB NOT NULL, recorded_at TEXT NOT NULL)",
                f"CREATE INDEX IF NOT EXISTS {self.chain_table}_recorded ON {self.chain_table} (recorded_at)"]

    def _insert_events(self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if not stored_events:
            return []
        # One executemany instead of the library's execute per event (for each lastrowid).
        # The transaction holds SQLite's only write lock from the first insert on, and a row
        # inserted without a rowid gets one more than the largest in the table: the rows
        # of one statement are numbered consecutively up to last_insert_rowid().
        c.executemany(self.insert_events_statement,
                      [(s.originator_id.hex if isinstance(s.originator_id, UUID) else s.originator_id,
                        s.originator_version, s.topic, s.state) for s in stored_events])
        c.execute("SELECT last_insert_rowid()")
        last = int(c.fetchone()[0])
        ids = list(range(last - len(stored_events) + 1, last + 1))
        if ids:
            c.execute(f"SELECT chain FROM {self.chain_table} ORDER BY position DESC LIMIT 1")
            row = c.fetchone()
            previous = bytes(row["chain"]) if row else GENESIS
            c.executemany(f"INSERT INTO {self.chain_table} VALUES (?, ?, ?, ?)",
                          chain_rows(previous, ids, stored_events))
        return ids


class ChainedPostgresApplicationRecorder(PostgresApplicationRecorder):
    """The library's PostgreSQL recorder, plus the chain rows, inside its locked insert."""

    @property
    def chain_table(self) -> str:
        return f"{self.events_table_name}_chain"

    def __init__(self, datastore: Any, *, events_table_name: str = "stored_events"):
        from psycopg.sql import SQL, Identifier

        super().__init__(datastore, events_table_name=events_table_name)
        schema, table = Identifier(self.datastore.schema), Identifier(self.chain_table)
        self.sql_create_statements.append(SQL(
            "CREATE TABLE IF NOT EXISTS {schema}.{table} (position bigint PRIMARY KEY, leaf bytea NOT NULL, "
            "chain bytea NOT NULL, recorded_at text NOT NULL)").format(schema=schema, table=table))
        self.sql_create_statements.append(SQL(
            "CREATE INDEX IF NOT EXISTS {index} ON {schema}.{table} (recorded_at)").format(
            index=Identifier(f"{self.chain_table}_recorded"), schema=schema, table=table))

    def _fetch_ids_after_insert_events(self, curs: Any, stored_events: Sequence[StoredEvent],
                                       **kwargs: Any) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        if ids:
            table = f'"{self.datastore.schema}"."{self.chain_table}"'
            # The events table is locked (EXCLUSIVE) by this transaction: chain rows follow in order.
            curs.execute(f"SELECT chain FROM {table} ORDER BY position DESC LIMIT 1")
            row = curs.fetchone()
            previous = bytes(row["chain"]) if row else GENESIS
            curs.executemany(f"INSERT INTO {table} VALUES (%s, %s, %s, %s)",
                             chain_rows(previous, list(ids), stored_events))
        return ids



# ---------------------------------------------------------------------------- reading the chain
class ChainRow(msgspec.Struct, frozen=True):
    position: int
    leaf: bytes
    chain: bytes
    recorded_at: str


def _chain_table(ledger: Any) -> str:
    return sql_table(ledger.recorder, f"{ledger.recorder.events_table_name}_chain")


def select_chain(ledger: Any, after: int, limit: int, upto: int | None = None) -> list[ChainRow]:
    """Chain rows with ``after < position (<= upto)``, in position order."""
    select = f"SELECT position, leaf, chain, recorded_at FROM {_chain_table(ledger)} WHERE position > ?"
    if upto is None:
        rows = read_rows(ledger.recorder, f"{select} ORDER BY position LIMIT ?", (after, limit))
    else:
        rows = read_rows(ledger.recorder, f"{select} AND position <= ? ORDER BY position LIMIT ?", (after, upto, limit))
    return [ChainRow(int(p), bytes(lf), bytes(ch), str(ra)) for p, lf, ch, ra in rows]


def position_recorded_by(ledger: Any, recorded_at: str) -> int:
    """The last ledger position recorded at or before ledger time ``recorded_at`` (ISO 8601)."""
    rows = read_rows(ledger.recorder, f"SELECT MAX(position) FROM {_chain_table(ledger)} WHERE recorded_at <= ?",
                     (recorded_at,))
    return int(rows[0][0] or 0)


def positions_of(ledger: Any, originator_id: UUID) -> list[int]:
    """The ledger positions of one aggregate's events, in version order (the events table's
    key finds them: no scan)."""
    key: UUID | str = originator_id
    if isinstance(ledger.recorder, PostgresApplicationRecorder):
        sql = "SELECT notification_id FROM {} WHERE originator_id = ? ORDER BY originator_version"
    else:  # the notification id is the row id; the key is stored as 32 hex digits (_insert_events)
        sql, key = "SELECT rowid FROM {} WHERE originator_id = ? ORDER BY originator_version", originator_id.hex
    return [int(r[0]) for r in read_rows(ledger.recorder, sql.format(sql_table(ledger.recorder)), (key,))]


def chain_before(ledger: Any, position: int) -> bytes:
    rows = read_rows(ledger.recorder, f"SELECT chain FROM {_chain_table(ledger)} WHERE position < ? "
                                      f"ORDER BY position DESC LIMIT 1", (position,))
    return bytes(rows[0][0]) if rows else GENESIS


def all_leaves(ledger: Any, upto: int | None = None, batch: int = 20000) -> tuple[list[bytes], list[int]]:
    """Every chain leaf in position order, with its position (the Merkle tree's leaves)."""
    leaves: list[bytes] = []
    positions: list[int] = []
    after = 0
    while True:
        rows = select_chain(ledger, after, batch, upto)
        if not rows:
            return leaves, positions
        leaves.extend(r.leaf for r in rows)
        positions.extend(r.position for r in rows)
        after = rows[-1].position


# ---------------------------------------------------------------------------- verifying a store
class Finding(msgspec.Struct, frozen=True):
    """One thing wrong, at one position."""

    position: int
    problem: str  # altered | missing | unchained | chain_broken
    detail: str


class Head(msgspec.Struct, frozen=True):
    """What an auditor writes down: the tree size, its root, the last chain hash."""

    size: int
    root: str
    chain: str
    position: int


class Verification(msgspec.Struct, frozen=True):
    ok: bool
    checked: int
    head: Head
    first_bad: Finding | None
    findings: list[Finding]
    findings_total: int


def verify_store(ledger: Any, batch: int = 5000, max_findings: int = 100,
                 progress: Any = None) -> Verification:
    """Recompute every leaf and the whole chain from the stored events and compare.

    Merge-joins the events (in position order) with the chain rows: an event without a
    chain row was inserted outside the ledger; a chain row without its event means the
    event was removed; a leaf that differs means the record was changed (or swapped with
    another); a chain hash that differs while the leaves agree means the chain table
    itself was edited.
    """
    findings: list[Finding] = []
    total = 0
    tree = TreeBuilder()
    running = GENESIS
    checked = 0
    last_position = 0
    ev_after = ch_after = 0
    events: list[Any] = []
    chains: list[ChainRow] = []
    head_total = ledger.max_position()

    def add(f: Finding) -> None:
        nonlocal total
        total += 1
        if len(findings) < max_findings:
            findings.append(f)

    while True:
        if not events:
            events = list(ledger.recorder.select_notifications(start=ev_after + 1, limit=batch))
            if events:
                ev_after = events[-1].id
        if not chains:
            chains = select_chain(ledger, ch_after, batch)
            if chains:
                ch_after = chains[-1].position
        if not events and not chains:
            break
        e = events[0] if events else None
        r = chains[0] if chains else None
        if r is None or (e is not None and e.id < r.position):
            assert e is not None
            add(Finding(e.id, "unchained", f"event {e.topic} of {e.originator_id} v{e.originator_version} has no "
                                           f"chain entry: it was inserted outside the ledger"))
            leaf = leaf_of(e.id, e.originator_id, e.originator_version, e.topic, e.state)
            tree.append(leaf)
            events.pop(0)
            last_position = e.id
        elif e is None or r.position < e.id:
            add(Finding(r.position, "missing", "the event recorded at this position is gone (deleted)"))
            running = chain_next(running, r.leaf)
            if running != r.chain:
                add(Finding(r.position, "chain_broken", "chain hash differs from the recomputed one"))
                running = r.chain
            chains.pop(0)
        else:
            leaf = leaf_of(e.id, e.originator_id, e.originator_version, e.topic, e.state)
            if leaf != r.leaf:
                add(Finding(e.id, "altered", f"the stored record ({e.topic} of {e.originator_id} "
                                             f"v{e.originator_version}) differs from what was recorded: changed, "
                                             f"or swapped with another row"))
            running = chain_next(running, r.leaf)
            if running != r.chain:
                add(Finding(e.id, "chain_broken", "chain hash differs from the one recomputed from the leaves "
                                                  "before it: the chain table was edited"))
                running = r.chain
            tree.append(leaf)
            last_position = e.id
            events.pop(0)
            chains.pop(0)
        checked += 1
        if progress and checked % 5000 == 0:
            progress(min(checked, head_total), head_total)
    for f in verify_snapshots(ledger):
        add(f)
    findings.sort(key=lambda f: f.position)
    head = Head(size=tree.size, root=tree.root().hex(), chain=running.hex(), position=last_position)
    return Verification(ok=total == 0, checked=checked, head=head, first_bad=findings[0] if findings else None,
                        findings=findings, findings_total=total)


def stored_head(ledger: Any, upto: int | None = None) -> Head:
    """The head as the chain table records it (no recomputation of the events)."""
    leaves, positions = all_leaves(ledger, upto)
    chain = chain_before(ledger, (positions[-1] + 1) if positions else 1)
    return Head(size=len(leaves), root=root(leaves).hex(), chain=chain.hex(),
                position=positions[-1] if positions else 0)


# ---------------------------------------------------------------------------- snapshots
def verify_snapshots(ledger: Any, max_findings: int = 100) -> list[Finding]:
    """Snapshots are a cache outside the chain: check each against a replay of the chained
    events up to its version, so a doctored snapshot cannot steer decisions unseen."""
    from eventsourcing.persistence import StoredEvent

    if ledger.snapshots is None:
        return []
    rows = read_rows(ledger.recorder, f"SELECT originator_id, originator_version, topic, state FROM "
                                      f"{sql_table(ledger.snapshots.recorder)} ORDER BY originator_id, "
                                      f"originator_version", ())
    findings: list[Finding] = []
    for oid, version, topic, state in rows:
        oid = oid if isinstance(oid, UUID) else UUID(str(oid))
        try:
            snapshot = ledger.mapper.to_domain_event(StoredEvent(oid, int(version), topic, bytes(state)))
            from_snapshot = snapshot.mutate(None)
        except Exception as e:  # undecodable: as bad as wrong
            findings.append(Finding(0, "snapshot_mismatch", f"snapshot of {oid} v{version} does not decode: {e}"))
            continue
        replayed = None
        try:
            for ev in ledger.events.get(oid, lte=int(version)):
                replayed = ev.mutate(replayed)
        except Exception:  # its events do not replay (one deleted, or altered):
            continue  # what is wrong is in the events, and the check of the events names it
        if replayed is None or vars(replayed) != vars(from_snapshot):
            findings.append(Finding(0, "snapshot_mismatch",
                                    f"snapshot of {oid} at version {version} differs from a replay of its events"))
        if len(findings) >= max_findings:
            break
    return findings
