"""The history generator (``scenarios.generate``, ``cultivation generate``): deterministic
bytes, every line a valid command, realistic regions and proportions, and, submitted
through the service layer, exactly the refusals it announces and nothing else."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import msgspec
import pytest

from domain.errors import LedgerError
from domain.regions import region_problem
from domain.values import uscc_check_char
from entrypoints import cli
from infra.policy_files import load_policy_book
from infra.readmodel import ReadModel
from projections.pools import Designation
from scenarios.generate import (
    CITY_BY_CODE,
    DEFAULT_ENTERPRISES,
    NATIONAL_FIGURES_ON,
    PROGRAMME_OF,
    PROVINCE_BY_CODE,
    PROVINCES,
    TIERS,
    Summary,
    expected_refusals,
    generate,
    generate_commands,
)
from services import commands as c
from services.ledger import Ledger

_encode = msgspec.json.Encoder().encode

# MIIT, 2023-07-26 (issue 13, docs/domain.md), 累计培育: innovative 215,000; 专精特新 more than
# 98,000; little giants more than 12,000, in five batches of roughly 248, 1,744, 2,930, 4,357
# and 3,671 (2019 to 2023; the batch sizes as the issue-13 brief gives them).
NATIONAL = {"innovative": 215_000, "specialized": 98_000, "little_giant": 12_000}
LITTLE_GIANT_BATCHES = {2019: 248, 2020: 1_744, 2021: 2_930, 2022: 4_357, 2023: 3_671}
SAMPLE = 20_000  # enterprises of the national sample: 1/18 of the default size


def _bytes(enterprises: int, years: int, seed: int, start_year: int) -> bytes:
    return b"\n".join(_encode(cmd) for cmd in generate_commands(enterprises, years, seed, start_year))


@pytest.fixture(scope="module")
def national_sample() -> tuple[list[tuple[dict, str | None]], Summary]:
    """A sample of the country (20,000 enterprises, 1/18 of the default) over ten years, its
    national figures on the day of MIIT's: generation only."""
    summary = Summary()
    stream = list(generate(SAMPLE, 10, 1, 2016, summary=summary, as_of=NATIONAL_FIGURES_ON))
    return stream, summary


def designations_in(stream: list[tuple[dict, str | None]], as_of: str) -> tuple[Counter[str], dict[str, Counter[int]]]:
    """Counted from the commands alone: the distinct enterprises with an accepted approval of
    each tier on or before ``as_of`` (an approval annulled by then was never a designation,
    one annulled later still was on ``as_of``), and by the year of their first approval (an
    approval ever annulled excepted)."""
    tier_of: dict[tuple[str, str], str] = {}
    first: dict[tuple[str, str], str] = {}
    first_kept: dict[tuple[str, str], str] = {}
    annulled: dict[tuple[str, str], str] = {}
    for cmd, code in stream:
        if code is not None:
            continue
        key = (cmd.get("uscc", ""), cmd.get("application_id", ""))
        if cmd["command"] == "apply":
            tier_of[key] = cmd["tier"]
        elif cmd["command"] == "annul":
            annulled[key] = cmd["occurred_on"]
    for cmd, code in stream:
        key = (cmd.get("uscc", ""), cmd.get("application_id", ""))
        if code is None and cmd["command"] == "approve":
            subject, day = (tier_of[key], key[0]), cmd["occurred_on"]
            if annulled.get(key, "9999") > as_of:
                first[subject] = min(first.get(subject, day), day)
            if key not in annulled:
                first_kept[subject] = min(first_kept.get(subject, day), day)
    ever = Counter(tier for (tier, _), day in first.items() if day <= as_of)
    new: dict[str, Counter[int]] = {t: Counter() for t in TIERS}
    for (tier, _), day in first_kept.items():
        new[tier][int(day[:4])] += 1
    return ever, new


# ---------------------------------------------------------------------------- the stream itself
def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    a = _bytes(400, 4, 1, 2021)
    assert a == _bytes(400, 4, 1, 2021)
    b = _bytes(400, 4, 2, 2021)
    assert a != b
    assert b"gen-2-00000001" in b and b"gen-2-" not in a


