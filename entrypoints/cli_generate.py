"""``cultivation generate``: the CLI of the national history generator (``scenarios.generate``)."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from typing import Any

from entrypoints.console import EXIT_OK, console, print_json, progress_bar, table
from scenarios.generate import (
    DEFAULT_ENTERPRISES,
    DEFAULT_START_YEAR,
    DEFAULT_YEARS,
    NATIONAL_FIGURES_ON,
    Summary,
    generate,
)


def add_generate_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``cultivation generate`` on the CLI's subparsers."""
    p = sub.add_parser(
        "generate", parents=[common], help="write a deterministic, realistic command history (JSON Lines)",
        description="Write a deterministic command history of the whole ladder at national scale: enterprises in "
                    "all 31 provinces registering, applying, being recommended, assessed, noticed and approved "
                    "under the rule version in force, filing yearly data, reviewed or left to lapse, revoked now "
                    "and then, reporting changes and receiving rewards within caps and budgets; about 1% of the "
                    "commands are meant to be refused (the summary counts them by code; --expected lists them). "
                    "The same seed gives the same bytes; command ids are gen-<seed>-<n>, so submitting the file "
                    "again writes nothing new.")
    p.add_argument("--enterprises", type=int, default=DEFAULT_ENTERPRISES, metavar="N",
                   help=f"enterprises (default {DEFAULT_ENTERPRISES}: calibrated to MIIT's national figures of "
                        f"{NATIONAL_FIGURES_ON})")
    p.add_argument("--years", type=int, default=DEFAULT_YEARS, metavar="Y",
                   help=f"years of history (default {DEFAULT_YEARS})")
    p.add_argument("--seed", type=int, default=1, metavar="S", help="random seed (default 1)")
    p.add_argument("--start-year", type=int, default=DEFAULT_START_YEAR, metavar="YEAR",
                   help=f"first year (default {DEFAULT_START_YEAR})")
    p.add_argument("--as-of", metavar="DATE",
                   help=f"the day of the summary's national figures: enterprises ever designated up to it, valid on "
                        f"it (default {NATIONAL_FIGURES_ON}, the day of MIIT's 累计培育 figures, when the history "
                        f"covers it, else its last day)")
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("--out", metavar="FILE",
                     help="JSON Lines file to write (- for standard output); an existing file only with --force, "
                          "never through a symbolic link, never one of the ledger's own files")
    out.add_argument("--summary", action="store_true",
                     help="write no history: run the generation and print only its summary (the counts of "
                          "commands, refusals meant and designations; a quick way to see a size's figures)")
    p.add_argument("--expected", metavar="FILE",
                   help="also write the commands meant to be refused, one JSON object a line: command_id, "
                        "command, code (the same rules as --out)")
    p.add_argument("--force", action="store_true", help="replace --out and --expected if they exist")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``cultivation generate``: stream the history to --out, then print the summary
    (on standard error when the history goes to standard output)."""
    import msgspec

    from services import commands as c

    if args.enterprises < 0:
        raise c.InputError("--enterprises", "must be 0 or more")
    if not 1 <= args.years <= 100:
        raise c.InputError("--years", "must be between 1 and 100")
    if not 1990 <= args.start_year <= 2100:
        raise c.InputError("--start-year", "must be a year between 1990 and 2100")
    first_day, last_day = date(args.start_year, 1, 1), date(args.start_year + args.years - 1, 12, 31)
    if args.as_of is None:
        as_of = NATIONAL_FIGURES_ON if first_day <= NATIONAL_FIGURES_ON <= last_day else last_day
    else:
        try:
            as_of = date.fromisoformat(args.as_of)
        except ValueError:
            raise c.InputError("--as-of", f"must be a date (YYYY-MM-DD), not {args.as_of!r}") from None
        if not first_day <= as_of <= last_day:
            raise c.InputError("--as-of", f"must fall inside the history, {first_day} to {last_day}")
    encode = msgspec.json.Encoder().encode
    summary = Summary()
    try:
        stream = generate(args.enterprises, args.years, args.seed, args.start_year, summary=summary,
                          policies=args.policies, as_of=as_of)
    except ValueError as e:  # a bad policy folder
        raise c.InputError("--policies", str(e)) from None
    first = first_day.toordinal()
    days = last_day.toordinal() - first + 1
    if args.summary:
        if args.expected:
            raise c.InputError("--expected", "needs --out: --summary writes no file")
        start = time.perf_counter()
        with progress_bar("generating (business days)", days) as advance:
            for n, (cmd, _) in enumerate(stream, 1):
                if n % 8192 == 0:
                    advance(date.fromisoformat(cmd["occurred_on"]).toordinal() - first + 1)
            advance(days)
        return _print_summary(args, summary, time.perf_counter() - start, None)
    from contextlib import ExitStack, nullcontext
    from pathlib import Path

    from infra.files import check_output, output_file
    from infra.store import ledger_files, store_url

    to_stdout = args.out == "-"
    protect = ledger_files(store_url(args.db))
    if args.expected and not to_stdout and Path(args.expected).resolve() == Path(args.out).resolve():
        raise c.InputError("--expected", "must name another file than --out")
    for flag, path in (("--out", None if to_stdout else args.out), ("--expected", args.expected)):
        if path:
            check_output(path, force=args.force, protect=protect, field=flag)
    start = time.perf_counter()
    # Both files are put in place only when the whole history is written; an error or
    # Ctrl-C removes the partial ones and leaves any earlier files as they were.
    with ExitStack() as files:
        out = files.enter_context(nullcontext(sys.stdout.buffer) if to_stdout else
                                  output_file(args.out, force=args.force, protect=protect, mode="wb"))
        expected = (files.enter_context(output_file(args.expected, force=args.force, protect=protect, mode="wb",
                                                    field="--expected")) if args.expected else None)
        with progress_bar("generating (business days)", days) as advance:
            buf: list[bytes] = []
            for cmd, code in stream:
                buf.append(encode(cmd))
                if code is not None and expected is not None:
                    expected.write(encode({"command_id": cmd["command_id"], "command": cmd["command"],
                                           "code": code}) + b"\n")
                if len(buf) >= 8192:
                    buf.append(b"")
                    out.write(b"\n".join(buf))
                    buf.clear()
                    advance(date.fromisoformat(cmd["occurred_on"]).toordinal() - first + 1)
            if buf:
                buf.append(b"")
                out.write(b"\n".join(buf))
            advance(days)
        if to_stdout:
            out.flush()
    return _print_summary(args, summary, time.perf_counter() - start, args.out)


def _print_summary(args: argparse.Namespace, summary: Summary, elapsed: float, out: str | None) -> int:
    import msgspec

    from scenarios.generate import TIERS

    to_stdout = out == "-"
    report = {**summary.as_dict(), "out": out, "seconds": round(elapsed, 2),
              "commands_per_second": round(summary.commands / max(elapsed, 1e-9))}
    if args.json:
        if to_stdout:
            sys.stderr.write(msgspec.json.encode(report).decode() + "\n")
        else:
            print_json(report)
        return EXIT_OK
    out_console = console(stderr=to_stdout)
    written = f"written to {out}" if out else "not written (--summary)"
    out_console.print(f"{summary.commands} commands for {summary.enterprises} enterprises in "
                      f"{len(summary.by_province)} provinces, {summary.first_day} to {summary.last_day}, "
                      f"{written} in {elapsed:.1f}s ({report['commands_per_second']} commands/s)")
    out_console.print(f"meant to be refused: {summary.refusals} ({100 * summary.refusal_share:.2f}%)")
    if to_stdout:
        return EXIT_OK
    table("commands", ["command", "count"], sorted(summary.by_command.items(), key=lambda kv: -kv[1]))
    table("refusals meant", ["code", "count"], sorted(summary.expected_refusals.items(), key=lambda kv: -kv[1]))
    levels = summary.as_dict()["levels"]
    table(f"national figures on {summary.as_of}", ["tier", "level", "ever designated up to it", "valid on it"],
          [(t, levels[t], summary.ever_designated.get(t, 0), summary.valid_on_as_of.get(t, 0)) for t in TIERS])
    years = sorted({y for ys in summary.new_by_year.values() for y in ys})
    table("newly designated enterprises (first approval) by year", ["tier", *map(str, years)],
          [(t, *(summary.new_by_year.get(t, {}).get(y, 0) for y in years)) for t in TIERS])
    table(f"designations valid on {summary.last_day}", ["tier", "valid", "approved over the years"],
          [(t, n, summary.designations_made.get(t, 0)) for t, n in summary.valid_at_end.items()])
    return EXIT_OK
