"""``cultivation``: the command-line adapter of the ledger.

One subcommand per command of the service layer (flags generated from the command's
msgspec struct, so the CLI and the wire format cannot drift apart), ``submit`` for
JSON Lines batches, and the queries ``pool`` and ``history``.  Tables for people,
``--json`` for machines.  Exit codes: 0 accepted, 1 refused by a rule of the domain,
2 malformed input (the message names the field; also a store or an output file that
cannot be used as named), 3 an internal error or a store that does not answer (one line;
the traceback only with ``--debug``).  Whatever the exit, ``--json`` prints one JSON
object, ``{"ok": false, "error": {"code", "rule", "field", "message", "retry"}}`` on a failure
(``retry``: whether sending it again can help, as ``cultivation codes`` lists it).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import typing
import uuid
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

import msgspec

from domain.codes import with_retry
from domain.errors import LedgerError
from domain.regions import REGION_KEYS
from domain.values import Level, region_covers
from entrypoints.console import (
    AS_RECORDED_HELP,
    EXIT_INPUT,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REFUSED,
    REGION_HELP,
    CliError,
    check_programme,
    choice_type,
    console,
    detail_text,
    level_labels,
    named_regions,
    open_ledger,
    parse_date,
    parse_region,
    policy_names,
    print_json,
    progress_bar,
    read_model,
    region_label,
    region_title,
    table,
    tier_name,
)
from infra.store import describe
from services import commands as c
from services.queries import COUNTS, history, parse_moment

# Envelope fields every command carries, given by common flags.
_ENVELOPE = {"command", "command_id", "occurred_on", "actor", "document"}
















# ---------------------------------------------------------------------- commands
def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _shape(tp: Any) -> str:
    """How a command field is given on the command line: "bool", "dict" (NAME=INT, repeated),
    "yearly" (a dict of dicts: YEAR:NAME=INT, repeated), "list" or "value"; an optional
    field as its type."""
    while True:
        args = typing.get_args(tp)
        if typing.get_origin(tp) is typing.Annotated:
            tp = args[0]
        elif type(None) in args and len(args) == 2:  # X | None
            tp = next(a for a in args if a is not type(None))
        else:
            break
    origin = typing.get_origin(tp)
    if tp is bool:
        return "bool"
    if origin is dict:
        return "yearly" if _shape(typing.get_args(tp)[1]) == "dict" else "dict"
    return "list" if origin is list else "value"


def _field_help(tag: str, name: str, tp: Any, required: bool, names: dict[str, str]) -> str:
    """A command flag's help: what the field means (services.commands.FIELD_HELP), whether it
    may be left out, and the values it takes: a closed set with its labels (domain.policy), or
    the names the policy in force has for it (``names``, from entrypoints.console.policy_names)."""
    text = c.field_help(tag, name)
    if not required and "(default" not in text and _shape(tp) in ("value", "bool"):
        text += " (optional)"
    labels = c.closed_set(tp)
    if labels:
        text += ": " + c.choices_text(labels)
    elif names.get(name):
        text += "; in the policy in force: " + names[name]
    return text.replace("%", "%%")  # argparse formats help with %


def _add_command_parser(sub: Any, tag: str, ctype: type[c.Command], parents: list[argparse.ArgumentParser],
                        names: dict[str, str]) -> None:
    doc = " ".join((ctype.__doc__ or tag).split())
    p = sub.add_parser(tag.replace("_", "-"), help=doc.split(". ")[0].rstrip("."), description=doc, parents=parents)
    p.add_argument("--command-id", help=c.field_help(tag, "command_id") + " (default: random)")
    p.add_argument("--occurred-on", required=True, metavar="YYYY-MM-DD", help=c.field_help(tag, "occurred_on"))
    p.add_argument("--authority", required=True, metavar="CODE",
                   help="GB/T 2260 code of the acting authority (000000 = MIIT, 210000 = Liaoning, ...)")
    p.add_argument("--person", default="cli", help="the person or service acting")
    p.add_argument("--role", default="authority", choices=["authority", "enterprise", "auditor"],
                   help="who acts: a government authority (default), the enterprise itself, an auditor")
    p.add_argument("--document", default="", help=c.field_help(tag, "document"))
    for f in msgspec.structs.fields(ctype):
        if f.name in _ENVELOPE:
            continue
        required = f.required
        shape = _shape(f.type)
        helptext = _field_help(tag, f.name, f.type, required, names)
        if shape == "bool":
            p.add_argument(_flag(f.name), dest=f.name, required=required, metavar="true|false", help=helptext)
        elif shape == "yearly":  # yearly_indicators: --yearly 2024:rd_expense_fen=120000000
            p.add_argument(_flag(f.name.split("_")[0]), dest=f.name, action="append", metavar="YEAR:NAME=INT",
                           default=[], help=helptext + " (repeatable)")
        elif shape == "dict":
            p.add_argument(_flag(f.name.rstrip("s") if f.name.endswith("s") else f.name), dest=f.name,
                           action="append", metavar="NAME=INT", default=[], help=helptext + " (repeatable)")
        elif shape == "list":
            p.add_argument(_flag(f.name), dest=f.name, action="append", default=[], metavar="NAME",
                           help=helptext + " (repeatable)")
        else:
            labels = c.closed_set(f.type)
            metavar = "{" + ",".join(labels) + "}" if labels else f.name.upper()
            p.add_argument(_flag(f.name), dest=f.name, required=required, metavar=metavar,
                           help=f"{helptext}: {REGION_HELP}" if f.name in REGION_KEYS else helptext)
    p.set_defaults(func=_run_command, command_type=ctype, tag=tag)


def _command_from_args(args: argparse.Namespace) -> c.Command:
    ctype: type[c.Command] = args.command_type
    obj: dict[str, Any] = {
        "command": args.tag,
        "command_id": args.command_id or str(uuid.uuid4()),
        "occurred_on": args.occurred_on,
        "actor": {"authority": args.authority, "person": args.person, "role": args.role},
        "document": args.document,
    }
    for f in msgspec.structs.fields(ctype):
        if f.name in _ENVELOPE:
            continue
        value = getattr(args, f.name, None)
        shape = _shape(f.type)
        if shape == "yearly":
            years: dict[str, dict[str, str]] = {}
            for item in value or []:
                year, colon, entry = item.partition(":")
                name, sep, num = entry.partition("=")
                if not colon or not sep or not year.strip().isdigit():
                    raise c.InputError(f"$.{f.name}", f"expected YEAR:NAME=INT, got {item!r}")
                years.setdefault(year.strip(), {})[name] = num
            value = years or None
        elif shape == "dict":
            entries = {}
            for item in value or []:
                name, sep, num = item.partition("=")
                if not sep:
                    raise c.InputError(f"$.{f.name}", f"expected NAME=INT, got {item!r}")
                entries[name] = num
            value = entries or None
        elif shape == "list":
            value = value or None
        elif f.name in REGION_KEYS and isinstance(value, str) and not value.isdigit():
            # a name (--region 连山区) becomes its code; a code goes to the ledger as sent, which
            # refuses one that is no current division itself (region.unknown), as over NATS
            value = parse_region(value, _flag(f.name))
        if value is not None:
            obj[f.name] = value
    try:
        return msgspec.convert(obj, ctype, strict=False)
    except msgspec.ValidationError as e:
        raise c.input_error(e) from None


def _run_command(args: argparse.Namespace) -> int:
    cmd = _command_from_args(args)
    ledger = open_ledger(args)
    outcome = ledger.handle(cmd)
    if args.json:
        print_json({"ok": True, **msgspec.to_builtins(outcome)})
    else:
        note = " (repeated: first outcome, nothing written)" if outcome.repeated else ""
        console().print(f"accepted {outcome.command} {outcome.command_id}{note}")
        table("", ["事件", "类型", "业务日期", "事件编号"],
               [(f"{str(e.aggregate_id)[:8]}…#{e.version}", e.type, e.occurred_on, e.event_id) for e in outcome.events])
    return EXIT_OK


# ---------------------------------------------------------------------- submit
def check_batch(path: str) -> int:
    """Decode every line once: one malformed line refuses the whole file, writing nothing.
    Returns the number of commands.  Streams: memory stays flat however large the file."""
    try:
        stream = open(path, "rb")  # noqa: SIM115
    except OSError as e:
        raise CliError(f"file: {path}: {e.strerror}", field="file") from None
    with stream:
        lines = count_lines(stream)
        stream.seek(0)
        with progress_bar("checking", lines, "lines") as advance:
            errors, count = _check_lines(stream, advance)
    if errors:
        shown = "\n".join(f"line {n}: {e}" for n, e in errors[:20])
        if len(errors) > 20:
            shown += f"\n... and {len(errors) - 20} more"
        raise CliError(f"{len(errors)} malformed line(s), nothing submitted:\n{shown}", field="file",
                       extra={"accepted": 0, "repeated": 0, "refused": 0, "malformed_count": len(errors),
                              "malformed": [{"line": n, "field": e.field, "message": e.message}
                                            for n, e in errors[:1000]]})
    return count


def count_lines(stream: Any) -> int:
    """The lines of a binary file, read in blocks (a last line without a newline counts too).

    >>> import io
    >>> count_lines(io.BytesIO(b"a\\nb\\n")), count_lines(io.BytesIO(b"a\\nb")), count_lines(io.BytesIO(b""))
    (2, 2, 0)
    """
    n, last = 0, b"\n"
    while block := stream.read(1 << 20):
        n += block.count(b"\n")
        last = block[-1:]
    return n + (last != b"\n")


def _check_lines(stream: Any, advance: Any) -> tuple[list[tuple[int, c.InputError]], int]:
    errors: list[tuple[int, c.InputError]] = []
    count = 0
    for lineno, line in enumerate(stream, 1):
        if lineno % 20000 == 0:
            advance(lineno)
        if not line.strip():
            continue
        try:
            c.decode_command(line)
            count += 1
        except c.InputError as e:
            errors.append((lineno, e))
    return errors, count


def iter_batch(path: str) -> Iterator[c.Command]:
    with open(path, "rb") as stream:
        for line in stream:
            if line.strip():
                yield c.decode_command(line)


def _submit(args: argparse.Namespace) -> int:
    path = args.file
    if path != "-" and os.path.isdir(path):
        raise CliError(f"file: {path} is a directory; name a JSON Lines file (or - for standard input)",
                       field="file")
    if path == "-":  # standard input is read once: keep it for the second pass
        import shutil
        import tempfile

        spool = tempfile.NamedTemporaryFile(prefix="cultivation-submit-", suffix=".jsonl", delete=False)  # noqa: SIM115
        with spool:
            shutil.copyfileobj(sys.stdin.buffer, spool)
        path = spool.name
    try:
        return _submit_file(args, path)
    finally:
        if args.file == "-":
            os.unlink(path)




class _StopAsked:
    """SIGINT while commands are handled: the first asks to stop after the batch under way
    (each batch is one transaction), the second stops at once (the transaction under way is
    rolled back).  The previous handler comes back on exit."""

    def __init__(self) -> None:
        self.asked = False

    def __enter__(self) -> _StopAsked:
        import signal

        def handler(signum: int, frame: Any) -> None:
            if self.asked:
                raise KeyboardInterrupt
            self.asked = True

        self._previous = signal.signal(signal.SIGINT, handler)
        return self

    def __exit__(self, *exc: object) -> None:
        import signal

        signal.signal(signal.SIGINT, self._previous)


def _submit_file(args: argparse.Namespace, path: str) -> int:
    """Check then handle the file; with ``--refused FILE`` every refusal goes there as a JSON
    line (infra.files: ``--force`` to replace it; put in place also when interrupted, with
    the refusals decided so far; nothing when the file is malformed)."""
    from contextlib import nullcontext

    from infra.files import check_output, output_file
    from infra.store import ledger_files, store_url

    if not args.refused:
        return _submit_checked(args, path, None)
    protect = ledger_files(store_url(args.db))
    check_output(args.refused, force=args.force, protect=protect, field="--refused")  # before any work
    with (output_file(args.refused, force=args.force, protect=protect, field="--refused", mode="wb")
          if args.refused else nullcontext(None)) as sink:
        return _submit_checked(args, path, sink)


# How many aggregates ``submit`` keeps between batches unless told: more than a ledger's
# default (services.ledger.AGGREGATE_CACHE, kept small for serve's latency), since a bulk
# load's throughput is what counts.  80,000 kept the national load on SQLite at 826 MiB, in
# about the CPU of 100,000, which took PostgreSQL's to 1,010 MiB (README, "National-size loads").
SUBMIT_CACHE = 80_000


def _submit_cache(args: argparse.Namespace) -> int:
    from services.ledger import aggregate_cache_size

    if args.cache is not None:
        return args.cache
    try:
        return aggregate_cache_size(os.environ, SUBMIT_CACHE)
    except ValueError as e:
        raise CliError(str(e), field="CULTIVATION_AGGREGATE_CACHE") from None


def _count(text: str) -> int:
    """An argparse type: a whole number, 0 or more (argparse names the option)."""
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number, 0 or more")
    return int(text)


# How many refusals the summary for people shows one by one (--refused FILE or --json has them all).
SHOWN_REFUSALS = 5


def _submit_checked(args: argparse.Namespace, path: str, sink: Any) -> int:
    from infra.heap import relaxed_gc

    counts = {"accepted": 0, "repeated": 0, "refused": 0}
    total: int | None = None
    try:
        total = check_batch(path)
        ledger = open_ledger(args, cache_size=_submit_cache(args))
        refusals: list[dict[str, Any]] = []
        start = time.perf_counter()
        with progress_bar("submitting", total, "commands") as advance, _StopAsked() as stop:
            done = 0

            def commands() -> Iterator[c.Command]:
                for cmd in iter_batch(path):
                    if stop.asked:  # the commands taken so far are decided and written, as one batch
                        return
                    yield cmd

            def on_result(cmd: c.Command, result: Any) -> None:
                nonlocal done
                done += 1
                if done % 500 == 0:
                    advance(done)
                if isinstance(result, (LedgerError, c.InputError)):
                    counts["refused"] += 1
                    refusal = {"command_id": cmd.command_id, "command": c.command_name(cmd),
                               **with_retry(result.as_dict())}
                    refusals.append(refusal)
                    if sink is not None:
                        sink.write(_json_line.encode(refusal) + b"\n")
                else:
                    counts["repeated" if result.repeated else "accepted"] += 1

            with relaxed_gc():  # see infra.heap: a bulk load is the case it is for
                ledger.handle_many(commands(), on_result, batch_size=500)
            if stop.asked:
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        handled = sum(counts.values())
        print(f"interrupted after {handled} of {total if total is not None else '?'} commands: "
              f"{counts['accepted'] + counts['repeated']} of them are in the ledger, {counts['refused']} refused; "
              f"nothing is half-written (each batch is one transaction); run the same command again to continue",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    elapsed = time.perf_counter() - start
    if args.json:
        print_json({**counts, "seconds": round(elapsed, 3), "refusals": refusals})
    else:
        console().print(f"{counts['accepted']} accepted, {counts['repeated']} repeated, {counts['refused']} refused "
                         f"in {elapsed:.1f}s ({total / max(elapsed, 1e-9):.0f} commands/s)")
        if refusals:
            _refusal_summary(refusals, args.refused)
    return EXIT_REFUSED if refusals else EXIT_OK


_json_line = msgspec.json.Encoder()


def _refusal_summary(refusals: list[dict[str, Any]], written_to: str | None) -> None:
    """For people, at any terminal width: the refusals counted per code (most first), then
    the first few in full, one to a paragraph (ids and codes never cut)."""
    from collections import Counter

    from domain.codes import CATALOGUE

    by_code = Counter(r["code"] for r in refusals).most_common()
    table(f"拒绝 {len(refusals)} 条，按代码", ["代码", "条数", "含义"],
          [(code, n, CATALOGUE[code].meaning if code in CATALOGUE else "") for code, n in by_code],
          whole=["代码", "条数"])
    out = console()
    shown = refusals[:SHOWN_REFUSALS]
    out.print(f"前 {len(shown)} 条：" if len(refusals) > len(shown) else "逐条：")
    from rich.padding import Padding
    from rich.text import Text

    for r in shown:
        out.print(f"  {r['command_id']}  {r['command']}  {r['code']}  {r['field'] or ''}".rstrip())
        out.print(Padding(Text(r["message"]), (0, 0, 0, 6), expand=False))  # wrapped lines keep the indent
    if written_to:
        out.print(f"全部 {len(refusals)} 条已写入 {written_to}（JSON Lines）")
    elif len(refusals) > len(shown):
        out.print(f"其余 {len(refusals) - len(shown)} 条：--refused FILE 写出全部（JSON Lines），或 --json")


# ---------------------------------------------------------------------- queries










def _pool(args: argparse.Namespace) -> int:
    from services.queries import check_chain, check_count, check_tier, pool_items

    # --year alone asks for the year's new designations up to its end (or today, in the current year)
    default_as_of = date.today().isoformat()
    if args.year is not None and not args.as_of:
        default_as_of = min(default_as_of, f"{args.year:04d}-12-31")
    as_of = parse_date(args.as_of or default_as_of, "--as-of")
    year = check_count(args.count, args.year, date.fromisoformat(as_of), args.stage, prefix="--")
    args.region = parse_region(args.region)
    ledger = open_ledger(args, create=False)
    check_tier(args.tier, ledger.policy, "--tier")
    check_programme(ledger.policy, args.programme)
    if args.chain:
        check_chain(args.chain, ledger.policy, "--chain")
    rm, as_recorded = read_model(args, ledger)
    try:
        items = pool_items(rm, tier=args.tier, as_of=as_of, level=args.level, region=args.region,
                           programme=args.programme, stage=args.stage, count=args.count, year=year,
                           chain=args.chain)
    finally:
        rm.close()
    if args.json:
        print_json(named_regions({"as_of": as_of, "as_recorded": as_recorded, "tier": args.tier, "level": args.level,
                                  "region": args.region, "stage": args.stage, "counts": args.count, "year": year,
                                  **({"chain": args.chain} if args.chain else {}),
                                  "count": len(items), "items": items}))
        return EXIT_OK
    label = tier_name(ledger, args.programme, args.tier, date.fromisoformat(as_of), args.level)
    lvl = f" {Level(args.level).label}" if args.level else ""
    counted = {"valid": "", "ever": "累计认定", "new": f"{year}年新认定"}[args.count]
    stage = "培育库" if args.stage == "pooled" else counted
    chain = f" · 产业链 {args.chain}" if args.chain else ""
    title = f"{label}{lvl} {stage} · {region_title(args.region)}{chain} · {as_of} · {len(items)}"
    if args.stage == "pooled":
        table(title, ["统一社会信用代码", "企业名称", "地区代码", "地区", "培育体系", "入库日期"],
               [(m.uscc, m.name, m.region, region_label(m.region), m.programme, m.admitted_on) for m in items])
    elif args.count != "valid":
        from reports.figures import batch_label

        table(title, ["统一社会信用代码", "企业名称", "地区代码", "地区", "级别", "产品", "认定日期", "批次",
                      "有效期（至最后一天）"],
              [(d.uscc, d.name, d.region, region_label(d.region), _level_label(d.level), d.product_name or "",
                d.approved_on,
                batch_label(d.batch), f"{d.valid_from} – {d.last_day}") for d in items])
    else:
        table(title, ["统一社会信用代码", "企业名称", "地区代码", "地区", "级别", "产品", "有效期（至最后一天）",
                      "标记"],
               [(d.uscc, d.name, d.region, region_label(d.region), _level_label(d.level), d.product_name or "",
                 f"{d.valid_from} – {d.last_day}",
                 " ".join(f for f, on in (("续期", d.renewal_of), ("待重新确认", d.under_reconfirmation),
                                           ("复核未通过", d.review_failed)) if on))
                for d in items])
    return EXIT_OK


def _level_label(level: str | None) -> str:
    """A designation's level as people read it (国家级, 省级, ...)."""
    return Level(level).label if level is not None and level in Level.__members__ else (level or "")