def test_every_line_decodes_in_business_date_order(national_sample: tuple[list, Summary]) -> None:
    stream, summary = national_sample
    assert summary.done and summary.commands == len(stream)
    last = ""
    ids = set()
    for n, (cmd, code) in enumerate(stream, 1):
        decoded = c.decode_command(_encode(cmd))  # exactly as `cultivation submit` reads a line
        assert c.command_name(decoded) == cmd["command"]
        assert cmd["command_id"] == f"gen-1-{n:08d}"
        ids.add(cmd["command_id"])
        assert cmd["occurred_on"] >= last, cmd
        last = cmd["occurred_on"]
        assert code is None or re.fullmatch(r"[a-z_]+\.[a-z_]+", code)
    assert len(ids) == len(stream)
    assert stream[0][0]["occurred_on"] >= "2016-01-01" and last <= "2025-12-31"
    assert sum(1 for cmd, _ in stream if cmd["command"] == "register") >= 20_000
    # every kind of command a backend sends over a decade shows up
    used = Counter(cmd["command"] for cmd, _ in stream)
    assert set(c.COMMAND_TYPES) - set(used) <= {"claw_back"}, set(c.COMMAND_TYPES) - set(used)
    assert used == summary.by_command


def test_expected_refusals_are_about_one_in_a_hundred(national_sample: tuple[list, Summary]) -> None:
    stream, summary = national_sample
    refused = Counter(code for _, code in stream if code)
    assert refused == summary.expected_refusals
    assert 0.005 < summary.refusal_share < 0.015, summary.refusal_share
    for code in ("authority.wrong_level", "authority.not_covering", "approve.notice_open", "approve.objection_open",
                 "assess.not_recommended", "recommend.wrong_level", "notice.not_assessed", "review.outside_window",
                 "review.yearly_data_missing", "apply.already_designated", "policy.unknown_tier",
                 "register.exists", "yearly_data.duplicate", "pool.already_admitted", "revoke.no_document"):
        assert refused[code] > 0, code
    small = expected_refusals(300, 4, 1, 2021)
    assert small and all(cid.startswith("gen-1-") for cid in small)


def test_regions_are_real_codes_across_all_provinces(national_sample: tuple[list, Summary]) -> None:
    stream, summary = national_sample
    registers = [cmd for cmd, code in stream if cmd["command"] == "register" and code is None]
    by_province = Counter(r["region"][:2] + "0000" for r in registers)
    assert set(by_province) == {p.code for p in PROVINCES}, "all 31 mainland provinces"
    top = [p for p, _ in by_province.most_common(6)]
    for big in ("440000", "320000", "330000", "370000"):  # Guangdong, Jiangsu, Zhejiang, Shandong
        assert big in top, (big, top)
    assert by_province["440000"] > 20 * by_province["540000"]
    for r in registers:
        region, uscc = r["region"], r["uscc"]
        city = CITY_BY_CODE[region[:4] + "00"]  # a real prefecture-level city code
        assert region in city.counties and (region != city.code or city.counties == (city.code,))  # 东莞: no districts
        assert region_problem(region) is None, region  # a current GB/T 2260 division (domain/gbt2260.tsv)
        assert uscc[2:8] == region and uscc_check_char(uscc[:17]) == uscc[17]
        assert r["actor"]["authority"] == city.code
        assert re.fullmatch(r"C\d{4}", r["industry"])
        assert re.fullmatch(r"[\u4e00-\u9fff]{6,20}", r["name"]) and r["name"].endswith("公司")
    assert len({r["uscc"] for r in registers}) == len(registers)
    assert "110000" in PROVINCE_BY_CODE and "211400" in CITY_BY_CODE and "211402" in CITY_BY_CODE["211400"].counties


def test_the_summary_counts_what_the_commands_say(national_sample: tuple[list, Summary]) -> None:
    stream, summary = national_sample
    ever, new = designations_in(stream, NATIONAL_FIGURES_ON.isoformat())
    assert summary.as_of == "2023-07-26"
    assert summary.ever_designated == {t: ever[t] for t in TIERS}
    assert summary.new_by_year == {t: dict(sorted(new[t].items())) for t in TIERS}
    for t in TIERS:  # valid on the day: designated by then, and not all still valid
        assert summary.valid_on_as_of[t] <= summary.ever_designated[t]
    assert summary.valid_on_as_of["specialized"] < summary.ever_designated["specialized"]  # the 2018 round lapsed


