"""What every entry point of the command line shares: exit codes, the one-line failure
(:class:`CliError`), the console (rich, no markup: names come from whoever sent the
commands), JSON on standard output, tables, the progress bar, the ledger named by ``--db``,
and the parsing of the values people type (dates, region codes, ledger times) into the
checked forms the service layer takes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

import msgspec

from domain.codes import Code
from domain.errors import LedgerError
from services import commands as c

EXIT_OK, EXIT_REFUSED, EXIT_INPUT, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a process stopped by Ctrl-C
_json = msgspec.json.Encoder()


class CliError(Exception):
    """A failure the CLI reports in one line (and, with ``--json``, as a JSON refusal with
    ``error_code`` and any ``extra`` keys); ``code`` is the exit code."""

    def __init__(self, message: str, code: int = EXIT_INPUT, *, error_code: Code = "input.invalid",
                 field: str | None = None, extra: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.error_code = error_code
        self.field = field
        self.extra = extra or {}

    def as_dict(self) -> dict[str, Any]:
        rule = {EXIT_INPUT: "input", EXIT_INTERNAL: "internal"}.get(self.code, "cli")
        return {"code": self.error_code, "rule": rule, "field": self.field, "message": str(self)}


def console(stderr: bool = False):  # type: ignore[no-untyped-def]
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # Piped output keeps whole lines (grep, less), a terminal gets its own width.  No markup,
    # no emoji codes: names and ids come from whoever sent the commands, and "[/]" in a name
    # must print as itself, not break (or restyle) the table.
    return Console(stderr=stderr, highlight=False, soft_wrap=False, markup=False, emoji=False,
                   width=None if stream.isatty() else 240)


def print_json(obj: Any) -> None:
    sys.stdout.write(_json.encode(obj).decode() + "\n")


@contextmanager
def progress_bar(label: str, total: int | None, unit: str | None = None) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr when it is a terminal; silent otherwise.  ``unit`` names what
    is counted ("12000/819000 commands")."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               *([TextColumn(unit)] if unit else []), TimeRemainingColumn()]
    with Progress(*columns, console=console(stderr=True), disable=not sys.stderr.isatty(), transient=True) as p:
        task = p.add_task(label, total=total)
        yield lambda n: p.update(task, completed=n)


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], whole: Sequence[str] = ()) -> None:
    """A table for people on standard output; the columns named in ``whole`` (ids, codes) are
    never wrapped nor cut: the others give way to a narrow terminal."""
    from rich.table import Table

    t = Table(title=title, title_justify="left", show_lines=False)
    for col in columns:
        t.add_column(col, no_wrap=col in whole, min_width=len(col) if col in whole else None)
    for r in rows:
        t.add_row(*["" if v is None else str(v) for v in r])
    console().print(t)


def open_ledger(args: argparse.Namespace, *, create: bool = True,  # type: ignore[no-untyped-def]
                cache_size: int | None = None):
    """The ledger on the store ``--db`` names, keeping ``cache_size`` aggregates between
    commands (None: the ledger's default).  A read (``create=False``) never makes a
    ledger where there is none: it is refused naming the store (exit 2), as are an unknown
    scheme, a directory, a bad query value; a server that does not answer is exit 3."""
    from infra.store import StoreError, StoreUnavailable, check_store, store_url
    from services.ledger import Ledger

    url = store_url(args.db)
    try:
        check_store(url, create=create)
        return Ledger(db=url, policies=args.policies, cache_size=cache_size)
    except StoreUnavailable as e:
        raise CliError(str(e), EXIT_INTERNAL, error_code="store.unavailable", field="--db") from None
    except StoreError as e:
        raise CliError(str(e), error_code="store.invalid", field="--db") from None
    except ValueError as e:  # a bad policy file
        raise CliError(str(e)) from None


def tier_name(ledger: Any, programme: str | None, tier: str, on: date, level: str | None = None) -> str:
    """The Chinese label of ``tier``: from ``programme``, else from the programme whose tier is
    decided at ``level``, the national programme first."""
    ids = ledger.policy.programme_ids()
    candidates = [programme] if programme else sorted(ids, key=lambda p: p != "national")
    for p in candidates:
        try:
            t = ledger.policy.in_force(p, on).tier(tier)
        except LedgerError:
            continue
        if level is None or t.deciding_level == level:
            return t.name
    if programme:  # a tier the programme no longer has (单项冠军 stored under national): its name now
        moved = ledger.policy.tier_for_label(programme, tier, on)
        if moved is not None:
            return moved.name
    return tier


def parse_date(value: str, field: str) -> str:
    from services.queries import check_query_date

    try:
        d = date.fromisoformat(value)
    except ValueError:
        raise c.InputError(field, f"{value!r} is not a date in YYYY-MM-DD form") from None
    check_query_date(d, field)
    return d.isoformat()


def parse_region(value: str | None, field: str = "--region") -> str | None:
    """The region a person names on the command line, as its GB/T 2260 code: a code the
    table knows (``211400``) or a name (``葫芦岛市``, ``葫芦岛``, ``南京市鼓楼区``); an ambiguous
    name is refused listing its candidates, an unknown code or name listing the nearest
    known ones (exit 2 naming the flag).  ``domain.regions`` has the table and the rule."""
    if value is None:
        return None
    from domain.regions import resolve_region
    from domain.values import Region

    try:
        code = resolve_region(value)
        Region(code)
    except ValueError as e:  # a RegionError, with its candidates in the message
        raise c.InputError(field, str(e)) from None
    return code


def region_label(code: str | None) -> str:
    """The name a table shows beside a region's code (全国 for none; for a code the GB/T 2260
    table lacks, the division above it that it has)."""
    from domain.regions import region_display, region_name

    if code is None:
        return "全国"
    return region_name(code) or region_display(code)


def region_title(code: str | None) -> str:
    """A region in a title: its name and code (葫芦岛市 (211400)), or 全国."""
    from domain.regions import region_display

    return region_display(code)


def named_regions(obj: Any) -> Any:
    """``obj`` (a Struct, dict or list of them) as JSON-ready builtins with ``region_name``
    beside every region code (``domain.regions.name_regions``)."""
    from domain.regions import name_regions

    return name_regions(msgspec.to_builtins(obj))


REGION_HELP = ("a province, city or county: its GB/T 2260 code or its name (211400, 葫芦岛市, 葫芦岛, 南京市鼓楼区); "
               "an ambiguous or unknown name is refused with the candidates")
AS_RECORDED_HELP = ("answer as the ledger stood at this ledger time (ISO 8601; a date means its end, UTC): facts "
                    "recorded later are invisible, facts dated after --as-of do not count")


def read_model(args: argparse.Namespace, ledger: Any) -> tuple[Any, dict[str, Any] | None]:
    """The read model a query answers from: the store's own, or with ``--as-recorded T`` a
    scratch one folded up to the last position recorded by T (the two clocks composed:
    ``--as-of`` then picks each row's version on the business date).  Returns it and
    ``{"time", "position"}`` of the recorded time (None without one)."""
    from infra.integrity import position_recorded_by
    from infra.readmodel import ReadModel
    from services.queries import parse_moment, recorded_read_model

    if not getattr(args, "as_recorded", None):
        return ReadModel(ledger), None
    moment = parse_moment(args.as_recorded, "--as-recorded")
    with progress_bar("replaying to the recorded time", position_recorded_by(ledger, moment)) as advance:
        rm, at = recorded_read_model(ledger, moment, lambda done, total: advance(done))
    return rm, msgspec.to_builtins(at)


# ---------------------------------------------------------------------- choices for people
def choice_type(labels: dict[str, str], what: str) -> Callable[[str], str]:
    """An argparse ``type`` for a flag taking one of ``labels``: an identifier passes, anything
    else (a Chinese label too) is answered with the valid ones, identifiers and labels (exit 2).

    >>> choice_type({"county": "县级"}, "level")("县级")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: '县级' is the label of county: give the identifier county (valid: county (县级))
    """
    def check(value: str) -> str:
        if value in labels:
            return value
        raise argparse.ArgumentTypeError(c.unknown_choice(value, labels, what))

    check.__name__ = what  # argparse names the type in some messages
    return check


def level_labels() -> dict[str, str]:
    """The levels (级别) with their labels: national (国家级), provincial (省级), ..."""
    from domain.values import Level

    return {lv.value: lv.label for lv in Level}


def check_programme(book: Any, programme: str | None, field: str = "--programme") -> None:
    """A programme the policy book lacks is malformed input naming ``field``, answered with
    the programmes and their Chinese names (a typo must not look like an empty answer)."""
    ids = book.programme_ids()
    if programme is not None and programme not in ids:
        labels = {pid: book.versions(pid)[-1].name for pid in ids}
        raise c.InputError(field, c.unknown_choice(programme, labels, "programme"))


def _by_programme(groups: dict[str, dict[str, str]]) -> str:
    return "; ".join(f"{pid}: {c.choices_text(labels)}" for pid, labels in groups.items() if labels)


def policy_names(book: Any, on: date | None = None) -> dict[str, str]:
    """What the policy in force on ``on`` (default today) names, per command field, as the
    flag help lists it: programmes, tiers, schemes, recognitions and chains per programme,
    the assessment's components, indicators and direct-pass claims."""
    on = on or date.today()
    versions = {}
    for pid in book.programme_ids():
        try:
            versions[pid] = book.in_force(pid, on)
        except LedgerError:  # not in force yet, or any more: its latest version
            versions[pid] = book.versions(pid)[-1]
    components: dict[str, list[str]] = {}
    indicators: set[str] = set()
    direct: dict[str, list[str]] = {}
    for pid, v in versions.items():
        for t in v.tiers:
            a = t.assessment
            if a is None:
                continue
            for name in a.min_components:
                components.setdefault(name, []).append(f"{pid}/{t.id}")
            for d in a.direct_pass:
                direct.setdefault(d, []).append(f"{pid}/{t.id}")
            indicators.update(b.indicator for cr in a.criteria for b in cr.any_of)
    ind = ", ".join(sorted(indicators))
    return {
        "programme": c.choices_text({pid: v.name for pid, v in versions.items()}),
        "tier": _by_programme({pid: {t.id: t.name for t in v.tiers} for pid, v in versions.items()}),
        "scheme": _by_programme({pid: {s.id: s.name for s in v.schemes} for pid, v in versions.items()}),
        "recognition": _by_programme({pid: {r.id: r.name for r in v.recognitions} for pid, v in versions.items()}),
        "chain": _by_programme({pid: {ch.id: ch.name for ch in v.chains} for pid, v in versions.items()}),
        "components": ", ".join(f"{k} ({', '.join(v)})" for k, v in sorted(components.items())),
        "direct_pass": ", ".join(f"{k} ({', '.join(v)})" for k, v in sorted(direct.items())),
        "indicators": ind,
        "yearly_indicators": ind,
    }


# ---------------------------------------------------------------------- amounts for people
def yuan_text(fen: int) -> str:
    """Integer fen as 元 for people (the ledger and --json keep fen).

    >>> yuan_text(18900000000), yuan_text(5), yuan_text(-120)
    ('189,000,000元', '0.05元', '-1.20元')
    """
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}" + (f".{cents:02d}" if cents else "") + "元"


