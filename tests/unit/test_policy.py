"""Policy as data: decoding programme files, and picking the rule version in force on a
business date (national 2018 / 2022 / 2026).  A ledger judging each event by that version:
tests/integration/test_policy_on_a_ledger.py."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import msgspec
import pytest

from domain.errors import RuleViolation
from domain.policy import (
    Assessment,
    Bound,
    Criterion,
    PolicyBook,
    Programme,
    Scheme,
    Tier,
    Tranche,
    decode_programme,
)
from infra.policy_files import SHIPPED, PolicyFileError, load_policy_book, load_programme

MINIMAL = """
id = "test"
name = "Test"
version = "1"
effective_from = 2022-01-01
level = "provincial"
jurisdiction = "210000"

[[tiers]]
id = "t"
name = "T"
deciding_level = "provincial"
notice_days = 7
"""


def write(tmp_path: Path, text: str, name: str = "test.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# --------------------------------------------------------------------------- decoding
def test_shipped_files_decode_into_a_book() -> None:
    book = load_policy_book(SHIPPED)
    assert set(book.programme_ids()) >= {"national", "liaoning", "zhejiang", "qingdao"}
    assert [v.version for v in book.versions("national")] == ["2018", "2022", "2026"]


def test_minimal_file_decodes_with_defaults(tmp_path: Path) -> None:
    p = load_programme(write(tmp_path, MINIMAL))
    t = p.tier("t")
    assert (p.key, t.notice_days, t.validity_years, t.renewal, t.subject) == ("test@1", 7, 3, "extend", "enterprise")


@pytest.mark.parametrize("replace, needle", [
    ('notice_days = 7', 'notice_days = "seven"'),
    ('notice_days = 7', 'notice_days = -1'),
    ('deciding_level = "provincial"', 'deciding_level = "city"'),
    ('jurisdiction = "210000"', 'jurisdiction = "21"'),
    ('id = "t"', 'id = "Bad-Tier"'),
    ('effective_from = 2022-01-01', 'effective_from = "first of January"'),
])
def test_a_bad_value_fails_naming_the_file_and_field(tmp_path: Path, replace: str, needle: str) -> None:
    text = MINIMAL.replace(replace, needle)
    assert text != MINIMAL
    path = write(tmp_path, text)
    with pytest.raises(PolicyFileError) as info:
        load_programme(path)
    key = needle.split(" = ")[0]
    msg = str(info.value)
    assert str(path) in msg
    assert key in msg and "at `$." in msg, msg


def test_a_bad_tier_field_is_named_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError) as info:
        load_programme(write(tmp_path, MINIMAL.replace("notice_days = 7", 'notice_days = "seven"')))
    assert "$.tiers[0].notice_days" in str(info.value)


def test_a_misspelt_key_is_an_error_not_a_default(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError) as info:
        load_programme(write(tmp_path, MINIMAL.replace("notice_days", "notice_dayz")))
    assert "notice_dayz" in str(info.value)


def test_a_missing_required_field_is_named(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError) as info:
        load_programme(write(tmp_path, MINIMAL.replace('jurisdiction = "210000"\n', "")))
    assert "jurisdiction" in str(info.value)


def test_invalid_toml_is_a_policy_file_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError):
        load_programme(write(tmp_path, MINIMAL + "\n[[tiers]\n"))


@pytest.mark.parametrize("extra, needle", [
    ('[[schemes]]\nid = "s"\nname = "S"\nkind = "tranches"\ngranted_by = "210000"\ncap_fen = 100\n'
     'tranches = [{ share_bp = 5000 }, { share_bp = 4000 }]\n', "10000"),
    ('[[schemes]]\nid = "s"\nname = "S"\nkind = "tranches"\ngranted_by = "210000"\ncap_fen = 100\n', "tranches"),
    ('[[schemes]]\nid = "s"\nname = "S"\nkind = "interest_subsidy"\ngranted_by = "210000"\ncap_fen = 100\n',
     "loan_cap_fen"),
    ('[[schemes]]\nid = "s"\nname = "S"\ngranted_by = "210000"\ncap_fen = -100\n', "cap_fen"),
    ('[[tiers]]\nid = "t"\nname = "again"\ndeciding_level = "provincial"\n', "repeat"),
])
def test_inconsistent_programmes_are_refused_at_load(tmp_path: Path, extra: str, needle: str) -> None:
    with pytest.raises(PolicyFileError) as info:
        load_programme(write(tmp_path, MINIMAL + "\n" + extra))
    assert needle in str(info.value)


def test_decode_programme_raises_validation_error_with_path() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"\$\.tiers\[0\]\.validity_years"):
        decode_programme(MINIMAL.replace("notice_days = 7", "validity_years = 0"))


def test_a_folder_without_programmes_or_with_clashing_versions(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError, match="no \\*.toml"):
        load_policy_book(tmp_path)
    write(tmp_path, MINIMAL, "a.toml")
    write(tmp_path, MINIMAL.replace('version = "1"', 'version = "2"'), "b.toml")
    with pytest.raises(PolicyFileError, match="same day"):
        load_policy_book(tmp_path)


# --------------------------------------------------------------------------- rule versions
def _book() -> PolicyBook:
    return load_policy_book(SHIPPED)


@pytest.mark.parametrize("on, version", [
    ("2018-11-26", "2018"),
    ("2022-05-31", "2018"),
    ("2022-06-01", "2022"),
    ("2026-03-31", "2022"),
    ("2026-04-01", "2026"),
    ("2031-01-01", "2026"),
])
def test_in_force_picks_the_version_by_business_date(on: str, version: str) -> None:
    assert _book().in_force("national", date.fromisoformat(on)).version == version


def test_nothing_in_force_before_the_first_version_or_for_an_unknown_programme() -> None:
    with pytest.raises(RuleViolation) as info:
        _book().in_force("national", date(2018, 11, 25))
    assert (info.value.code, info.value.rule, info.value.field) == ("policy.not_in_force", "policy", "programme")
    with pytest.raises(RuleViolation) as info:
        _book().in_force("atlantis", date(2023, 1, 1))
    assert (info.value.code, info.value.field) == ("policy.unknown_programme", "programme")


def test_book_is_independent_of_file_order() -> None:
    versions = _book().versions("national")
    reordered = PolicyBook(list(reversed(versions)))
    assert reordered.in_force("national", date(2024, 1, 1)).version == "2022"


# --------------------------------------------------------------------------- assessment, pure
def test_assessment_judge() -> None:
    a = Assessment(min_score=60, min_components={"innovation": 20},
                   criteria=[Criterion(label="revenue or equity",
                                       any_of=[Bound(indicator="revenue", min=100), Bound(indicator="equity", min=50)]),
                             Criterion(any_of=[Bound(indicator="debt", max=70)])],
                   direct_pass=["hnte"])
    ok = {"revenue": 100, "debt": 70}
    assert a.judge(60, {"innovation": 20}, ok, []) == []
    assert a.judge(60, {"innovation": 20}, {"equity": 50, "debt": 0}, []) == []  # either bound will do
    assert a.judge(59, {"innovation": 20}, ok, []) == ["score 59 < 60"]
    assert a.judge(90, {"innovation": 19}, ok, []) == ["component innovation 19 < 20"]
    assert a.judge(None, {}, ok, ["hnte"]) == []  # a direct pass replaces the score
    assert a.judge(90, {"innovation": 20}, {"revenue": 99, "debt": 71}, ["hnte"]) == [
        "revenue or equity: revenue >= 100: 99; equity >= 50: no equity",
        "debt <= 70: 71"]  # ... but never the criteria; each failure says why
    failures = a.judge(90, {"innovation": 20}, ok, ["bribe"])
    assert len(failures) == 1 and "bribe" in failures[0]
    with pytest.raises(ValueError):
        Bound(indicator="x")


def test_validity_by_policy() -> None:
    three = Tier(id="t", name="T", deciding_level="provincial")
    assert three.validity(date(2023, 6, 8)) == (date(2023, 6, 8), date(2026, 6, 8))
    january = Tier(id="t", name="T", deciding_level="provincial", validity_start="next_january")
    assert january.validity(date(2023, 11, 20)) == (date(2024, 1, 1), date(2027, 1, 1))
    assert january.validity(date(2023, 1, 1)) == (date(2024, 1, 1), date(2027, 1, 1))


def test_scheme_and_programme_invariants() -> None:
    with pytest.raises(ValueError, match="10000"):
        Scheme(id="s", name="S", kind="tranches", granted_by="210000", cap_fen=1,
               tranches=[Tranche(share_bp=6000), Tranche(share_bp=6000)])
    with pytest.raises(ValueError, match="loan_cap_fen"):
        Scheme(id="s", name="S", kind="interest_subsidy", granted_by="210000", cap_fen=1, subsidy_ratio_bp=5000)
    with pytest.raises(ValueError, match="repeat"):
        Programme(id="p", name="P", version="1", effective_from=date(2022, 1, 1), level="provincial",
                  jurisdiction="210000", tiers=[Tier(id="t", name="T", deciding_level="provincial")] * 2)
    p = Programme(id="p", name="P", version="1", effective_from=date(2022, 1, 1), level="provincial",
                  jurisdiction="210000")
    with pytest.raises(RuleViolation) as info:
        p.tier("nope")
    assert (info.value.code, info.value.field) == ("policy.unknown_tier", "tier")
    with pytest.raises(RuleViolation) as info:
        p.scheme("nope")
    assert (info.value.code, info.value.field) == ("policy.unknown_scheme", "scheme")


# ---------------------------------------------------------------------------- targets ([[targets]])
TARGET = """
[[targets]]
label = "T 100"
programme = "test"
tier = "t"
region = "210200"
kind = "cumulative"
count = 100
by = 2025-12-31
source = "a plan"
"""


def test_the_shipped_targets_name_their_sources_and_kinds() -> None:
    book = load_policy_book(SHIPPED)
    qingdao = book.in_force("qingdao", date(2020, 12, 31)).targets
    assert {(t.tier, t.kind, t.count, t.max, t.by.isoformat()) for t in qingdao} == {
        ("hidden_champion", "cumulative", 100, None, "2020-12-31"), ("demonstration", "cumulative", 300, None,
                                                                     "2020-12-31"),
        ("product", "cumulative", 1000, None, "2020-12-31"), ("product", "new_in_year", 80, 100, "2017-12-31"),
        ("demonstration", "new_in_year", 25, 30, "2017-12-31"), ("hidden_champion", "new_in_year", 15, 20,
                                                                 "2017-12-31")}
    hangzhou = book.in_force("zhejiang", date(2025, 12, 31)).targets
    assert [(t.programme, t.tier, t.level, t.kind, t.count) for t in hangzhou] == [
        ("national", "innovative", "provincial", "cumulative", 30000),
        ("national", "specialized", "provincial", "rolling", 2500),
        ("zhejiang", "hidden_champion", "provincial", "cumulative", 100),
        ("national", "little_giant", "national", "cumulative", 240)]
    for t in qingdao + hangzhou:
        assert t.source and t.assumption, t.label  # each names its document and what was not checked


def test_a_target_decodes_and_its_mistakes_are_named(tmp_path: Path) -> None:
    t = decode_programme(MINIMAL + TARGET).targets[0]
    assert (t.kind, t.count, t.share(80), t.met(100)) == ("cumulative", 100, 0.8, True)
    for bad, needle in ((TARGET.replace('kind = "cumulative"', 'kind = "someday"'), "kind"),
                        (TARGET.replace("count = 100", "count = 0"), "count"),
                        (TARGET + "colour = 1\n", "colour"),
                        (TARGET.replace('source = "a plan"', 'source = " "'), "source"),
                        (TARGET.replace('tier = "t"', 'tier = "nope"'), "no tier 'nope'"),
                        (TARGET.replace("count = 100", "count = 100\nmax = 50"), "max 50 < count 100")):
        with pytest.raises(msgspec.ValidationError, match=needle):
            decode_programme(MINIMAL + bad)


def test_a_target_counting_another_programme_needs_its_tier() -> None:
    p = decode_programme(MINIMAL + TARGET.replace('programme = "test"', 'programme = "other"'))
    with pytest.raises(ValueError, match="counts other/t, which no rule version has"):
        PolicyBook([p])


# ---------------------------------------------------------------------- issue 14: the 2026 criteria, review versions
def test_the_2026_specialized_and_little_giant_criteria_cite_their_source_and_read_two_years() -> None:
    book = load_policy_book(SHIPPED)
    v26 = book.in_force("national", date(2026, 4, 1))
    spec, lg = v26.tier("specialized"), v26.tier("little_giant")
    assert spec.assessment.direct_pass == [] and spec.assessment.min_score == 50 and spec.reviewed_on_criteria
    assert lg.assessment.min_score == 60 and lg.review_under == "2022"
    for t in (spec, lg):
        assert all(c.source for c in t.assessment.criteria), t.id
    assert spec.assessment.data_years(2025) == [2024, 2025]
    assert lg.assessment.data_years(2025) == [2023, 2024, 2025]  # growth reads one year more
    assert [c.label for c in lg.assessment.criteria if not c.for_review] == ["近2年营业收入平均增长率 >= 5%"]


def test_reviewing_names_the_version_the_tier_names_or_the_one_in_force() -> None:
    book = load_policy_book(SHIPPED)
    assert book.reviewing("national", "little_giant", date(2026, 3, 31)).key == "national@2022"
    assert book.reviewing("national", "little_giant", date(2026, 4, 1)).key == "national@2022"
    assert book.reviewing("national", "specialized", date(2026, 4, 1)).key == "national@2026"
    assert book.reviewing("national", "no_such_tier", date(2026, 4, 1)).key == "national@2026"


@pytest.mark.parametrize(("on", "year"), [("2026-05-31", 2024), ("2026-06-01", 2025), ("2025-04-30", 2023),
                                          ("2025-05-01", 2024)])
def test_the_data_year_on_follows_each_version_s_deadline(on: str, year: int) -> None:
    d = date.fromisoformat(on)
    assert load_policy_book(SHIPPED).in_force("national", d).data_year_on(d) == year


def test_last_data_year_is_the_year_before() -> None:
    from domain.policy import last_data_year

    assert [last_data_year(date(2026, m, 1)) for m in (1, 6, 12)] == [2025, 2025, 2025]