def test_the_default_size_is_calibrated_to_the_national_figures(national_sample: tuple[list, Summary]) -> None:
    """The sample's per-enterprise rates, scaled to the default size, give MIIT's figures of
    2023-07-26 as *ever designated* counts.  The full-size run's own figures are in the
    README ("National totals"); here the tolerances leave room for a 1/18 sample's noise."""
    _, summary = national_sample
    scale = DEFAULT_ENTERPRISES / SAMPLE
    ever = {t: summary.ever_designated[t] * scale for t in TIERS}
    assert abs(ever["innovative"] - NATIONAL["innovative"]) / NATIONAL["innovative"] < 0.05, ever
    assert ever["specialized"] > 0.97 * NATIONAL["specialized"], ever
    assert ever["little_giant"] > 0.93 * NATIONAL["little_giant"], ever
    # the ratios of the ladder
    assert 1.8 < ever["innovative"] / ever["specialized"] < 2.5, ever  # 215,000 / 98,000+ = 2.19 or less
    assert 6.0 < ever["specialized"] / ever["little_giant"] < 10.0, ever  # 98,000+ / 12,000+ = 8.17
    # 创新型 from the 2022 measures only; the little giants in five batches, small at first
    new = summary.new_by_year
    assert min(new["innovative"]) == 2022 and min(new["specialized"]) == 2018 and min(new["little_giant"]) == 2019
    batches = {y: new["little_giant"].get(y, 0) * scale for y in LITTLE_GIANT_BATCHES}
    assert batches[2019] < 0.5 * batches[2020] and batches[2020] < batches[2021] < batches[2022], batches
    assert abs(sum(batches.values()) - sum(LITTLE_GIANT_BATCHES.values())) / sum(LITTLE_GIANT_BATCHES.values()) < 0.12
    for y in (2020, 2021, 2022, 2023):
        assert abs(batches[y] - LITTLE_GIANT_BATCHES[y]) / LITTLE_GIANT_BATCHES[y] < 0.25, (y, batches)
    # the pools at the end of the horizon, made of designations of every year, most of which
    # once lapsed without an event
    v = summary.valid_at_end
    assert v["innovative"] > v["specialized"] > v["little_giant"] > max(v["key_little_giant"], v["single_champion"]) > 0
    assert summary.lapsed_without_review > 0.8 * summary.reviews_planned
    assert sum(summary.designations_made.values()) > sum(v.values())


def test_the_ladder_authorities_and_rule_versions(national_sample: tuple[list, Summary]) -> None:
    stream, _ = national_sample
    book = load_policy_book()
    tier_of: dict[tuple[str, str], str] = {}
    programme_of: dict[tuple[str, str], str] = {}
    cities_decided: set[str] = set()
    region_of: dict[str, str] = {}
    for cmd, code in stream:
        if code is not None:
            continue
        name, day = cmd["command"], cmd["occurred_on"]
        if name == "register" or (name == "report_change" and cmd.get("new_region")):
            region_of[cmd["uscc"]] = cmd.get("new_region") or cmd["region"]
        if name == "apply":
            tier_of[(cmd["uscc"], cmd["application_id"])] = cmd["tier"]
            programme_of[(cmd["uscc"], cmd["application_id"])] = cmd["programme"]
            assert cmd["programme"] == PROGRAMME_OF[cmd["tier"]]  # 单项冠军 is the champion programme's
            if cmd["tier"] == "innovative":
                assert day >= "2022-06-01", "创新型 only exists from the 2022 rules"
            continue
        tier = tier_of.get((cmd["uscc"], cmd.get("application_id", "")))
        if tier is None:
            continue
        programme = book.in_force(programme_of[(cmd["uscc"], cmd["application_id"])], date.fromisoformat(day))
        t = programme.tier(tier)
        authority = cmd["actor"]["authority"]
        level = programme.authority_level(authority)  # a 计划单列市 acts at provincial level, its districts municipal
        if name in ("recommend", "assess", "open_notice", "resolve_objection", "approve", "review", "revoke"):
            in_city = programme.provincial_level_city(region_of[cmd["uscc"]])
            if in_city and level == "provincial":
                assert authority == in_city, ("the province acts for an enterprise of a 计划单列市", name, authority)
                cities_decided.add(in_city)
        if name == "recommend":
            assert [lv.value for lv in t.recommend_levels] == [level], (tier, authority)
        elif name == "assess":  # 创新型: the city reviews (63号), the province announces
            assert level == t.assessed_at.value, (name, tier, authority)
        elif name in ("open_notice", "resolve_objection"):
            assert level == t.noticed_at.value, (name, tier, authority)
        elif name in ("approve", "review", "revoke"):
            assert level == t.deciding_level.value, (name, tier, authority)
        if name == "approve":
            assert cmd["document"], "an approval names its 文号"
    assert cities_decided, "no 计划单列市 decided or recommended for its enterprises in the sample"
    # rewards: caps and yearly budgets of the schemes in force
    spent: Counter[tuple[str, str, int]] = Counter()
    for cmd, code in stream:
        if cmd["command"] == "grant_reward" and code is None:
            prog = book.in_force(cmd["programme"], date.fromisoformat(cmd["occurred_on"]))
            scheme = prog.scheme(cmd["scheme"])
            assert cmd["actor"]["authority"] == scheme.granted_by
            assert cmd["amount_fen"] <= scheme.cap_fen
            spent[(prog.id, scheme.id, int(cmd["occurred_on"][:4]))] += cmd["amount_fen"]
    assert spent, "rewards are granted"
    for (pid, sid, year), total in spent.items():
        budget = book.in_force(pid, date(year, 6, 30)).scheme(sid).yearly_budget_fen
        assert budget is None or total <= budget, (sid, year, total, budget)
    assert any(sid == "key_little_giant_fund" for _, sid, _ in spent), "central key little giant tranches"