def percent_text(bp: int) -> str:
    """Basis points as a percentage for people (1% = 100 bp).

    >>> percent_text(600), percent_text(878), percent_text(8584), percent_text(5), percent_text(-250)
    ('6%', '8.78%', '85.84%', '0.05%', '-2.5%')
    """
    sign = "-" if bp < 0 else ""
    whole, frac = divmod(abs(bp), 100)
    return f"{sign}{whole}" + (f".{frac:02d}".rstrip("0") if frac else "") + "%"


def detail_text(key: str, value: Any) -> str:
    """``key=value`` of an event's details for people: a ``*_fen`` amount in 元 and a ``*_bp``
    ratio in % under the name without its unit, inside indicators (and yearly ones) too.

    >>> detail_text("revenue_fen", 18900000000), detail_text("rd_ratio_bp", 600), detail_text("score", 69)
    ('revenue=189,000,000元', 'rd_ratio=6%', 'score=69')
    >>> detail_text("indicators", {"revenue_fen": 4290000000, "niche_years": 4})
    'indicators={revenue 42,900,000元; niche_years 4}'
    >>> detail_text("yearly_indicators", {"2024": {"rd_ratio_bp": 878}})
    'yearly_indicators={2024: {rd_ratio 8.78%}}'
    """
    return "=".join(_shown(key, value))


def _shown(key: str, value: Any) -> tuple[str, str]:
    if isinstance(value, int) and not isinstance(value, bool):
        if key.endswith("_fen"):
            return key[:-4], yuan_text(value)
        if key.endswith("_bp"):
            return key[:-3], percent_text(value)
    if isinstance(value, dict):
        return key, "{" + "; ".join(" ".join(_shown(str(k), v)) if not isinstance(v, dict)
                                    else f"{k}: {_shown(str(k), v)[1]}" for k, v in value.items()) + "}"
    return key, str(value)