def _overdue(args: argparse.Namespace) -> int:
    as_of = parse_date(args.as_of or date.today().isoformat(), "--as-of")
    args.region = parse_region(args.region)
    ledger = open_ledger(args, create=False)
    d = date.fromisoformat(as_of)
    national = ledger.policy.in_force("national", d, args.region)  # its province's data deadline, if it sets one
    deadline = national.yearly_data_deadline
    data_year = national.data_year_on(d)  # the year a review on d rests on (rule 5's one home)
    rm, as_recorded = read_model(args, ledger)
    try:
        items = rm.overdue(as_of=as_of, data_year=data_year, region=args.region)
    finally:
        rm.close()
    if args.json:
        print_json(named_regions({"as_of": as_of, "as_recorded": as_recorded, "region": args.region,
                                  "data_year": data_year, "count": len(items), "items": items}))
    else:
        table(f"逾期 · {region_title(args.region)} · {as_of}（{data_year} 年度数据，截止 {deadline}）",
               ["统一社会信用代码", "企业名称", "地区代码", "地区", "类型", "说明"],
               [(i["uscc"], i["name"], i["region"], region_label(i["region"]), i["kind"], i["detail"]) for i in items])
    return EXIT_OK


def _with_name(key: str, value: Any) -> str:
    """A history detail as the table shows it to people: a region code with its name beside
    it, money in 元 and ratios in % (entrypoints.console.detail_text); --json keeps fen and
    basis points."""
    if key in ("region", "new_region") and isinstance(value, str):
        return f"{key}={value} {region_label(value)}"
    return detail_text(key, value)