# ---------------------------------------------------------------------------- through the ledger
def _outcomes(ledger: Ledger, cmds: list[dict]) -> dict[str, str]:
    refused: dict[str, str] = {}

    def on_result(cmd: c.Command, result: object) -> None:
        if isinstance(result, (LedgerError, c.InputError)):
            refused[cmd.command_id] = result.as_dict()["code"]  # type: ignore[union-attr]

    ledger.handle_many([c.decode_command(_encode(cmd)) for cmd in cmds], on_result)
    return refused


def test_a_history_crossing_2026_gets_exactly_its_refusals(tmp_path: Path) -> None:
    summary = Summary()
    stream = list(generate(300, 4, 3, 2023, summary=summary, as_of=date(2024, 7, 26)))
    expected = {cmd["command_id"]: code for cmd, code in stream if code}
    ledger = Ledger(db=str(tmp_path / "l.db"))
    try:
        got = _outcomes(ledger, [cmd for cmd, _ in stream])
        assert got == expected
        # the pools the ledger folds are the ones the generator meant
        rm = ReadModel(ledger)
        try:
            for tier, n in summary.valid_at_end.items():
                assert len(rm.pool(tier=tier, as_of=summary.last_day, programme=PROGRAMME_OF[tier])) == n, tier
            # and so are its national figures: valid on the day, ever designated up to it (the
            # designation rows approved by then, whatever happened after, an annulled one excepted)
            for tier, n in summary.valid_on_as_of.items():
                assert len(rm.pool(tier=tier, as_of=summary.as_of, programme=PROGRAMME_OF[tier])) == n, tier
            rm.catch_up()
            rows = [r for r in rm.rows("designation") if isinstance(r, Designation)]
            ever = Counter(tier for _, tier in {(r.uscc, r.tier) for r in rows if r.programme == PROGRAMME_OF[r.tier]
                                                 and r.status != "annulled" and r.valid_from is not None
                                                 and r.valid_from <= summary.as_of})
            assert {t: ever[t] for t in TIERS} == summary.ever_designated
            assert summary.ever_designated["innovative"] > 0
        finally:
            rm.close()
        # after 2026-04-01 every 专精特新 application stood on a valid 科技和创新型 designation
        late = [cmd for cmd, code in stream if cmd["command"] == "apply" and code is None
                and cmd["tier"] == "specialized" and cmd["occurred_on"] >= "2026-04-01"]
        assert late
        for cmd in late:
            ent = ledger.enterprise(cmd["uscc"])
            on = date.fromisoformat(cmd["occurred_on"])
            assert any(a.tier == "innovative" and a.valid_on(on) for a in ent.applications.values())
    finally:
        ledger.close()


