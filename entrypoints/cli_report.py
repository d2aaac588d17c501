"""``cultivation report``: the CLI of the statistics report (``reports``)."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import Any

import msgspec

from entrypoints.console import (
    EXIT_OK,
    REGION_HELP,
    console,
    open_ledger,
    parse_date,
    parse_region,
    read_model,
)
from reports.figures import EXPIRY_DAYS, SECTIONS, build_report
from reports.render import FORMATS, csv_file_name, render_csv, render_html, render_json, render_table
from services import commands as c


def add_report_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``cultivation report`` on the CLI's subparsers."""
    p = sub.add_parser(
        "report", parents=[common], help="the statistics report: counts, expiring, review due, rewards, chart",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="The statistics in the form the reports use, for a region and its sub-regions on a business "
                    "date:\n"
                    "  counts      per programme, tier and level, in total and per sub-region (a province's\n"
                    "              cities, a city's counties, the country's provinces): designations valid on the\n"
                    "              date, subjects (enterprises, or products) ever designated up to it, and newly\n"
                    "              designated in its year\n"
                    f"  expiring    designations no longer valid {EXPIRY_DAYS} days after the date (renewed ones left "
                    "out)\n"
                    "  review_due  inside the tier's review window, not yet reviewed for the period, not revoked\n"
                    "  rewards     per scheme and budget year: granted, clawed back, net (inside the region) against\n"
                    "              the yearly budget, what the whole scheme used of it, and what is left\n"
                    "  series      valid designations per tier at every month-end up to the date (and on it), each as\n"
                    "              it stood on that day\n"
                    "  batches     per batch (第N批) of a tier: applications recommended in it, approvals it\n"
                    "              announced\n"
                    "  targets     progress against the targets of the policy files in force (cumulative, rolling or\n"
                    "              new in a year): target, actual on its date (or the report's, if earlier), share\n\n"
                    "Every section is as of the date: each designation, name and region as it stood then; with\n"
                    "--as-recorded, as the ledger had recorded it by that ledger time. Tables, CSV and HTML show the\n"
                    "last valid day (有效期至); JSON keeps the exclusive valid_until and adds last_day.\n\n"
                    "Formats: table (default; money in 元), json (one object with every section; money in integer\n"
                    "fen; --json is the same), csv (for spreadsheets: one table per file, UTF-8 with a byte-order\n"
                    "mark so that Excel reads the Chinese, a header row and its rows, money in 元 with two decimals\n"
                    "beside a 'unit' column; --table NAME writes that table to standard output or --out FILE;\n"
                    "without --table, --out FOLDER writes every table into FOLDER as NAME.csv), html (a\n"
                    "self-contained UTF-8 page: tables and an inline SVG chart, no external resources).")
    p.add_argument("--region", metavar="REGION", help=REGION_HELP + " (default: the country)")
    p.add_argument("--as-of", metavar="YYYY-MM-DD", help="business date (default: today)")
    p.add_argument("--chain", metavar="[PROGRAMME/]CHAIN",
                   help="only enterprises tagged on this industrial chain on the date (一链一策一批)")
    p.add_argument("--as-recorded", metavar="TIME",
                   help="the report as the ledger stood at this ledger time (ISO 8601; a date means its end, UTC)")
    p.add_argument("--format", choices=FORMATS, default=None, help="output format (default: table)")
    p.add_argument("--table", choices=SECTIONS, metavar="TABLE",
                   help=f"only this table: {', '.join(SECTIONS)} (table, json and csv formats; csv needs it, or "
                        "--out FOLDER for every table)")
    p.add_argument("--out", metavar="FILE", help="write to FILE (UTF-8) instead of standard output; an existing file "
                                                 "only with --force, never through a symbolic link, never one of "
                                                 "the ledger's own files; csv without --table: a FOLDER (created if "
                                                 "missing) that gets one NAME.csv per table")
    p.add_argument("--force", action="store_true", help="replace the --out file (or the folder's NAME.csv) if it "
                                                        "exists")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from infra.files import check_output, output_file
    from infra.store import ledger_files, store_url

    as_of = parse_date(args.as_of or date.today().isoformat(), "--as-of")
    args.region = parse_region(args.region)
    fmt = args.format or ("json" if args.json else "table")
    if args.json and fmt != "json":
        raise c.InputError("--format", f"--json asks for json, --format for {fmt}")
    if args.table and fmt == "html":
        raise c.InputError("--table", "the html page holds every table; --table applies to table, json and csv")
    region = None if args.region in (None, "000000") else args.region
    protect = ledger_files(store_url(args.db))
    every_csv = fmt == "csv" and not args.table  # one file per table, into the folder --out names
    if every_csv:
        _check_csv_folder(args.out, force=args.force, protect=protect)
    elif args.out:  # refused before any work, and checked again when the file is put in place
        check_output(args.out, force=args.force, protect=protect)
    ledger = open_ledger(args, create=False)
    if args.chain:
        from services.queries import check_chain

        check_chain(args.chain, ledger.policy, "--chain")
    rm, as_recorded = read_model(args, ledger)
    try:
        report = build_report(rm, ledger.policy, as_of=as_of, region=region, chain=args.chain)
    finally:
        rm.close()
    if as_recorded:
        report = msgspec.structs.replace(report, as_recorded=as_recorded["time"])
    if fmt == "table":
        if args.out:
            from rich.console import Console

            with output_file(args.out, force=args.force, protect=protect) as fh:
                render_table(report, Console(file=fh, width=200, highlight=False, soft_wrap=False, markup=False,
                                             emoji=False, color_system=None), args.table)
        else:
            render_table(report, console(), args.table)
        return EXIT_OK
    if every_csv:
        from infra.files import output_folder

        folder = output_folder(args.out, _CSV_FILES, force=args.force, protect=protect)
        for name in SECTIONS:
            with output_file(folder / csv_file_name(name), force=args.force, protect=protect, newline="") as fh:
                fh.write(render_csv(report, name))
        return EXIT_OK
    text = {"json": lambda: render_json(report, args.table), "csv": lambda: render_csv(report, args.table),
            "html": lambda: render_html(report)}[fmt]()
    if args.out:
        with output_file(args.out, force=args.force, protect=protect, newline="") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


_CSV_FILES = tuple(csv_file_name(name) for name in SECTIONS)


def _check_csv_folder(out: str | None, *, force: bool, protect: Any) -> None:
    """``report --format csv`` without ``--table``: a spreadsheet opens one table per file,
    so the tables go into the folder ``--out`` names, one ``NAME.csv`` each.  Refused before
    any work: no ``--out`` (naming ``--table`` and its values), an ``--out`` that is a file
    or is named like one, and what :func:`infra.files.output_folder` refuses."""
    import os

    from infra.files import output_folder

    tables = ", ".join(SECTIONS)
    if not out:
        raise c.InputError("--table", f"csv holds one table per file: choose it with --table ({tables}), or give "
                                      "--out FOLDER for every table, one NAME.csv each")
    exists = os.path.lexists(out)
    if (exists and not os.path.isdir(out)) or (not exists and out.lower().endswith(".csv")):
        what = "is a file" if exists else "is named like a file"
        raise c.InputError("--out", f"{out} {what}; csv without --table writes every table into a folder, one "
                                    f"NAME.csv each: name a folder, or choose one table with --table ({tables})")
    if os.path.lexists(out):  # an existing folder: its NAME.csv files checked now; created only after the work
        output_folder(out, _CSV_FILES, force=force, protect=protect)
