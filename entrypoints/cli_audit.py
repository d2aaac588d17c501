"""``cultivation audit …``: what auditors run.

- ``verify [--head SIZE:ROOT]``: recompute the chain and the tree over the store; name the
  first bad position and what is wrong (exit 1 when anything is);
- ``head``: the current head to write down (size, root, last chain hash);
- ``export [--from POS] [--to POS] --out DIR``: a bundle that verifies offline;
- ``verify-bundle PATH [--head SIZE:ROOT]``: check an export folder, an inclusion proof or a
  consistency proof, offline;
- ``prove USCC|EVENT_ID [--out FILE]``: inclusion proofs of an enterprise's events, or of one;
- ``consistency --old-size N --old-root HEX [--out FILE]``: prove that the current head
  extends the one the auditor kept (never against the ledger's own root: that proves nothing);
- ``replay [--from-seq N | --since TIME]``: rebuild the projections from ``CULTIVATION_EVENTS``
  and compare them with a rebuild from the store.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import msgspec

from entrypoints.console import open_ledger, print_json, progress_bar
from services.commands import InputError

EXIT_OK, EXIT_BAD, EXIT_INPUT = 0, 1, 2


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("audit", parents=[common], help="verify, export, prove: the tamper-evident log",
                       description=__doc__)
    asub = p.add_subparsers(dest="audit_command", required=True, metavar="AUDIT_COMMAND")

    q = asub.add_parser("verify", parents=[common], help="recompute the chain and the tree over the store")
    q.add_argument("--head", metavar="SIZE:ROOT", help="also check that the first SIZE events have this root")
    q.set_defaults(func=_verify)

    q = asub.add_parser("head", parents=[common], help="the current head (size, root, chain) to write down")
    q.set_defaults(func=_head)

    q = asub.add_parser("export", parents=[common], help="write a bundle that verifies offline")
    q.add_argument("--from", dest="from_position", type=int, default=1, metavar="POS")
    q.add_argument("--to", dest="to_position", type=int, metavar="POS")
    q.add_argument("--out", required=True, metavar="DIR",
                   help="folder for events.jsonl and manifest.json (created if missing); files already there are "
                        "replaced only with --force, never through a symbolic link")
    q.add_argument("--force", action="store_true", help="replace an earlier export's files in --out")
    q.set_defaults(func=_export)

    q = asub.add_parser("verify-bundle", parents=[common],
                        help="check an export folder or a proof file offline (no store, no NATS)")
    q.add_argument("path", help="an export folder, or a file written by `audit prove` or `audit consistency`")
    q.add_argument("--head", metavar="SIZE:ROOT", help="the head the auditor wrote down (of a consistency proof: "
                                                      "its old head, the one kept)")
    q.set_defaults(func=_verify_bundle)

    q = asub.add_parser("prove", parents=[common], help="inclusion proofs for an enterprise's events or one event")
    q.add_argument("subject", metavar="USCC|EVENT_ID")
    q.add_argument("--out", metavar="FILE", help="write the proof here (default: standard output); an existing file "
                                                 "only with --force, never through a symbolic link")
    q.add_argument("--force", action="store_true", help="replace the --out file if it exists")
    q.set_defaults(func=_prove)

    q = asub.add_parser("consistency", parents=[common], help="prove that the current head extends the one you kept")
    q.add_argument("--old-size", type=int, required=True, metavar="N", help="the size of the head you kept")
    q.add_argument("--old-root", required=True, metavar="HEX",
                   help="the root of the head you kept (64 hex digits, as `audit head` printed it)")
    q.add_argument("--out", metavar="FILE", help="write the proof here, for `audit verify-bundle FILE` offline; an "
                                                 "existing file only with --force, never through a symbolic link")
    q.add_argument("--force", action="store_true", help="replace the --out file if it exists")
    q.set_defaults(func=_consistency)

    q = asub.add_parser("replay", parents=[common],
                        help="rebuild the projections from CULTIVATION_EVENTS and compare with the store's")
    g = q.add_mutually_exclusive_group()
    g.add_argument("--from-seq", type=int, default=1, metavar="N", help="stream sequence to start at")
    g.add_argument("--since", metavar="TIME", help="stream time to start at (ISO 8601)")
    q.set_defaults(func=_replay)


def _ledger(args: argparse.Namespace) -> Any:
    return open_ledger(args, create=False)  # auditing reads: a missing ledger is an error, not an empty one


def _out(args: argparse.Namespace, obj: Any, text: str) -> None:

    if args.json:
        print_json(obj)
    else:
        print(text)


def _verify(args: argparse.Namespace) -> int:
    from audit.bundle import parse_head
    from infra.integrity import verify_store
    from infra.merkle import root

    ledger = _ledger(args)
    with progress_bar("verifying", ledger.max_position()) as advance:
        result = verify_store(ledger, progress=lambda done, total: advance(done))
    problems = []
    if args.head:
        from infra.integrity import all_leaves

        try:
            size, want = parse_head(args.head)
        except ValueError as e:
            raise InputError("--head", str(e)) from None
        leaves, _ = all_leaves(ledger)
        size = size if size is not None else len(leaves)
        if size > len(leaves):
            problems.append(f"the store has {len(leaves)} events, fewer than the {size} of head {args.head}: events "
                            f"were removed")
        elif root(leaves[:size]) != want:
            problems.append(f"the store's first {size} events do not have root {want.hex()}: history before that "
                            f"head was rewritten")
    ok = result.ok and not problems
    lines = [f"{'ok' if ok else 'TAMPERED'}: {result.checked} records checked; head {result.head.size}:"
             f"{result.head.root} chain {result.head.chain}"]
    if result.first_bad:
        lines.append(f"first bad position {result.first_bad.position}: {result.first_bad.problem}: "
                     f"{result.first_bad.detail}")
        lines += [f"  position {f.position}: {f.problem}" for f in result.findings[1:10]]
        if result.findings_total > 10:
            lines.append(f"  … {result.findings_total - 10} more")
    lines += problems
    _out(args, {**msgspec.to_builtins(result), "ok": ok, "problems": problems}, "\n".join(lines))
    return EXIT_OK if ok else EXIT_BAD


def _head(args: argparse.Namespace) -> int:
    from infra.integrity import stored_head

    head = stored_head(_ledger(args))
    _out(args, head, f"{head.size}:{head.root}  (chain {head.chain}, position {head.position})")
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    from audit.bundle import EXPORT_FILES, export
    from infra.files import output_folder
    from infra.store import ledger_files, store_url


    if args.from_position < 1:
        raise InputError("--from", "must be a ledger position, 1 or more")
    if args.to_position is not None and args.to_position < args.from_position:
        raise InputError("--to", f"must not be before --from ({args.from_position})")
    if os.path.lexists(args.out):  # refused before the store is opened; export checks again
        output_folder(args.out, EXPORT_FILES, force=args.force, protect=ledger_files(store_url(args.db)))
    ledger = _ledger(args)
    with progress_bar("exporting", ledger.max_position()) as advance:
        m = export(ledger, Path(args.out), args.from_position, args.to_position,
                   progress=lambda done, total: advance(done), force=args.force)
    _out(args, m, f"exported {m.count} events (positions {m.from_position}–{m.to_position}) to {args.out}; "
                  f"head {m.head.size}:{m.head.root}")
    return EXIT_OK


def _verify_bundle(args: argparse.Namespace) -> int:
    from audit.bundle import ConsistencyProof, NotABundle, parse_head, read_proof, verify_bundle, verify_proof

    if args.head:
        try:
            parse_head(args.head)
        except ValueError as e:
            raise InputError("--head", str(e)) from None
    path = Path(args.path)
    if not path.exists():
        raise InputError("path", f"{args.path}: no such export folder or proof file")
    if path.is_file():
        try:
            doc = read_proof(path.read_bytes())
        except OSError as e:
            raise InputError("path", f"{args.path}: {e.strerror}") from None
        except ValueError as e:
            raise InputError("path", f"{args.path}: {e}") from None
        problems = verify_proof(doc, args.head)
        verdict = "ok" if not problems else "FAILED"
        if isinstance(doc, ConsistencyProof):
            obj: dict[str, Any] = {"ok": not problems, "kind": "consistency", "old": doc.old, "new": doc.new,
                                   "problems": problems}
            old, new = f"{doc.old.size}:{doc.old.root}", f"{doc.new.size}:{doc.new.root}"
            line = f"ok: head {new} extends {old}" if not problems else f"FAILED: consistency proof from {old} to {new}"
        else:
            obj = {"ok": not problems, "kind": "inclusion", "proofs": len(doc.proofs), "head": doc.head,
                   "problems": problems}
            line = f"{verdict}: {len(doc.proofs)} inclusion proof(s) against head {doc.head.size}:{doc.head.root}"
        _out(args, obj, "\n".join([line, *problems]))
        return EXIT_OK if not problems else EXIT_BAD
    try:
        check = verify_bundle(path, args.head)
    except NotABundle as e:
        raise InputError("path", str(e)) from None
    lines = [f"{'ok' if check.ok else 'TAMPERED'}: {check.count} records"
             + (f"; head {check.head.size}:{check.head.root}" if check.head else "")]
    if check.first_bad:
        lines.append(f"first bad position {check.first_bad.position}: {check.first_bad.problem}: "
                     f"{check.first_bad.detail}")
    lines += check.problems[:20]
    _out(args, check, "\n".join(lines))
    return EXIT_OK if check.ok else EXIT_BAD


def _prove(args: argparse.Namespace) -> int:
    from audit.bundle import positions_of_subject, prove
    from infra.files import check_output, output_file
    from infra.store import ledger_files, store_url

    protect = ledger_files(store_url(args.db))
    if args.out:
        check_output(args.out, force=args.force, protect=protect)
    ledger = _ledger(args)
    try:
        positions = positions_of_subject(ledger, args.subject)
    except ValueError as e:
        raise InputError("subject", str(e)) from None
    doc = prove(ledger, positions)
    text = json.dumps(doc, ensure_ascii=False, indent=2)
    if args.out:
        with output_file(args.out, force=args.force, protect=protect) as fh:
            fh.write(text + "\n")
        print(f"{len(doc['proofs'])} inclusion proof(s) against head {doc['head']['size']}:{doc['head']['root']} "
              f"written to {args.out}", file=sys.stderr)
    else:
        print(text)
    return EXIT_OK


def _consistency(args: argparse.Namespace) -> int:
    from audit.bundle import parse_root, prove_consistency
    from infra.files import check_output, output_file
    from infra.store import ledger_files, store_url

    try:
        old_root = parse_root(args.old_root)
    except ValueError as e:
        raise InputError("--old-root", str(e)) from None
    protect = ledger_files(store_url(args.db))
    if args.out:
        check_output(args.out, force=args.force, protect=protect)
    try:
        doc, problems = prove_consistency(_ledger(args), args.old_size, old_root)
    except ValueError as e:
        raise InputError("--old-size", str(e)) from None
    if problems:  # nothing to write: no proof exists from a head the ledger does not extend
        _out(args, {"ok": False, "old": doc.old, "new": doc.new, "problems": problems},
             f"FAILED: {problems[0]}")
        return EXIT_BAD
    text = msgspec.json.format(msgspec.json.encode(doc), indent=2).decode()
    if args.out:
        with output_file(args.out, force=args.force, protect=protect) as fh:
            fh.write(text + "\n")
        print(f"consistency proof {doc.old.size} → {doc.new.size} written to {args.out}; check it offline with "
              f"`cultivation audit verify-bundle {args.out}`", file=sys.stderr)
    _out(args, {"ok": True, **msgspec.to_builtins(doc)},
         f"ok: head {doc.new.size}:{doc.new.root} extends {doc.old.size}:{doc.old.root} "
         f"({len(doc.proof)} hashes of proof)")
    return EXIT_OK


def _replay(args: argparse.Namespace) -> int:
    import asyncio

    from audit.replay import replay_and_compare
    from entrypoints.console import CliError
    from infra.nats import ledger_names

    try:
        names = ledger_names()  # the stream of the ledger CULTIVATION_LEDGER names
    except ValueError as e:
        raise CliError(str(e), field="CULTIVATION_LEDGER") from None
    ledger = _ledger(args)
    result = asyncio.run(replay_and_compare(ledger, from_seq=args.from_seq, since=args.since, names=names))
    _out(args, result, f"{'ok' if result['equal'] else 'DIFFERENT'}: replayed {result['messages']} messages "
                       f"from the stream into a fresh read model; "
                       f"{'every projection equals' if result['equal'] else 'differs from'} the store's rebuild"
                       + ("" if result["equal"] else f": {result['differences'][:5]}"))
    return EXIT_OK if result["equal"] else EXIT_BAD