def test_an_approval_annulled_after_the_day_still_counts_on_it(tmp_path: Path) -> None:
    """The summary's figures on a day judge each approval as it stood on that day, as the
    read model does: an approval annulled after the day was still a designation on it.
    Before, the summary dropped every approval annulled by the end of the history, and the
    national run of issue 17 found 8 little giants more in the pool than in the summary."""
    stream = list(generate(1000, 4, 3, 2022))
    approved: dict[tuple[str, str], str] = {}
    annulled = []
    for cmd, code in stream:
        key = (cmd.get("uscc", ""), cmd.get("application_id", ""))
        if code is None and cmd["command"] == "approve":
            approved[key] = cmd["occurred_on"]
        elif code is None and cmd["command"] == "annul" and key in approved:
            annulled.append((key, approved[key], cmd["occurred_on"]))
    assert annulled, "the history should annul an approval"
    (uscc, _), approved_on, annulled_on = annulled[0]
    as_of = (date.fromisoformat(annulled_on) - timedelta(days=1))
    summary = Summary()
    assert [cmd for cmd, _ in generate(1000, 4, 3, 2022, summary=summary, as_of=as_of)] == [cmd for cmd, _ in stream]
    ledger = Ledger(db=str(tmp_path / "l.db"))
    rm = ReadModel(ledger)
    try:
        assert _outcomes(ledger, [cmd for cmd, _ in stream]) == {cmd["command_id"]: code for cmd, code in stream
                                                                   if code}
        on = as_of.isoformat()
        ever = {t: rm.designated(tier=t, as_of=on, programme=PROGRAMME_OF[t]) for t in TIERS}
        assert {t: len(rows) for t, rows in ever.items()} == summary.ever_designated
        assert any(d.uscc == uscc for rows in ever.values() for d in rows)  # the annulled one, on the day before
        assert {t: len(rm.pool(tier=t, as_of=on, programme=PROGRAMME_OF[t])) for t in TIERS} == summary.valid_on_as_of
    finally:
        rm.close()
        ledger.close()



def test_generate_then_submit_on_the_cli_is_exact_and_idempotent(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    out, exp, db = tmp_path / "h.jsonl", tmp_path / "h.expected.jsonl", str(tmp_path / "l.db")
    assert cli.main(["generate", "--enterprises", "300", "--years", "4", "--start-year", "2021", "--seed", "5",
                     "--out", str(out), "--expected", str(exp), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    lines = out.read_bytes().splitlines()
    assert summary["commands"] == len(lines) > 1000
    expected = {r["command_id"]: r["code"] for r in map(json.loads, exp.read_text().splitlines())}
    assert len(expected) == summary["expected_refusals"] > 0
    assert summary["by_command"] == dict(sorted(Counter(json.loads(x)["command"] for x in lines).items()))

    assert cli.main(["submit", str(out), "--db", db, "--json"]) == 1  # some refusals, on purpose
    first = json.loads(capsys.readouterr().out)
    assert {r["command_id"]: r["code"] for r in first["refusals"]} == expected
    assert first["accepted"] == len(lines) - len(expected) and first["repeated"] == 0

    # the same file again: every accepted command is a repeat, nothing new is written
    assert cli.main(["submit", str(out), "--db", db, "--json"]) == 1
    again = json.loads(capsys.readouterr().out)
    assert again["accepted"] == 0 and again["repeated"] == first["accepted"]
    assert again["refused"] == first["refused"]

    # --summary counts the same history without writing it
    assert cli.main(["generate", "--enterprises", "300", "--years", "4", "--start-year", "2021", "--seed", "5",
                     "--summary", "--json"]) == 0
    counted = json.loads(capsys.readouterr().out)
    assert counted["out"] is None and counted["as_of"] == "2023-07-26"
    for key in ("commands", "by_command", "expected_refusals", "ever_designated", "valid_on_as_of", "new_by_year"):
        assert counted[key] == summary[key], key
    assert cli.main(["generate", "--enterprises", "300", "--years", "4", "--start-year", "2021", "--seed", "5",
                     "--summary", "--as-of", "2021-12-31", "--json"]) == 0
    early = json.loads(capsys.readouterr().out)
    assert early["as_of"] == "2021-12-31" and early["ever_designated"]["innovative"] == 0
    assert early["ever_designated"]["specialized"] <= counted["ever_designated"]["specialized"]
    assert cli.main(["generate", "--enterprises", "3", "--years", "1", "--start-year", "2021", "--summary",
                     "--as-of", "2023-07-26"]) == 2
    assert "--as-of: must fall inside the history, 2021-01-01 to 2021-12-31" in capsys.readouterr().err

    # --out - writes the same bytes to standard output
    assert cli.main(["generate", "--enterprises", "300", "--years", "4", "--start-year", "2021", "--seed", "5",
                     "--out", "-"]) == 0
    assert capsys.readouterr().out.encode() == out.read_bytes()