def _history(args: argparse.Namespace) -> int:
    try:
        msgspec.convert(args.uscc, c.Uscc)
    except msgspec.ValidationError:
        raise c.InputError("uscc", f"{args.uscc!r} is not an 18-character USCC (GB 32100-2015 alphabet)") from None
    moment = parse_moment(args.as_recorded, "--as-recorded") if args.as_recorded else None
    as_of = date.fromisoformat(parse_date(args.as_of, "--as-of")) if args.as_of else None
    h = history(open_ledger(args, create=False), args.uscc, as_of=as_of, as_recorded=moment)
    if args.json:
        print_json(named_regions(msgspec.to_builtins(h)))
        return EXIT_OK
    table(f"{h.name} · {args.uscc} · {region_title(h.region)} · {h.count} 条事件",
           ["#", "业务日期", "事件", "办理机关/人员", "文号", "内容", "记录时间"],
           [(e.version, e.occurred_on, e.type,
             f"{e.actor.authority} {region_label(e.actor.authority)}/{e.actor.person}" if e.actor else "",
             e.document, ", ".join(_with_name(k, v) for k, v in e.details.items() if v not in (None, "", [], {})),
             e.recorded_at.strftime("%Y-%m-%d %H:%M")) for e in h.events])
    return EXIT_OK


