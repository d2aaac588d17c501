"""The 企业划型 standard as shipped (policies/standards/sme-2011.toml): every row cites its
article, and each row's bounds are where the verdict turns (issue 14, item 13, ``not_sme``)."""

from __future__ import annotations

import msgspec
import pytest

from domain.sme import SmeRow, SmeStandard, decode_sme_standard
from infra.policy_files import SME_STANDARD, PolicyFileError, load_sme_standard

STANDARD = load_sme_standard()


def test_the_shipped_standard_has_the_sixteen_industries_of_article_4_each_cited() -> None:
    assert STANDARD.document == "工信部联企业〔2011〕300号"
    assert len(STANDARD.rows) == 16
    assert all(r.source.startswith("工信部联企业〔2011〕300号 第四条 (") for r in STANDARD.rows)
    assert STANDARD.assumption  # what was not checked against the text is said
    assert [r.industry for r in STANDARD.rows if not r.codes] == ["其他未列明行业"]
    codes = [c for r in STANDARD.rows for c in r.codes]
    assert len(codes) == len(set(codes))


def _code(row: SmeRow) -> str:
    """An enterprise code inside the row (a class under its first code, or one no row names)."""
    return (row.codes[0] + "0000")[:5] if row.codes else "M7310"


@pytest.mark.parametrize("row", STANDARD.rows, ids=lambda r: r.industry)
def test_each_row_turns_at_its_bounds(row: SmeRow) -> None:
    at = {"employees": row.employees_below, "revenue_fen": row.revenue_below_fen, "assets_fen": row.assets_below_fen}
    industry = _code(row)
    assert STANDARD.is_sme(industry, **at) is False  # every bound reached: not an SME
    for name, bound in at.items():
        if bound is None:
            continue
        assert STANDARD.is_sme(industry, **{**at, name: bound - 1}) is True  # any one below: an SME
        assert STANDARD.is_sme(industry, **{**at, name: None}) is None  # a deciding figure missing: no verdict
    verdict = STANDARD.judge(industry, **at)
    assert verdict is not None and row.source in verdict.why and row.industry in verdict.why


@pytest.mark.parametrize("industry, row", [
    ("C3441", "工业"), ("B0610", "工业"), ("D4411", "工业"), ("F5123", "批发业"), ("F5212", "零售业"),
    ("K7010", "房地产开发经营"), ("K7020", "物业管理"), ("K7030", "其他未列明行业"), ("I6513", "软件和信息技术服务业"),
    ("I6311", "信息传输业"), ("C", "工业"), ("F", None), ("K70", None), ("G", None), (None, None), ("", None),
])
def test_the_row_of_an_industry_is_the_longest_code_and_a_coarse_code_decides_nothing(industry, row) -> None:
    found = STANDARD.row_for(industry)
    assert (found.industry if found else None) == row


def test_a_bad_standard_names_the_file_and_the_field(tmp_path) -> None:
    bad = tmp_path / "sme.toml"
    bad.write_text('document = "x"\n[[rows]]\nindustry = "工业"\ncodes = ["c"]\nemployees_below = 1\nsource = "s"\n')
    with pytest.raises(PolicyFileError) as info:
        load_sme_standard(bad)
    assert "rows[0].codes[0]" in str(info.value) and str(bad) in str(info.value)
    with pytest.raises(msgspec.ValidationError, match="at least one bound"):
        decode_sme_standard('document = "x"\n[[rows]]\nindustry = "工业"\nsource = "s"\n')
    assert SME_STANDARD.is_file() and isinstance(STANDARD, SmeStandard)
