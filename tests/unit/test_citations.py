"""Issue 14, deliverable 2: every rule of every shipped policy file names its source (document
and article) or says what could not be checked (an assumption).  ``Programme.citations`` is the
one enumeration of the rules; ``cultivation policy --sources`` prints it
(tests/e2e/test_policy_sources.py)."""

from __future__ import annotations

from datetime import date

import pytest

from domain.policy import Assessment, Bound, Citation, CitedRule, Criterion, Programme, Scheme, Tier
from infra.policy_files import load_policy_book


def _shipped() -> list[CitedRule]:
    book = load_policy_book()
    return [r for pid in book.programme_ids() for v in book.versions(pid) for r in v.citations()]


def test_every_shipped_rule_names_a_source_or_an_assumption() -> None:
    rows = _shipped()
    uncited = [f"{r.key} {r.rule} = {r.value}" for r in rows if not r.cited]
    assert not uncited, "rules without a source or an assumption:\n" + "\n".join(uncited)
    keys = {r.key for r in rows}
    assert {"national@2018", "national@2022", "national@2026", "liaoning@2019", "zhejiang@2022",
            "qingdao@2012", "dalian@2021", "dalian@2023"} <= keys


def test_no_shipped_source_smuggles_an_assumption() -> None:
    """What could not be checked goes into ``assumption``, not into ``source`` (issue 14: several
    schemes wrote "assumption: ..." inside ``source``); a source is a document, not "as X"."""
    bad = [f"{r.key} {r.rule}: {r.source}" for r in _shipped() if r.inherited is None
           and (r.source.lower().startswith(("assumption", "as ")) or "assumption" in r.source.lower()
                or "not checked" in r.source.lower())]
    assert not bad, "\n".join(bad)


def test_the_windows_of_every_tier_are_listed() -> None:
    rows = _shipped()
    for key in ("national@2022", "liaoning@2019"):
        rules = {r.rule for r in rows if r.key == key}
        tiers = {rule.split()[1] for rule in rules if rule.startswith("tier ") and "." not in rule.split()[1]
                 and " criterion " not in rule}
        for t in tiers:
            for window in ("validity_years", "validity_start", "notice_days", "review_window_days", "renewal",
                           "cooling_off_years"):
                assert f"tier {t}.{window}" in rules, (key, t, window)
    r = next(r for r in rows if r.key == "national@2026" and r.rule == "programme.yearly_data_deadline")
    assert r.value == "05-31" and "2号" in r.source


def _programme(**tier: object) -> Programme:
    return Programme(id="p", name="P", version="1", effective_from=date(2022, 6, 1), level="provincial",
                     jurisdiction="210000", document="X〔2022〕1号",
                     tiers=[Tier(id="t", name="T", deciding_level="provincial", **tier)])  # type: ignore[arg-type]


def test_a_tier_parameter_inherits_the_tiers_citation_and_its_own_replaces_it() -> None:
    p = _programme(source="X〔2022〕1号 第五条", sources={"notice_days": Citation(assumption="7 days, not found")})
    rows = {r.rule: r for r in p.citations()}
    assert rows["tier t.validity_years"].source == "X〔2022〕1号 第五条"
    assert rows["tier t.validity_years"].inherited == "tier t"
    nd = rows["tier t.notice_days"]
    assert (nd.source, nd.assumption, nd.inherited, nd.value) == ("", "7 days, not found", None, "5 calendar days")
    # programme parameters inherit the programme's document and assumption
    assert rows["programme.yearly_data_deadline"].source == "X〔2022〕1号"
    assert rows["programme.yearly_data_deadline"].inherited == "programme"


def test_a_tier_without_a_citation_is_uncited_and_so_are_its_parameters() -> None:
    rows = _programme().citations()
    uncited = {r.rule for r in rows if not r.cited}
    assert {"tier t", "tier t.validity_years", "tier t.notice_days", "tier t.cooling_off_years"} <= uncited
    assert "programme" not in uncited  # the programme names its document


def test_a_criterion_inherits_the_assessment_citation_before_the_tiers() -> None:
    assessment = Assessment(min_score=50, criteria=[
        Criterion(label="niche >= 3", any_of=[Bound(indicator="niche_years", min=3)]),
        Criterion(label="debt <= 80%", any_of=[Bound(indicator="debt_ratio_bp", max=8000)], source="附件1 第三项")])
    p = _programme(source="tier doc", assessment=assessment,
                   sources={"assessment": Citation(source="附件1", assumption="score read as 75号's")})
    rows = {r.rule: r for r in p.citations()}
    assert (rows["tier t criterion 1"].source, rows["tier t criterion 1"].inherited) == ("附件1", "tier t.assessment")
    assert rows["tier t criterion 1"].assumption == "score read as 75号's"
    assert (rows["tier t criterion 2"].source, rows["tier t criterion 2"].inherited) == ("附件1 第三项", None)
    assert rows["tier t.assessment"].value == "score >= 50"


@pytest.mark.parametrize(("source", "assumption", "cited"), [("", "", False), ("  ", "", False),
                                                             ("", "not found", True), ("Y〔2023〕2号", "", True)])
def test_a_scheme_inherits_nothing(source: str, assumption: str, cited: bool) -> None:
    p = Programme(id="p", name="P", version="1", effective_from=date(2022, 6, 1), level="provincial",
                  jurisdiction="210000", document="X〔2022〕1号",
                  schemes=[Scheme(id="s", name="S", granted_by="210000", cap_fen=10_000_000, source=source,
                                  assumption=assumption)])
    row = next(r for r in p.citations() if r.rule == "scheme s")
    assert row.cited is cited and row.inherited is None and row.value == "S: one_time, cap 100,000 CNY"