def _override_row(owner: Any, o: Any) -> dict[str, Any]:
    """One provincial override (实施细则) as ``policy`` shows it."""
    return {"by": owner.key, "jurisdiction": owner.jurisdiction, "programme": o.programme, "version": o.version,
            "tier": o.tier, "from": o.from_, "sets": o.params(), "source": o.source, "assumption": o.assumption}


def _policy(args: argparse.Namespace) -> int:
    from infra.policy_files import load_policy_book

    try:  # the policy needs no store: asking for it must not create one
        book = load_policy_book(args.policies)
    except ValueError as e:
        raise CliError(str(e), field="--policies") from None
    check_programme(book, args.programme)
    versions = [v for pid in book.programme_ids() if args.programme in (None, pid) for v in book.versions(pid)
                if args.version in (None, v.version)]
    if args.version is not None and not versions:
        known = sorted({v.version for pid in book.programme_ids() if args.programme in (None, pid)
                        for v in book.versions(pid)})
        raise CliError(f"--version: no rule version {args.version!r}"
                       + (f" of {args.programme}" if args.programme else "") + f" (versions: {', '.join(known)})",
                       field="--version")
    if args.sources:
        return _policy_sources(args, versions)
    selected = versions
    region = parse_region(args.region)
    on = date.fromisoformat(parse_date(args.on, "--on")) if args.on else None
    if region is not None and on is None:
        on = date.today()
    rows: list[dict[str, Any]] = []
    for pid in book.programme_ids():
        versions = [v for v in book.versions(pid) if v in selected]
        if on is not None:  # the version in force on the date only, laid over for the region
            try:
                in_force = book.in_force(pid, on, region)
            except LedgerError:
                continue
            if args.version is not None and in_force.version != args.version:
                continue
            if args.programme not in (None, pid):
                continue
            versions = [in_force]
            if region is not None and not region_covers(versions[0].jurisdiction, region):
                continue
        overrides = book.overrides_of(pid)
        for v in versions:
            applicable = [(owner, o) for owner, o in overrides if o.version in (None, v.version)]
            for t in v.tiers:
                rows.append({"programme": pid, "version": v.version, "key": v.key, "effective_from": v.effective_from,
                             "tier": t.id, "name": t.name, "deciding_level": t.deciding_level,
                             "recommend_levels": list(t.recommend_levels), "validity_years": t.validity_years,
                             "validity_start": t.validity_start, "notice_days": t.notice_days,
                             "notice_day_kind": t.notice_day_kind, "review_window_days": t.review_window_days,
                             "renewal": t.renewal, "requires": [r.tier for r in t.requires],
                             "overrides": [_override_row(owner, o) for owner, o in applicable
                                           if o.tier in (None, t.id) and (on is None or region is None)]})
    if args.json:
        print_json(rows)
        return EXIT_OK
    where = f" · {region_title(region)} · {on}" if region is not None else (f" · {on}" if on else "")
    table(f"programmes and tiers{where}", ["programme", "version", "from", "tier", "name", "decides", "recommends",
                                           "years", "starts", "notice", "renewal", "requires"],
          [(r["key"], r["version"], r["effective_from"], r["tier"], r["name"], r["deciding_level"].value,
            ",".join(x.value for x in r["recommend_levels"]), r["validity_years"], r["validity_start"],
            f"{r['notice_days']} {r['notice_day_kind']}", r["renewal"], ",".join(r["requires"])) for r in rows])
    if region is None:
        shown = [_override_row(owner, o) for pid in book.programme_ids() for owner, o in book.overrides_of(pid)]
        if shown:
            table("provincial overrides (实施细则): inside the jurisdiction, over the national default "
                  "(--region CODE shows the rules in force there)",
                  ["by", "where", "overrides", "tier", "from", "sets", "source / assumption"],
                  [(r["by"], f"{r['jurisdiction']} {region_label(r['jurisdiction'])}",
                    f"{r['programme']}@{r['version']}" if r["version"] else r["programme"], r["tier"] or "(programme)",
                    r["from"] or "", ", ".join(f"{k}={v}" for k, v in r["sets"].items()),
                    r["source"] + (f" — assumption: {r['assumption']}" if r["assumption"] else ""))
                   for r in shown])
    return EXIT_OK


