"""Rule 2 as the policy grants it: which commands an authority may issue at all.

docs/domain.md, rule 2 (Authority): "Only the tier's deciding level approves, reviews or
revokes; only an authority of a recommending level whose region covers the enterprise
recommends; decisions stay inside the programme's jurisdiction."  Which level decides,
which assesses and holds the notice (公示), and which recommends each tier, each programme's
jurisdiction and each scheme's granting authority are policy (``deciding_level``,
``assessing_level``, ``notice_level``, ``recommend_levels``, ``jurisdiction`` and
``granted_by`` in ``policies/*.toml``); this module derives from them, for one authority
code, the commands it may send and why (:func:`grants`), and per level the permission table
the README shows (:func:`render_level_table`).

Two layers apply the rule and neither trusts the other: the bus lets an authority publish
only the commands :func:`allowed_commands` gives it (``infra.permissions`` renders them as
NATS accounts and subjects), and the aggregate (``domain.enterprise``: ``_require_decider``,
``recommend``, ``grant_reward``) refuses any single decision outside the actor's level,
region and programme, whatever the transport.  The grants are the coarse filter (the
subject names the command, not the tier): a city without a programme of its own can never
send ``approve``; Qingdao, which decides its own "131" tiers and, as a 计划单列市, the national
专精特新 of its own enterprises, still cannot approve a little giant or a Huludao enterprise's
专精特新.  A 计划单列市 acts at provincial level in the national programme (its districts at
municipal level): the level is :meth:`~domain.policy.Programme.authority_level`, per programme.

>>> from policies import SHIPPED
>>> from domain.policy import decode_programme
>>> book = PolicyBook([decode_programme(f.read_bytes()) for f in sorted(SHIPPED.glob("*.toml"))])
>>> allowed_commands("211402", book) == ANY_AUTHORITY   # a county: registration, filings, recorded facts
True
>>> ANY_AUTHORITY[-6:]
('file_yearly_data', 'report_change', 'record_loan', 'record_repayment', 'record_credit_listing', 'record_group')
>>> "recommend" in allowed_commands("211400", book), "approve" in allowed_commands("211400", book)
(True, False)
>>> [c for c in ASSESSING + NOTICING if c in allowed_commands("211400", book)]   # a city reviews and notices 创新型
['assess', 'open_notice', 'resolve_objection']
>>> "approve" in allowed_commands("370200", book)   # Qingdao decides its own "131" tiers
True
>>> "approve" in allowed_commands("210200", book)   # Dalian, a 计划单列市: provincial level in the national programme
True
>>> "recommend" in allowed_commands("210213", book)   # a Dalian district recommends where a city would
True
>>> [c for c in ("approve", "grant_reward") if c in allowed_commands("000000", book)]
['approve', 'grant_reward']
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from domain.policy import PolicyBook, Programme
from domain.values import NATIONAL_REGION, Level, Region, region_covers

# What the domain asks of the actor of each command (domain/enterprise.py).  A test
# checks that these groups cover services.commands.COMMAND_TYPES exactly.
ANY_AUTHORITY = ("register", "admit_to_pool", "remove_from_pool", "apply", "object", "withdraw",
                 "file_yearly_data", "report_change", "record_loan",
                 "record_repayment", "record_credit_listing",
                 "record_group")  # any authority covering the enterprise's region
RECOMMENDING = ("recommend", "reject")  # a tier's recommending level (reject: before it is sent upwards)
ASSESSING = ("assess",)  # a tier's assessing level (assessed_at: the city for 创新型 under 63号)
NOTICING = ("open_notice", "resolve_objection")  # a tier's notice level (noticed_at), who holds the 公示
DECIDING = ("approve", "reject", "review", "revoke", "reconfirm",
            "annul")  # a tier's deciding level, inside the programme's jurisdiction
JURISDICTION = ("reconfirm",)  # the programme's own authority, after the enterprise moved away
GRANTING = ("grant_reward", "claw_back")  # exactly the scheme's granting authority
RECOGNISING = ("recognise_product",)  # an authority a programme's recognition (首台套) names
TAGGING = ("tag_chain",)  # inside the jurisdiction of a programme with industrial chains

COMMAND_ORDER = ("register", "admit_to_pool", "remove_from_pool", "apply", "object", "withdraw",
                 "file_yearly_data", "report_change", "record_loan", "record_repayment", "record_credit_listing",
                 "record_group", "recommend", "reject",
                 "assess", "open_notice", "resolve_objection", "approve", "review", "revoke", "reconfirm", "annul",
                 "grant_reward", "claw_back", "recognise_product", "tag_chain")


def _programmes(book: PolicyBook) -> Iterable[Programme]:
    for pid in book.programme_ids():
        yield from book.versions(pid)


def grants(authority: str, book: PolicyBook) -> dict[str, tuple[str, ...]]:
    """The commands authority ``authority`` may issue, each with the policy reasons.

    Every rule version counts (a command dated in 2020 is judged by the 2018 rules), and
    a programme counts only inside its jurisdiction: Liaoning's provincial little giant
    makes 210000 a decider, not 330000.

    >>> from policies import SHIPPED
    >>> from domain.policy import decode_programme
    >>> book = PolicyBook([decode_programme(f.read_bytes()) for f in sorted(SHIPPED.glob("*.toml"))])
    >>> g = grants("210000", book)
    >>> g["grant_reward"]
    ('liaoning@2019 new_national_little_giant: granted by 210000',)
    >>> g["approve"][:2]
    ('liaoning@2019 little_giant: decided at provincial level', 'liaoning@2019 product: decided at provincial level')
    """
    return _derive(Region(authority).level, authority, book)


def acting_levels(authority: str, book: PolicyBook) -> dict[str, str]:
    """The programmes in which ``authority`` acts at another level than its code says (a
    计划单列市 in the national programme), with that level.

    >>> from policies import SHIPPED
    >>> from domain.policy import decode_programme
    >>> book = PolicyBook([decode_programme(f.read_bytes()) for f in sorted(SHIPPED.glob("*.toml"))])
    >>> acting_levels("210200", book), acting_levels("210213", book), acting_levels("211400", book)
    ({'champion': 'provincial', 'national': 'provincial'}, {'champion': 'municipal', 'national': 'municipal'}, {})
    """
    return {p.id: p.authority_level(authority) for p in _programmes(book)
            if region_covers(p.jurisdiction, authority) and p.authority_level(authority) != Region(authority).level}


def allowed_commands(authority: str, book: PolicyBook) -> tuple[str, ...]:
    """The command names ``authority`` may publish, in a fixed order."""
    return tuple(grants(authority, book))


def _derive(level: str, authority: str | None, book: PolicyBook,
            jurisdictions: Iterable[str] = (NATIONAL_REGION,),
            programme_id: str | None = None) -> dict[str, tuple[str, ...]]:
    """Grants for ``authority``, or (``authority`` None) for any code of ``level`` from the
    programmes of ``jurisdictions`` only (of ``programme_id`` only, when given)."""
    reasons: dict[str, list[str]] = {c: ["any authority covering the enterprise's region"] for c in ANY_AUTHORITY}

    def add(commands: tuple[str, ...], why: str) -> None:
        for c in commands:
            reasons.setdefault(c, []).append(why)

    for p in _programmes(book):
        if programme_id is not None and p.id != programme_id:
            continue
        if authority is None:
            if p.jurisdiction not in jurisdictions:
                continue
        elif not region_covers(p.jurisdiction, authority):
            continue
        # the level the authority acts at in this programme: a 计划单列市 at provincial level
        lv = p.authority_level(authority) if authority else level
        city = p.provincial_level_city(authority) if authority else None
        at = f"{lv} level" + (f" (计划单列市 {city})" if city and lv != Region(authority or "").level else "")
        for t in p.tiers:
            if lv in t.recommend_levels:
                add(RECOMMENDING, f"{p.key} {t.id}: recommended at {at}")
            if t.assessed_at == lv:
                add(ASSESSING, f"{p.key} {t.id}: assessed at {at}")
            if t.noticed_at == lv:
                add(NOTICING, f"{p.key} {t.id}: noticed at {at}")
            if t.deciding_level == lv:
                add(DECIDING, f"{p.key} {t.id}: decided at {at}")
        own = p.jurisdiction == authority if authority else Region(p.jurisdiction).level == level
        if own and p.tiers:  # (a programme of schemes only has no designation to re-confirm)
            add(JURISDICTION, f"{p.key}: the programme's own authority")
        for s in p.schemes:
            granter = s.granted_by == authority if authority else (
                Region(s.granted_by).level == level and s.granted_by in jurisdictions)
            if granter:
                add(GRANTING, f"{p.key} {s.id}: granted by {s.granted_by}")
        for r in p.recognitions:
            recogniser = authority in r.recognised_by if authority else any(
                Region(code).level == level and code in jurisdictions for code in r.recognised_by)
            if recogniser:
                add(RECOGNISING, f"{p.key} {r.id}: recognised by {', '.join(r.recognised_by)}")
        inside = authority is not None or Level(level).rank <= Level(Region(p.jurisdiction).level).rank
        if p.chains and inside:
            add(TAGGING, f"{p.key}: industrial chains {', '.join(ch.id for ch in p.chains)}")
    return {c: tuple(dict.fromkeys(reasons[c])) for c in COMMAND_ORDER if c in reasons}


class LevelRow(msgspec.Struct, frozen=True, kw_only=True):
    """One row of the permission table: what every authority of ``level`` may publish,
    and what more some of them may, where a programme or a scheme says so."""

    level: str
    codes: str
    everywhere: tuple[str, ...]
    where: tuple[tuple[str, tuple[str, ...]], ...]  # (command, scopes)


_CODES = {"national": "000000 (MIIT)", "provincial": "xx0000", "municipal": "xxxx00", "county": "any other"}


def level_table(book: PolicyBook) -> list[LevelRow]:
    """Per level: the commands every authority of that level may publish (nationwide
    programmes), and the extra ones granted inside a regional programme's jurisdiction or
    to a scheme's granting authority.

    >>> from policies import SHIPPED
    >>> from domain.policy import decode_programme
    >>> book = PolicyBook([decode_programme(f.read_bytes()) for f in sorted(SHIPPED.glob("*.toml"))])
    >>> rows = {r.level: r for r in level_table(book)}
    >>> "recommend" in rows["county"].everywhere, "recommend" in rows["municipal"].everywhere
    (False, True)
    >>> dict(rows["municipal"].where)["approve"]
    ('370200 (qingdao)', '计划单列市 210200, 330200, 350200, 370200, 440300 (national)')
    >>> dict(rows["county"].where)["recommend"]
    ('inside 计划单列市 210200, 330200, 350200, 370200, 440300 (national)',)
    """
    rows = []
    for lv in (Level.national, Level.provincial, Level.municipal, Level.county):
        level = lv.value
        everywhere = _derive(level, None, book)
        where: dict[str, list[str]] = {}
        for p in _programmes(book):
            if p.jurisdiction == NATIONAL_REGION:
                continue
            here = _derive(level, None, book, jurisdictions=(p.jurisdiction,))
            own_level = Region(p.jurisdiction).level == level
            scope = f"{p.jurisdiction} ({p.id})" if own_level else f"inside {p.jurisdiction} ({p.id})"
            for c in here:
                if c not in everywhere:
                    where.setdefault(c, [])
                    if scope not in where[c]:
                        where[c].append(scope)
            for s in p.schemes:  # a scheme of a city inside a provincial programme
                if Region(s.granted_by).level == level and s.granted_by != p.jurisdiction:
                    for c in GRANTING:
                        granter = f"{s.granted_by} ({p.id})"
                        if c not in everywhere and granter not in where.setdefault(c, []):
                            where[c].append(granter)
        # a 计划单列市 acts a level up in its programme: the city at provincial level, its
        # districts and counties at municipal level (Programme.authority_level)
        acting = {Level.municipal.value: Level.provincial.value, Level.county.value: Level.municipal.value}.get(level)
        for p in _programmes(book):
            if acting is None or not p.provincial_level_cities:
                continue
            codes = ", ".join(sorted(c.code for c in p.provincial_level_cities))
            scope = (f"计划单列市 {codes} ({p.id})" if level == Level.municipal.value
                     else f"inside 计划单列市 {codes} ({p.id})")
            # what the programme itself lets that level do (the champion programme: recommend only)
            for c in _derive(acting, None, book, jurisdictions=(p.jurisdiction,), programme_id=p.id):
                if c not in everywhere and scope not in where.setdefault(c, []):
                    where[c].append(scope)
        rows.append(LevelRow(level=level, codes=_CODES[level], everywhere=tuple(everywhere),
                             where=tuple((c, tuple(sorted(where[c]))) for c in COMMAND_ORDER if c in where)))
    return rows


def render_level_table(book: PolicyBook) -> str:
    """The permission table as Markdown (the README's "Who may do what" shows it)."""
    common = ", ".join(ANY_AUTHORITY)
    n = len(ANY_AUTHORITY)
    lines = ["| level | codes | may publish everywhere | and where a programme or scheme says |",
             "|---|---|---|---|"]
    for r in level_table(book):
        extra = [c for c in r.everywhere if c not in ANY_AUTHORITY]
        every = f"the common {n}" + (", " + ", ".join(extra) if extra else "")
        where: dict[tuple[str, ...], list[str]] = {}
        for c, scopes in r.where:
            where.setdefault(scopes, []).append(c)
        more = "; ".join(f"{', '.join(cs)}: {', '.join(s)}" for s, cs in where.items()) or "—"
        lines.append(f"| {r.level} | {r.codes} | {every} | {more} |")
    lines.append("")
    lines.append(f"The common {n}: {common}.")
    return "\n".join(lines)
