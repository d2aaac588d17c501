"""Verifiable exports and proofs: what an auditor takes away and checks offline.

An export is a folder with ``events.jsonl`` (one stored record per line, its state
verbatim, with the leaf and chain hashes the ledger recorded) and ``manifest.json``
(count, range, the chain hash before the first record, the head, the policy versions
the events were judged by, the tool version).  :func:`verify_bundle` needs nothing but
the folder: no store, no NATS, no network.  It recomputes every leaf from the record and
the chain from the manifest's starting hash, so an export taken after someone changed,
deleted, swapped or forged a row shows the first position where it happened; and, for an
export from the first event, it recomputes the Merkle root and compares it with the head
the auditor wrote down.

An inclusion proof (``cultivation audit prove``) is one JSON object: a head ``{size,
root}`` and, per event, the record, its leaf index and the RFC 6962 audit path.  A
consistency proof (``cultivation audit consistency --old-root … --out``) is another: the
old head the auditor kept, the ledger's head now and the RFC 6962 consistency proof
between them.  :func:`read_proof` decodes either (a file that is neither is bad input,
naming the field), :func:`verify_proof` checks it with nothing but the file.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import msgspec

from domain.enterprise import event_id
from infra.integrity import (
    GENESIS,
    Finding,
    Head,
    all_leaves,
    chain_before,
    chain_next,
    leaf_of,
    select_chain,
)
from infra.merkle import TreeBuilder, consistency_proof, inclusion_proof, root, verify_consistency, verify_inclusion

FORMAT = "cultivation-ledger-export/1"
PROOF_FORMAT = "cultivation-ledger-proof/1"
CONSISTENCY_FORMAT = "cultivation-ledger-consistency/1"
TOOL_VERSION = "cultivation-ledger 0.1.0"


class Record(msgspec.Struct, frozen=True, kw_only=True):
    """One line of ``events.jsonl``."""

    position: int
    event_id: UUID
    aggregate_id: UUID
    version: int
    topic: str
    state: msgspec.Raw
    leaf: str | None  # as recorded by the ledger (None: the row had no chain entry)
    chain: str | None


class Manifest(msgspec.Struct, frozen=True, kw_only=True):
    format: str
    tool_version: str
    created_at: str
    store: str
    from_position: int
    to_position: int
    count: int
    first_leaf_index: int
    previous_chain: str
    head: Head  # of the tree over leaves 0 .. the last exported one
    policy_versions: list[str]
    policy_files: dict[str, str]
    events_sha256: str


class BundleCheck(msgspec.Struct, frozen=True):
    ok: bool
    count: int
    head: Head | None
    first_bad: Finding | None
    problems: list[str]


_rec_enc = msgspec.json.Encoder()
_rec_dec = msgspec.json.Decoder(Record)


class _Policy(msgspec.Struct):
    policy: str | None = None


_policy_dec = msgspec.json.Decoder(_Policy)


EXPORT_FILES = ("events.jsonl", "manifest.json")


def export(ledger: Any, out: Path, from_position: int = 1, to_position: int | None = None,
           batch: int = 5000, progress: Any = None, force: bool = False) -> Manifest:
    """Write ``events.jsonl`` and ``manifest.json`` for positions ``from..to`` into ``out``.

    The folder's files are written by the rules of :mod:`infra.files`: an existing one
    only with ``force``, never through a symbolic link, never over the ledger's files
    (:class:`infra.files.OutputError` before anything is written)."""
    from infra.files import output_file, output_folder
    from infra.policy_files import SHIPPED
    from infra.store import describe, ledger_files

    protect = ledger_files(ledger.store)
    out = output_folder(out, EXPORT_FILES, force=force, protect=protect)
    last = ledger.max_position() if to_position is None else min(to_position, ledger.max_position())
    leaves, positions = all_leaves(ledger)
    first_index = next((i for i, p in enumerate(positions) if p >= from_position), len(positions))
    previous = chain_before(ledger, from_position)
    policies: set[str] = set()
    digest = hashlib.sha256()
    count = 0
    last_exported = 0
    after = from_position - 1
    with output_file(out / "events.jsonl", force=force, protect=protect, mode="wb") as f:
        while after < last:
            notes = ledger.recorder.select_notifications(start=after + 1, limit=batch, stop=last)
            if not notes:
                break
            chains = {r.position: r for r in select_chain(ledger, after, batch * 2, notes[-1].id)}
            for n in notes:
                r = chains.get(n.id)
                line = _rec_enc.encode(Record(
                    position=n.id, event_id=event_id(n.originator_id, n.originator_version),
                    aggregate_id=n.originator_id, version=n.originator_version, topic=n.topic,
                    state=msgspec.Raw(n.state), leaf=r.leaf.hex() if r else None,
                    chain=r.chain.hex() if r else None)) + b"\n"
                f.write(line)
                digest.update(line)
                p = _policy_dec.decode(n.state).policy
                if p:
                    policies.add(p)
                count += 1
                last_exported = n.id
            after = notes[-1].id
            if progress:
                progress(after - from_position + 1, last - from_position + 1)
    upto = [i for i, p in enumerate(positions) if p <= last_exported]
    size = (upto[-1] + 1) if upto else 0
    head_chain = chain_before(ledger, last_exported + 1) if last_exported else previous
    head = Head(size=size, root=root(leaves[:size]).hex(), chain=head_chain.hex(), position=last_exported)
    manifest = Manifest(
        format=FORMAT, tool_version=TOOL_VERSION, created_at=datetime.now(UTC).isoformat(),
        store=describe(ledger.store), from_position=from_position, to_position=last_exported, count=count,
        first_leaf_index=first_index, previous_chain=previous.hex(), head=head, policy_versions=sorted(policies),
        policy_files={p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(SHIPPED.glob("*.toml"))},
        events_sha256=digest.hexdigest())
    with output_file(out / "manifest.json", force=force, protect=protect, mode="wb") as f:
        f.write(msgspec.json.format(msgspec.json.encode(manifest), indent=2) + b"\n")
    return manifest


class NotABundle(ValueError):
    """The path given to :func:`verify_bundle` is not an export folder (bad input, not a finding)."""


def parse_root(text: str) -> bytes:
    """A Merkle root as written down: 64 hex digits (a SHA-256).

    >>> parse_root("AB" * 32) == bytes([0xab]) * 32
    True
    >>> parse_root("abcd")
    Traceback (most recent call last):
    ValueError: 'abcd' is not a root: a root is 64 hex digits (SHA-256), as `cultivation audit head` prints it
    """
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) != 32 or len(text) != 64:
        raise ValueError(f"{text!r} is not a root: a root is 64 hex digits (SHA-256), as `cultivation audit head` "
                         f"prints it")
    return value


def parse_head(text: str) -> tuple[int | None, bytes]:
    """``ROOT`` or ``SIZE:ROOT`` as given on the command line (``ValueError`` naming the rule).

    >>> parse_head("3:" + "00" * 32)[0], parse_head("00" * 32)[0]
    (3, None)
    >>> parse_head("x:" + "00" * 32)
    Traceback (most recent call last):
    ValueError: 'x' is not a size: the head is ROOT or SIZE:ROOT, SIZE a whole number of events
    """
    size, _, hexroot = text.rpartition(":")
    if size and not (size.isascii() and size.isdigit()):
        raise ValueError(f"{size!r} is not a size: the head is ROOT or SIZE:ROOT, SIZE a whole number of events")
    return (int(size) if size else None), parse_root(hexroot)


def verify_bundle(folder: Path, expected_head: str | None = None) -> BundleCheck:
    """Check an export offline: every leaf, the chain, the manifest and (from the first
    event) the Merkle root, optionally against a head the auditor wrote down."""
    if not folder.is_dir():
        raise NotABundle(f"{folder}: not an export folder")
    missing = [name for name in EXPORT_FILES if not (folder / name).is_file()]
    if missing:
        raise NotABundle(f"{folder}: not an export folder: no {' and no '.join(missing)} in it")
    want_size, want_root = parse_head(expected_head) if expected_head else (None, None)
    problems: list[str] = []
    first_bad: Finding | None = None

    def bad(position: int, problem: str, detail: str) -> None:
        nonlocal first_bad
        if first_bad is None or position < first_bad.position:
            first_bad = Finding(position, problem, detail)
        if len(problems) < 100:
            problems.append(f"position {position}: {problem}: {detail}")

    try:
        manifest = msgspec.json.decode((folder / "manifest.json").read_bytes(), type=Manifest)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as e:
        return BundleCheck(False, 0, None, None, [f"manifest.json: {e}"])
    if manifest.format != FORMAT:
        return BundleCheck(False, 0, None, None, [f"manifest.json: unknown format {manifest.format!r}"])
    running = bytes.fromhex(manifest.previous_chain)
    tree = TreeBuilder() if manifest.first_leaf_index == 0 and running == GENESIS else None
    digest = hashlib.sha256()
    count = 0
    last_position = manifest.from_position - 1
    try:
        lines = (folder / "events.jsonl").open("rb")
    except OSError as e:
        return BundleCheck(False, 0, None, None, [f"events.jsonl: {e}"])
    with lines:
        for lineno, line in enumerate(lines, 1):
            digest.update(line)
            try:
                rec = _rec_dec.decode(line)
            except (msgspec.DecodeError, msgspec.ValidationError) as e:
                bad(last_position + 1, "unreadable", f"line {lineno}: {e}")
                continue
            count += 1
            previous_position = last_position
            if rec.position <= last_position:
                bad(rec.position, "reordered", f"line {lineno} comes after position {last_position}")
            last_position = rec.position
            if rec.event_id != event_id(rec.aggregate_id, rec.version):
                bad(rec.position, "altered", "event id does not match aggregate id and version")
            leaf = leaf_of(rec.position, rec.aggregate_id, rec.version, rec.topic, bytes(rec.state))
            if rec.leaf is None or rec.chain is None:
                bad(rec.position, "unchained", "the record has no chain entry: inserted outside the ledger")
                running = chain_next(running, leaf)
            else:
                if bytes.fromhex(rec.leaf) != leaf:
                    bad(rec.position, "altered", "the record differs from what the ledger recorded")
                running = chain_next(running, bytes.fromhex(rec.leaf))
                if running != bytes.fromhex(rec.chain):
                    if rec.position > previous_position + 1:
                        bad(previous_position + 1, "missing",
                            f"positions {previous_position + 1}..{rec.position - 1} are gone: the chain at "
                            f"{rec.position} was computed with them")
                    else:
                        bad(rec.position, "chain_broken", "chain does not follow from the records before it: a "
                                                          "record was removed, inserted or reordered")
                    running = bytes.fromhex(rec.chain)
            if tree is not None:
                tree.append(leaf)
    if digest.hexdigest() != manifest.events_sha256:
        problems.append("events.jsonl differs from the file the manifest describes (events_sha256)")
    if count != manifest.count:
        problems.append(f"manifest says {manifest.count} events, the file holds {count}")
    if running.hex() != manifest.head.chain:
        problems.append("the last chain hash differs from the manifest's head")
    head = None
    if tree is not None:
        head = Head(size=tree.size, root=tree.root().hex(), chain=running.hex(), position=last_position)
        if head.root != manifest.head.root or head.size != manifest.head.size:
            problems.append(f"recomputed head {head.size}:{head.root} differs from the manifest's "
                            f"{manifest.head.size}:{manifest.head.root}")
    if want_root is not None:
        if head is None:
            problems.append("a head can only be checked on an export that starts at the first event")
        elif want_root.hex() != head.root or (want_size is not None and want_size != head.size):
            problems.append(f"recomputed head {head.size}:{head.root} is not the expected {expected_head}")
    return BundleCheck(ok=not problems and first_bad is None, count=count, head=head, first_bad=first_bad,
                       problems=problems)


# ---------------------------------------------------------------------------- inclusion proofs
def positions_of_subject(ledger: Any, subject: str) -> list[int]:
    """The ledger positions an inclusion proof of ``subject`` covers: every event of an
    enterprise (a USCC, found by its key) or one event (an event id, found by a scan of the
    log); ``ValueError`` saying why when there is none."""
    from domain.enterprise import enterprise_id
    from infra.integrity import positions_of

    if len(subject) == 18:
        positions = positions_of(ledger, enterprise_id(subject))
        if not positions:
            raise ValueError(f"no enterprise {subject} in the ledger")
        return positions
    try:
        target = UUID(subject)
    except ValueError:
        raise ValueError(f"{subject!r} is neither a USCC nor an event id") from None
    after, found = 0, []
    while notes := ledger.recorder.select_notifications(start=after + 1, limit=20000):
        found += [n.id for n in notes if event_id(n.originator_id, n.originator_version) == target]
        after = notes[-1].id
    if not found:
        raise ValueError(f"no event {subject} in the ledger")
    return found


def prove(ledger: Any, positions: list[int]) -> dict[str, Any]:
    """Inclusion proofs of the events at ``positions`` in the ledger's current tree."""
    leaves, chain_positions = all_leaves(ledger)
    index_of = {p: i for i, p in enumerate(chain_positions)}
    head = {"size": len(leaves), "root": root(leaves).hex()}
    proofs = []
    for n in ledger.recorder.select_notifications(start=min(positions), limit=10**9, stop=max(positions)):
        if n.id not in positions:
            continue
        index = index_of.get(n.id)
        if index is None:
            raise ValueError(f"position {n.id} has no chain entry: the store needs `cultivation audit verify`")
        proofs.append({
            "position": n.id, "event_id": str(event_id(n.originator_id, n.originator_version)),
            "aggregate_id": str(n.originator_id), "version": n.originator_version, "topic": n.topic,
            "state": json.loads(n.state), "state_utf8": n.state.decode(), "leaf_index": index,
            "leaf": leaves[index].hex(), "path": [h.hex() for h in inclusion_proof(leaves, index)],
        })
    return {"format": PROOF_FORMAT, "head": head, "proofs": proofs}