def _policy_sources(args: argparse.Namespace, versions: list[Any]) -> int:
    """``policy --sources``: every rule with its source, uncited first, then assumptions, then
    the rules checked against a text (domain.policy.Programme.citations)."""
    cited = [r for v in versions for r in v.citations()]
    order = {id(r): i for i, r in enumerate(cited)}
    cited.sort(key=lambda r: (0 if not r.cited else 1 if r.assumption.strip() else 2, order[id(r)]))
    uncited = sum(1 for r in cited if not r.cited)
    assumed = sum(1 for r in cited if r.cited and r.assumption.strip())
    if args.json:
        print_json([{"programme": r.programme, "version": r.version, "rule": r.rule, "value": r.value,
                     "source": r.source, "assumption": r.assumption, "inherited": r.inherited,
                     "cited": r.cited} for r in cited])
    else:
        table(f"rules and their sources: {len(cited)} rules, {assumed} with an assumption, {uncited} uncited "
              "(\"as X\": no citation of its own, X's applies; --json gives it in full)",
              ["programme", "rule", "value", "source", "assumption"],
              [(r.key, r.rule, r.value, f"as {r.inherited}" if r.inherited else r.source,
                "UNCITED" if not r.cited else f"as {r.inherited}" if r.inherited and r.assumption else
                "" if r.inherited else r.assumption)
               for r in cited])
    return EXIT_OK


def _rebuild(args: argparse.Namespace) -> int:
    from infra.readmodel import ReadModel

    ledger = open_ledger(args, create=False)
    rm = ReadModel(ledger)
    start = time.perf_counter()
    with progress_bar("rebuilding pools", ledger.max_position()) as advance:
        n = rm.rebuild(lambda done, total: advance(done))
    rm.close()
    elapsed = time.perf_counter() - start
    if args.json:
        print_json({"events": n, "seconds": round(elapsed, 3)})
    else:
        console().print(f"rebuilt pools from {n} events in {elapsed:.1f}s")
    return EXIT_OK


def _ask(query: dict[str, Any], as_of: str) -> str:
    """The CLI command that answers one of the demo's pinned queries."""
    if query.get("count") == "batches":
        return f"cultivation report --region {query['region']} --as-of {as_of} --table batches"
    words = ["cultivation pool", f"--tier {query['tier']}"]
    words += [f"--{k} {query[k]}" for k in ("level", "region", "programme", "stage", "chain") if query.get(k)]
    if query.get("count") not in (None, "valid"):
        words.append(f"--count {query['count']}")
    return " ".join([*words, f"--as-of {as_of}"])


def _city_report(rm: Any, ledger: Any, report: Any) -> dict[str, Any]:
    """One report the demo reproduces (scenarios.demo.CITY_REPORTS): each figure beside the
    ledger's answer, and progress against the region's targets (reports.figures)."""
    from reports.figures import target_progress
    from scenarios.demo import DEMO_AS_OF
    from services.queries import count_of

    figures = []
    for f in report.figures:
        as_of = f.query.get("as_of", DEMO_AS_OF)
        figures.append({"label": f.label, "reported": f.reported, "query": f.query, "as_of": as_of,
                        "count": count_of(rm, f.query, DEMO_AS_OF), "expected": f.count, "ask": _ask(f.query, as_of)})
    targets = []
    if report.targets_on:
        for t in target_progress(rm, ledger.policy, as_of=report.targets_on, region=report.region):
            plan = f"{t.target}–{t.target_max}" if t.target_max is not None else str(t.target)
            targets.append({"label": t.label, "target": plan, "by": t.by, "counted_on": t.counted_on,
                            "actual": t.actual, "done": f"{t.share_bp / 100:.1f}%", "kind": t.kind,
                            "source": t.source})
    return {"region": report.region, "name": report.name, "source": report.source, "figures": figures,
            "targets_on": report.targets_on, "targets": targets}