Hash = Annotated[str, msgspec.Meta(pattern="^[0-9a-fA-F]{64}$",
                                   description="a SHA-256 in hex, 64 digits")]
Size = Annotated[int, msgspec.Meta(ge=0)]


class TreeHead(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A head as proofs carry it: a tree size and its root."""

    size: Size
    root: Hash


class InclusionProof(msgspec.Struct, frozen=True):
    """One event's entry in an inclusion proof (``state``, ``event_id`` are there for people)."""

    position: int
    aggregate_id: UUID
    version: int
    topic: str
    state_utf8: str
    leaf_index: Size
    leaf: Hash
    path: list[Hash]


class InclusionProofs(msgspec.Struct, frozen=True, tag_field="format", tag=PROOF_FORMAT):
    """What ``cultivation audit prove`` writes."""

    head: TreeHead
    proofs: list[InclusionProof]


class ConsistencyProof(msgspec.Struct, frozen=True, tag_field="format", tag=CONSISTENCY_FORMAT,
                       forbid_unknown_fields=True):
    """What ``cultivation audit consistency --old-root … --out`` writes: ``new`` extends ``old``."""

    old: TreeHead
    new: TreeHead
    proof: list[Hash]


_proof_dec = msgspec.json.Decoder(InclusionProofs | ConsistencyProof)


def read_proof(data: bytes) -> InclusionProofs | ConsistencyProof:
    """Decode a proof file; ``ValueError`` naming the field when it is not one.

    >>> read_proof(b'{"format": "cultivation-ledger-consistency/1", "old": {"size": 1, "root": "ab"}}')
    Traceback (most recent call last):
    ValueError: not a proof file: Expected `str` matching regex '^[0-9a-fA-F]{64}$' - at `$.old.root`
    >>> read_proof(b'{"head": {}}')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: not a proof file: Object missing required field `format` (a proof file's format is ...)
    """
    try:
        return _proof_dec.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as e:
        message = str(e)
        if "`format`" in message or "`$.format`" in message:
            message += f" (a proof file's format is {PROOF_FORMAT!r} or {CONSISTENCY_FORMAT!r})"
        raise ValueError(f"not a proof file: {message}") from None


def prove_consistency(ledger: Any, old_size: int, old_root: bytes) -> tuple[ConsistencyProof, list[str]]:
    """The proof that the ledger's head now extends ``old_size:old_root``, and the problems
    (empty when it does; otherwise the ledger's first ``old_size`` events have another root:
    history before the kept head was rewritten).  ``ValueError`` when ``old_size`` is not
    between 1 and the current size."""
    leaves, _ = all_leaves(ledger)
    if not 0 < old_size <= len(leaves):
        raise ValueError(f"must be between 1 and the current size {len(leaves)}")
    proof = consistency_proof(leaves, old_size)
    doc = ConsistencyProof(old=TreeHead(old_size, old_root.hex()), new=TreeHead(len(leaves), root(leaves).hex()),
                           proof=[h.hex() for h in proof])
    if not verify_proof(doc):
        return doc, []
    return doc, [f"the ledger's first {old_size} events do not have root {old_root.hex()}: history before the head "
                 f"you kept was rewritten (its head now: {doc.new.size}:{doc.new.root})"]


def verify_proof(doc: InclusionProofs | ConsistencyProof, expected_head: str | None = None) -> list[str]:
    """Problems with a proof (empty when it holds).  ``expected_head`` is the head the
    auditor wrote down: an inclusion proof's head, a consistency proof's old head."""
    problems = []
    if expected_head:
        exp_size, exp_root = parse_head(expected_head)
        kept = doc.old if isinstance(doc, ConsistencyProof) else doc.head
        if exp_root != bytes.fromhex(kept.root) or (exp_size is not None and exp_size != kept.size):
            which = "old head" if isinstance(doc, ConsistencyProof) else "head"
            problems.append(f"the proof's {which} {kept.size}:{kept.root} is not the expected {expected_head}")
    if isinstance(doc, ConsistencyProof):
        if not verify_consistency(doc.old.size, doc.new.size, bytes.fromhex(doc.old.root), bytes.fromhex(doc.new.root),
                                  [bytes.fromhex(h) for h in doc.proof]):
            problems.append(f"the proof does not lead from {doc.old.size}:{doc.old.root} to {doc.new.size}:"
                            f"{doc.new.root}: the new head does not extend the old one")
        return problems
    size, want_root = doc.head.size, bytes.fromhex(doc.head.root)
    for p in doc.proofs:
        leaf = leaf_of(p.position, p.aggregate_id, p.version, p.topic, p.state_utf8.encode())
        if leaf.hex() != p.leaf.lower():
            problems.append(f"position {p.position}: the record does not hash to its leaf")
        elif not verify_inclusion(leaf, p.leaf_index, size, [bytes.fromhex(h) for h in p.path], want_root):
            problems.append(f"position {p.position}: the audit path does not lead to the head's root")
    return problems