def _demo(args: argparse.Namespace) -> int:
    from infra.readmodel import ReadModel
    from scenarios.demo import CITY_REPORTS, DEMO_AS_OF, EXPECTED, demo_script
    from services.queries import count_of

    ledger = open_ledger(args)
    script = demo_script()
    cmds = [(c.convert_command(obj), expected) for obj, expected in script]
    unexpected: list[str] = []
    start = time.perf_counter()
    expected_of = {cmd.command_id: expected for cmd, expected in cmds}
    with progress_bar("loading demo", len(cmds)) as advance:
        done = 0

        def check(cmd: c.Command, result: Any) -> None:
            nonlocal done
            # a refusal by its code: as_dict() gives it for both (an InputError is always "input.invalid")
            got = result.as_dict()["code"] if isinstance(result, (LedgerError, c.InputError)) else None
            expected = expected_of[cmd.command_id]
            if got != expected:
                unexpected.append(f"{cmd.command_id}: expected {expected or 'acceptance'}, got {got or 'acceptance'}")
            done += 1
            if done % 100 == 0:
                advance(done)

        ledger.handle_many([cmd for cmd, _ in cmds], check)
    elapsed = time.perf_counter() - start
    rm = ReadModel(ledger)
    try:
        results = []
        for query, want in EXPECTED:
            got_n = count_of(rm, query, DEMO_AS_OF)
            # "counts": what the query counts (valid, ever, new, batches); "count": the figure
            results.append({**query, "stage": query.get("stage", "designated"), "counts": query.get("count", "valid"),
                            "as_of": query.get("as_of", DEMO_AS_OF), "count": got_n, "expected": want})
        reports = [_city_report(rm, ledger, report) for report in CITY_REPORTS]
    finally:
        rm.close()
    refused = sum(1 for _, e in script if e)
    if args.json:
        print_json(named_regions({"store": describe(ledger.store), "commands": len(cmds), "expected_refusals": refused,
                                  "unexpected": unexpected, "seconds": round(elapsed, 2), "reports": reports,
                                  "pools": results}))
    else:
        console().print(f"demo loaded into {describe(ledger.store)}: {len(cmds)} commands "
                         f"({refused} refused on purpose, each by the rule it breaks) in {elapsed:.1f}s")
        for r in reports:
            if not r["figures"]:  # a plan with targets only (Hangzhou's 万千百)
                console().print(f"{region_title(r['region'])} · {r['source']}")
            else:
                table(f"{region_title(r['region'])} · {r['source']}", ["figure", "the report", "the ledger", "as of",
                                                                      "ask it"],
                      [(f["label"], f["reported"], f["count"], f["as_of"], f["ask"]) for f in r["figures"]])
            if r["targets"]:
                table(f"{region_title(r['region'])} · targets on {r['targets_on']}",
                      ["target", "the plan", "by", "counted on", "the ledger", "done"],
                      [(t["label"], t["target"], t["by"], t["counted_on"], t["actual"], t["done"])
                       for t in r["targets"]])
        held = sum(1 for x in results if x["count"] == x["expected"])
        console().print(f"and {len(results)} pinned counts of the scenarios around them (scenarios/demo.py "
                        f"EXPECTED): {held} hold" + ("" if held == len(results) else f", {len(results) - held} differ")
                        + "; `--json` lists them")
        console().print("try: cultivation pool --tier little_giant --level national --region 大连市 "
                         "--as-of 2023-07-11")
    bad: list[Any] = unexpected or [r for r in results if r["count"] != r["expected"]]
    if bad:
        print(f"error: the demo did not reproduce its figures: {bad[:10]}", file=sys.stderr)
        return EXIT_REFUSED
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    from entrypoints.serve import Server, serve

    components = tuple(x.strip() for x in args.components.split(",") if x.strip())
    unknown = [x for x in components if x not in Server.COMPONENTS]
    if unknown or not components:
        raise c.InputError("--components", f"{unknown or 'nothing'} not in {list(Server.COMPONENTS)}")
    if args.relay_batch < 1:
        raise c.InputError("--relay-batch", "must be at least 1")
    principals = _principals(args.principals) if args.principals else None
    ledger = open_ledger(args)
    projector = None
    if not args.projector_in_process:  # the same policies and credentials; the store goes by environment
        projector = [sys.executable, "-m", "entrypoints.cli", "serve", "--components", "projector",
                     *(["--policies", args.policies] if args.policies else []),
                     *(["--principals", args.principals] if args.principals else [])]
    return serve(ledger, components=components, relay_batch=args.relay_batch, principals=principals,
                 projector_command=projector)


def _principals(path: str) -> Any:
    """Load a principals file and check every credential can be read (exit 2 naming the field)."""
    from infra.permissions import PrincipalsError, load_principals, server_environment

    try:
        principals = load_principals(path)
        server_environment(principals)  # fail now, not when the server starts; the values are dropped
    except PrincipalsError as e:
        raise c.InputError(f"--principals {path}", f"{e.field}: {e.message}") from None
    return principals


def _permissions(args: argparse.Namespace) -> int:
    from domain.authority import render_level_table
    from infra.permissions import PrincipalsError, load_principals, render_config
    from infra.permissions import describe as describe_principals
    from infra.policy_files import load_policy_book

    try:
        book = load_policy_book(args.policies)
    except ValueError as e:
        raise CliError(str(e), field="--policies") from None
    if args.table:
        print(render_level_table(book))
        return EXIT_OK
    if not args.principals:
        raise c.InputError("--principals", "name the principals file (or ask for --table)")
    try:
        principals = load_principals(args.principals)
    except PrincipalsError as e:
        raise c.InputError(f"--principals {args.principals}", f"{e.field}: {e.message}") from None
    from infra.nats import ledger_names

    try:
        names = ledger_names()  # the subjects and accounts of the ledger CULTIVATION_LEDGER names
    except ValueError as e:
        raise CliError(str(e), field="CULTIVATION_LEDGER") from None
    if args.json:
        print_json(describe_principals(principals, book, names))
    else:
        sys.stdout.write(render_config(principals, book, source=args.principals, names=names))
    return EXIT_OK


def _watch(args: argparse.Namespace) -> int:
    import asyncio

    from entrypoints.serve import watch_pool

    args.region = parse_region(args.region)

    def emit(change: Any) -> None:
        d = change.designation
        if args.json:
            print_json(named_regions(change))
        else:
            state = "valid" if d.status == "approved" and not d.revoked_on and not d.ended_on else d.status
            if d.revoked_on:
                state = f"revoked {d.revoked_on}"
            print(f"#{change.position} {d.tier} {d.level} {d.region} {region_label(d.region)} {d.uscc} {d.name} "
                  f"{state} {d.valid_from or ''}–{d.last_day or ''}", flush=True)

    try:
        asyncio.run(watch_pool(args.tier, args.region, args.count, args.timeout, emit))
    except RuntimeError as e:
        raise CliError(str(e), EXIT_REFUSED) from None
    return EXIT_OK


# ---------------------------------------------------------------------- parser
def _help_names(argv: Sequence[str]) -> dict[str, str]:
    """For ``--help`` only: what the policy (``--policies``, else the shipped one) names per
    command field, for the flags' help (entrypoints.console.policy_names); {} otherwise, or
    when the policy cannot be read (the command itself then says why)."""
    if not {"-h", "--help"} & set(argv):
        return {}
    from infra.policy_files import load_policy_book

    folder = None
    for i, a in enumerate(argv):
        if a == "--policies" and i + 1 < len(argv):
            folder = argv[i + 1]
        elif a.startswith("--policies="):
            folder = a.partition("=")[2]
    try:
        return policy_names(load_policy_book(folder))
    except (ValueError, OSError):
        return {}


def _query_help(field: str, what: str, names: dict[str, str]) -> str:
    """A query flag naming a programme or tier: what it is, and (with --help) the policy's names."""
    listed = names.get(field)
    return (f"{what}; in the policy: {listed}" if listed else f"{what} (`cultivation policy` lists them)").replace(
        "%", "%%")


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; ``argv`` asking for ``--help`` makes the flags' help list the policy's names."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", default=argparse.SUPPRESS,
                        help="store: a SQLite path or postgresql://… (default: $CULTIVATION_DB, else "
                             "$CULTIVATION_HOME/ledger.db)")
    common.add_argument("--policies", default=argparse.SUPPRESS, metavar="DIR",
                        help="folder of programme TOML files (default: the shipped ones)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="on an internal error (exit 3), print the traceback too")

    parser = argparse.ArgumentParser(
        prog="cultivation", parents=[common],
        description="Event-sourced ledger of the tiered cultivation of quality SMEs (优质中小企业梯度培育).",
        epilog="Exit codes: 0 ok, 1 refused by a rule, 2 malformed input (or a store or output file that cannot "
               "be used as named), 3 internal error or a store that does not answer (--debug for the traceback).")
    sub = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    names = _help_names(argv or ())

    p = sub.add_parser("demo", parents=[common], help="load the demo dataset (Huludao and more) and print the pools",
                       description="Load a realistic multi-year dataset into the store and print the pools. "
                                   "Idempotent: running it again on the same store writes nothing.")
    p.set_defaults(func=_demo)

    p = sub.add_parser("pool", parents=[common], help="designations valid on a business date",
                       description="The designations of a tier valid on a business date (valid_from <= d < "
                                   "valid_until, not revoked), or the cultivation pool (培育库) with --stage pooled, "
                                   "each as it stood on that date: its validity, name and region then, nothing "
                                   "dated after it. The table shows the last valid day (有效期至); --json keeps the "
                                   "exclusive valid_until and adds last_day. With --as-recorded, only what the "
                                   "ledger had recorded by that ledger time.")
    p.add_argument("--tier", required=True, help=_query_help("tier", "the tier", names))
    p.add_argument("--level", type=choice_type(level_labels(), "level"), metavar="{" + ",".join(level_labels()) + "}",
                   help="only designations of this level: " + c.choices_text(level_labels()))
    p.add_argument("--region", metavar="REGION", help=REGION_HELP)
    p.add_argument("--programme", help=_query_help("programme", "only this programme", names))
    p.add_argument("--as-of", metavar="YYYY-MM-DD", help="business date (default: today)")
    p.add_argument("--stage", choices=["designated", "pooled"], default="designated",
                   help="designated: the designations (default); pooled: the cultivation pool (培育库)")
    p.add_argument("--count", choices=list(COUNTS), default="valid",
                   help="what to count: " + "; ".join(f"{k}: {v}" for k, v in COUNTS.items())
                        + " (default: valid). ever and new list one row per subject (enterprise, or product), "
                          "its first approval")
    p.add_argument("--year", type=int, metavar="YYYY",
                   help="with --count new: the year (default: that of --as-of; --as-of defaults to its 31 December)")
    p.add_argument("--chain", metavar="[PROGRAMME/]CHAIN",
                   help="only enterprises tagged on this industrial chain on the date (一链一策一批), e.g. "
                        "zhejiang/intelligent_equipment")
    p.add_argument("--as-recorded", metavar="TIME", help=AS_RECORDED_HELP)
    p.set_defaults(func=_pool)

    p = sub.add_parser("overdue", parents=[common], help="overdue lists: yearly data not filed, changes reported late",
                       description="Rule 7's overdue lists on a business date: designated enterprises whose yearly "
                                   "data for the last year due is not filed, and changes reported after their "
                                   "deadline.")
    p.add_argument("--region", metavar="REGION", help=REGION_HELP)
    p.add_argument("--as-of", metavar="YYYY-MM-DD", help="business date (default: today)")
    p.add_argument("--as-recorded", metavar="TIME", help=AS_RECORDED_HELP)
    p.set_defaults(func=_overdue)

    p = sub.add_parser("history", parents=[common], help="an enterprise's full trail with actors and documents")
    p.add_argument("uscc")
    p.add_argument("--as-of", metavar="YYYY-MM-DD", help="only the events dated on or before this business date")
    p.add_argument("--as-recorded", metavar="TIME", help="only what the ledger had recorded by this ledger time")
    p.set_defaults(func=_history)

    p = sub.add_parser("submit", parents=[common], help="handle a JSON Lines file of commands (- for stdin)",
                       description="Handle every command of a JSON Lines file in order. Malformed lines refuse the "
                                   "whole file (exit 2); refused commands are listed and the rest go on (exit 1).")
    p.add_argument("file")
    p.add_argument("--refused", metavar="FILE",
                   help="write every refusal to FILE, one JSON object a line (command_id, command, code, rule, "
                        "field, message); an existing FILE only with --force")
    p.add_argument("--force", action="store_true", help="replace --refused FILE if it exists")
    p.add_argument("--cache", type=_count, default=None, metavar="N",
                   help=f"aggregates kept between batches, 0 or more (default $CULTIVATION_AGGREGATE_CACHE, else "
                        f"{SUBMIT_CACHE:,}, some 6-8 KB each: on the national history 41 %% of the commands "
                        f"find their enterprise kept, 6 %% with 20,000)")
    p.set_defaults(func=_submit)

    p = sub.add_parser("rebuild", parents=[common], help="rebuild the pool read model from the first event")
    p.set_defaults(func=_rebuild)

    p = sub.add_parser("serve", parents=[common],
                       help="run the ledger as a NATS service (commands, relay, projections)",
                       description="Start the embedded NATS (unless NATS_URL), the command service "
                                   "(cultivation.cmd.<authority>.<command>), the relay to the CULTIVATION_EVENTS "
                                   "stream and the "
                                   "live projections (KV bucket cultivation_pools, cultivation.pool.*, "
                                   "cultivation.audit.*). SIGTERM drains in-flight work and exits 0. Settings: "
                                   "CULTIVATION_LEDGER (the ledger's name, prefixing every stream, bucket and "
                                   "subject; default cultivation), CULTIVATION_REPLICAS (1-5; default 3 on a "
                                   "cluster of three or more), CULTIVATION_RELAY_LEASE (seconds a relay's lease "
                                   "lives; default 5: relays on several machines, one publishes), "
                                   "CULTIVATION_NATS_PATIENCE (seconds to wait for NATS at start; default 60). "
                                   "The command service answers while JetStream is out of reach; the relay and "
                                   "the projector start when it answers.")
    p.add_argument("--components", default="service,relay,projector",
                   help="which parts to run, comma-separated (default: all three; run them in separate processes "
                        "to scale or isolate them)")
    p.add_argument("--relay-batch", type=int, default=500, metavar="N", help="events per pipelined relay batch")
    p.add_argument("--projector-in-process", action="store_true",
                   help="run the projector in this process (by default, beside other components, it runs as a "
                        "child process `serve --components projector`, so that it has a core of its own)")
    p.add_argument("--principals", metavar="FILE",
                   help="principals file (TOML): start the embedded NATS with the permissions derived from it and "
                        "the policy, and connect as its service user (see `cultivation permissions`)")
    p.set_defaults(func=_serve)

    p = sub.add_parser("permissions", parents=[common],
                       help="print the nats-server authorization for a principals file",
                       description="Derive, from the policy and a principals file, what each principal may publish "
                                   "and subscribe to, and print the nats-server `accounts` block, one account per "
                                   "principal "
                                   "(no secret in "
                                   "it: passwords are variables of the server's environment). --json lists each "
                                   "principal's commands with the policy reasons; --table prints the per-level table.")
    p.add_argument("--principals", metavar="FILE")
    p.add_argument("--table", action="store_true", help="print the per-level table of commands instead")
    p.set_defaults(func=_permissions)

    p = sub.add_parser("watch", parents=[common], help="print pool changes live (watch pool)",
                       description="Print pool changes as the live projection publishes them. Connects to NATS_URL "
                                   "or to the server a local `cultivation serve` started.")
    p.add_argument("what", choices=["pool"])
    p.add_argument("--tier", help=_query_help("tier", "only this tier", names))
    p.add_argument("--region", metavar="REGION", help=REGION_HELP)
    p.add_argument("--count", type=int, help="stop after this many changes")
    p.add_argument("--timeout", type=float, help="stop after this many seconds")
    p.set_defaults(func=_watch)

    p = sub.add_parser("policy", parents=[common], help="list the programmes, rule versions and tiers",
                       description="The programmes, rule versions and tiers of the policy files (--policies). "
                                   "With --sources, every rule (each tier and its windows, threshold, scheme, "
                                   "fund, target, ...) with the document and article it comes from, or the "
                                   "assumption made where no text was checked: uncited rules first, then "
                                   "assumptions, then the rules checked against a text.  Also the provincial "
                                   "overrides (实施细则) the files lay over the national rules; with --region, "
                                   "the rules in force there on --on (default today), overrides applied.")
    p.add_argument("--sources", action="store_true",
                   help="list every rule with its source and assumption instead of the tiers")
    p.add_argument("--programme", metavar="ID",
                   help="only this programme (national, liaoning, zhejiang, qingdao, dalian, ...)")
    p.add_argument("--version", metavar="VERSION",
                   help="only this rule version (e.g. 2022, 2026 of national)")
    p.add_argument("--region", help="the tiers as they apply to an enterprise in this region: " + REGION_HELP)
    p.add_argument("--on", help="the business date (YYYY-MM-DD) whose rule versions to show")
    p.set_defaults(func=_policy)

    from entrypoints.cli_audit import add_parser as add_audit_parser

    add_audit_parser(sub, common)

    from entrypoints.cli_report import add_report_parser

    add_report_parser(sub, common)

    from entrypoints.cli_generate import add_generate_parser

    add_generate_parser(sub, common)

    from entrypoints.cli_status import add_status_parser

    add_status_parser(sub, common)

    from entrypoints.cli_codes import add_codes_parser

    add_codes_parser(sub, common)

    from entrypoints.cli_api import add_api_parser

    add_api_parser(sub, common)

    for tag, ctype in c.COMMAND_TYPES.items():
        _add_command_parser(sub, tag, ctype, [common], names)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand and return its exit code: 0 accepted, 1 refused by a rule, 2
    malformed input (or a store / output file that cannot be used as named), 3 an internal
    error or an unanswering store.  Nothing a user typed ends in a traceback; an internal
    error is one line, its traceback only with ``--debug``."""
    from infra.files import OutputError

    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    for name, default in (("db", None), ("policies", None), ("json", False), ("debug", False)):
        if not hasattr(args, name):
            setattr(args, name, default)

    def fail(error: dict[str, Any], line: str, code: int, extra: dict[str, Any] | None = None) -> int:
        if args.json:
            try:
                print_json({"ok": False, **(extra or {}), "error": with_retry(error)})
            except OSError:  # stdout gone (a closed pipe): the exit code still tells
                pass
        print(line, file=sys.stderr)
        return code

    try:
        return int(args.func(args))
    except c.InputError as e:
        return fail(e.as_dict(), f"error: {e.field}: {e.message}", EXIT_INPUT)
    except OutputError as e:
        return fail({"code": "output.refused", "rule": "input", "field": e.field, "message": e.message},
                    f"error: {e.field}: {e.message}", EXIT_INPUT)
    except LedgerError as e:
        return fail(e.as_dict(), f"refused: {e}", e.exit_code)
    except CliError as e:
        return fail(e.as_dict(), f"error: {e}", e.code, e.extra)
    except Exception as e:  # a defect or a failing surrounding: one line, the traceback on request
        if args.debug:
            import traceback

            traceback.print_exc()
        detail = " ".join(str(e).split())[:300]
        return fail({"code": "internal", "rule": "internal", "field": None,
                     "message": f"{type(e).__name__}: {detail}"},
                    f"internal error: {type(e).__name__}: {detail}"
                    + ("" if args.debug else " (run again with --debug for the traceback)"), EXIT_INTERNAL)


if __name__ == "__main__":
    # Run the module's importable copy: ``python -m entrypoints.cli`` would otherwise make this
    # file ``__main__`` and its error classes differ from those other modules import and raise.
    from entrypoints.cli import main as _main

    sys.exit(_main())
