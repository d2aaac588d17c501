"""The demo dataset: a deterministic, realistic multi-year history that ``cultivation demo``
loads into a fresh store.

It reproduces the Huludao (葫芦岛, 211400) row of docs/domain.md's "Figures from the reports" as
of :data:`DEMO_AS_OF` (2023-06-29), built the way the figures arise: yearly batches of
applications going through recommendation, assessment, notice and approval from 2018 to
2023, with reviews, lapses, a revocation, objections, withdrawals and rejections on the
way.  Around it: Dalian (210200) as of 2023-07-11, a 计划单列市 deciding its own 专精特新 and
创新型 (:data:`DALIAN_FIGURES`: some 3,000 generated enterprises in yearly batches, two moving in
from Jilin and Hebei), Dalian's money of 2023 (:func:`_dalian_money`: guarantee-fee subsidies,
the special fund), Qingdao (370200, the "131" programme and its batches), Hangzhou (330100,
Zhejiang hidden champions, Hangzhou rewards on the facts they rest on, industrial-chain tags)
and events after 2026-04-01 judged by the 2026 rules.

Every command is a JSON-shaped dict that decodes with
:func:`services.commands.convert_command`, paired with the refusal code it must get (or
``None``: it must be accepted).  Refused commands are part of the story (each one shows
a rule at work); none of them writes anything, so none of them moves a figure.

>>> script = demo_script()
>>> len(script) < 30000, script[0][0]["command"]
(True, 'register')
>>> sorted({e for _, e in script if e})[:3]
['apply.already_designated', 'apply.cooling_off', 'approve.notice_open']
>>> ({"tier": "little_giant", "level": "national", "region": "211400"}, 5) in EXPECTED
True

The script is built by plain code below, in scenario order; :func:`demo_script` sorts it
by business date (stable, so one enterprise's commands keep their order) and numbers the
command ids, so the log reads as the years went by.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import cache
from typing import Any

from domain.policy import PolicyBook, Programme, Tier, last_data_year
from domain.validity import valid_on
from domain.values import USCC_ALPHABET, add_years, make_uscc, uscc_check_char
from infra.policy_files import SHIPPED, load_policy_book

DEMO_AS_OF = "2023-06-29"

Cmd = dict[str, Any]

# ---------------------------------------------------------------------------- authorities
# code -> (who acts, prefix of the documents it issues)
AUTHORITIES: dict[str, tuple[str, str]] = {
    "000000": ("工业和信息化部中小企业局", "工信部企业函"),
    "210000": ("辽宁省工业和信息化厅", "辽工信函"),
    "211400": ("葫芦岛市工业和信息化局", "葫工信发"),
    "211402": ("葫芦岛市连山区工业和信息化局", "连工信发"),
    "210200": ("大连市工业和信息化局", "大工信发"),
    "220000": ("吉林省工业和信息化厅", "吉工信函"),
    "220100": ("长春市工业和信息化局", "长工信发"),
    "130000": ("河北省工业和信息化厅", "冀工信函"),
    "130100": ("石家庄市工业和信息化局", "石工信发"),
    "330000": ("浙江省经济和信息化厅", "浙经信函"),
    "330100": ("杭州市经济和信息化局", "杭经信函"),
    "370200": ("青岛市民营经济发展局", "青民经发"),
}
OBJECTION_DESK = {"authority": "210000", "person": "辽宁省工业和信息化厅公示异议受理窗口"}
# 创新型: the city holds the notice (63号), so takes the objections and checks them
CITY_OBJECTION_DESK = {"authority": "211400", "person": "葫芦岛市工业和信息化局公示异议受理窗口"}


def authority(code: str, person: str | None = None) -> dict[str, str]:
    return {"authority": code, "person": person or AUTHORITIES[code][0]}


def _doc(code: str, on: date, n: int) -> str:
    return f"{AUTHORITIES[code][1]}〔{on.year}〕{n}号"


@cache
def _book() -> PolicyBook:
    """The shipped programme files: the demo's expectations are written against them."""
    return load_policy_book(SHIPPED)


def _programme(pid: str, on: date, region: str | None = None) -> Programme:
    """The rule version in force, for an enterprise in ``region`` with its province's
    overrides (the ledger's own ``PolicyBook.in_force``)."""
    return _book().in_force(pid, on, region)


def _tier(pid: str, tier: str, on: date, region: str | None = None) -> Tier:
    return _programme(pid, on, region).tier(tier)


def _level_authority(programme: str, on: date, level: str, region: str) -> str:
    """Who acts at ``level`` for an enterprise in ``region``: the programme says
    (``Programme.authority_for``; in the national programme a 计划单列市 such as Dalian
    takes the province's part and its districts the city's)."""
    return _programme(programme, on).authority_for(level, region)


# ---------------------------------------------------------------------------- enterprises
@dataclass
class Ent:
    key: str
    name: str
    region: str  # county where it was registered
    industry: str
    revenue_wan: int  # last-year revenue, 万元
    listed: bool = False
    uscc: str = ""
    uscc_override: str | None = None
    moves: list[tuple[date, str]] = field(default_factory=list)  # (reported on, new region)
    products: dict[str, str] = field(default_factory=dict)  # product id -> name

    def region_on(self, d: date) -> str:
        region = self.region
        for on, new in self.moves:
            if on <= d:
                region = new
        return region

    def self_actor(self, d: date) -> dict[str, str]:
        return {"authority": self.region_on(d), "person": f"{self.name}（企业填报）", "role": "enterprise"}


def _uscc(key: str, region: str) -> str:
    rng = random.Random(f"cultivation-demo:{key}")
    body = "MA" + rng.choice("0123") + "".join(rng.choice(USCC_ALPHABET) for _ in range(6))
    return make_uscc(f"91{region}{body}")


# Huludao counties: 211402 连山区, 211403 龙港区, 211404 南票区, 211421 绥中县, 211422 建昌县, 211481 兴城市
HULUDAO: list[tuple[str, str, str, str, int]] = [
    # key, name, county, GB/T 4754 industry, revenue (万元)
    ("H01", "葫芦岛市宏力泵业有限公司", "211402", "C3441", 46800),
    ("H02", "葫芦岛华锐锌合金材料有限公司", "211403", "C3240", 38500),
    ("H03", "葫芦岛北方船舶配套有限公司", "211403", "C3734", 52600),
    ("H04", "葫芦岛天成钼业有限公司", "211404", "C3216", 31200),
    ("H05", "葫芦岛锦泰石油机械有限公司", "211402", "C3512", 18900),
    ("H06", "绥中县东方电力设备有限公司", "211421", "C3821", 27400),
    ("H07", "兴城市华兴阀门制造有限公司", "211481", "C3443", 16300),
    ("H08", "葫芦岛市精工轴承有限公司", "211402", "C3451", 22800),
    ("H09", "葫芦岛渤海新材料科技有限公司", "211403", "C2662", 9800),
    ("H10", "建昌县金鼎矿山机械有限公司", "211422", "C3511", 8600),
    ("H11", "兴城市浪花泳装有限公司", "211481", "C1821", 6400),
    ("H12", "葫芦岛永盛化工有限公司", "211404", "C2614", 7300),
    ("H13", "绥中县海川水产食品有限公司", "211421", "C1361", 5900),
    ("H14", "葫芦岛恒远锅炉制造有限公司", "211402", "C3411", 6800),
    ("H15", "葫芦岛新兴电子元件有限公司", "211403", "C3981", 7600),
    ("H16", "葫芦岛辽西特种车辆有限公司", "211402", "C3660", 24600),
    ("H17", "葫芦岛市瑞丰汽车零部件有限公司", "211404", "C3670", 19800),
    ("H18", "兴城市北方精密铸造有限公司", "211481", "C3391", 12400),
    ("H19", "葫芦岛华信仪器仪表有限公司", "211402", "C4014", 8900),
    ("H20", "葫芦岛市盛源流体机械有限公司", "211402", "C3441", 10300),
    ("H21", "绥中县宏大电线电缆有限公司", "211421", "C3831", 14200),
    ("H22", "葫芦岛昊天环保设备有限公司", "211403", "C3591", 6900),
    ("H23", "建昌县鑫达新型建材有限公司", "211422", "C3024", 5600),
    ("H24", "葫芦岛市东泰耐火材料有限公司", "211404", "C3089", 7100),
    ("H25", "葫芦岛中兴紧固件有限公司", "211402", "C3482", 5300),
    ("H26", "兴城市天宇光伏科技有限公司", "211481", "C3825", 9200),
    ("H27", "葫芦岛宏业硅材料有限公司", "211403", "C3985", 11800),
    ("H28", "绥中县辽西风电装备有限公司", "211421", "C3415", 13600),
    ("H29", "葫芦岛市海润医药科技有限公司", "211402", "C2720", 8800),
    ("H30", "葫芦岛北辰工业机器人有限公司", "211403", "C3491", 6200),
    ("H31", "绥中县金穗农产品加工有限公司", "211421", "C1371", 9700),
    ("H32", "葫芦岛聚源塑胶管业有限公司", "211404", "C2922", 5800),
    ("H33", "葫芦岛市远航船舶设备有限公司", "211403", "C3734", 10900),
    ("H34", "葫芦岛锦程锂电材料有限公司", "211402", "C3841", 15600),
    ("H35", "兴城市华茂泳装服饰有限公司", "211481", "C1821", 5100),
    ("H36", "葫芦岛众诚检测技术有限公司", "211402", "M7452", 3600),
    ("H37", "葫芦岛东华化工科技有限公司", "211404", "C2662", 8400),
    ("H38", "葫芦岛市祥和变压器有限公司", "211402", "C3821", 7700),
    ("H39", "建昌县绿源生物饲料有限公司", "211422", "C1329", 6600),
    ("H40", "葫芦岛市鑫源软件科技有限公司", "211402", "I6513", 3900),
    ("H41", "葫芦岛海威橡胶制品有限公司", "211403", "C2913", 4800),
    ("H42", "葫芦岛蓝海包装材料有限公司", "211404", "C2231", 4500),
    ("H43", "绥中县博远电子科技有限公司", "211421", "C3982", 5200),
    ("H44", "兴城市润丰食品有限公司", "211481", "C1439", 4200),
    ("I01", "葫芦岛智联信息技术有限公司", "211402", "I6513", 2600),
    ("I02", "葫芦岛市科瑞电气有限公司", "211403", "C3824", 4300),
    ("I03", "兴城市海韵泳装设计有限公司", "211481", "C1821", 3800),
    ("I04", "绥中县鑫源农业科技有限公司", "211421", "C1371", 2900),
    ("I05", "葫芦岛市宏基精密机械有限公司", "211402", "C3484", 3400),
    ("I06", "葫芦岛汇通物流装备有限公司", "211403", "C3434", 3100),
    ("I07", "葫芦岛百川环境工程有限公司", "211404", "C3591", 2700),
    ("I08", "葫芦岛德润新材料有限公司", "211403", "C2651", 3600),
    ("I09", "建昌县森源中药饮片有限公司", "211422", "C2730", 2400),
    ("I10", "葫芦岛市恒信电子有限公司", "211402", "C3989", 2800),
    ("I11", "葫芦岛星火激光科技有限公司", "211402", "C3499", 2200),
    ("I12", "兴城市华益服装有限公司", "211481", "C1819", 2500),
    ("I13", "葫芦岛市宏远模具有限公司", "211404", "C3525", 3300),
    ("I14", "葫芦岛泰和电力科技有限公司", "211402", "C3829", 3000),
    ("I15", "绥中县天利铸造有限公司", "211421", "C3391", 3700),
    ("I16", "葫芦岛金诺化学有限公司", "211404", "C2669", 2900),
    ("I17", "葫芦岛市鼎盛数控机床有限公司", "211402", "C3421", 4100),
    ("I18", "葫芦岛海洋生物科技有限公司", "211403", "C2761", 2300),
    ("I19", "葫芦岛东方钢结构有限公司", "211404", "C3311", 5200),
    ("I20", "建昌县华润农机装备有限公司", "211422", "C3572", 2600),
    ("I21", "葫芦岛市天启智能装备有限公司", "211402", "C3491", 3500),
    ("I22", "葫芦岛海丰渔业装备有限公司", "211403", "C3579", 2100),
    ("I23", "兴城市佳美泳装有限公司", "211481", "C1821", 2400),
    ("I24", "葫芦岛同创节能科技有限公司", "211402", "C3591", 2200),
    ("I25", "葫芦岛市联兴汽车配件有限公司", "211404", "C3670", 4600),
    ("I26", "葫芦岛光华玻璃制品有限公司", "211403", "C3049", 3200),
    ("I27", "葫芦岛国泰液压件有限公司", "211402", "C3444", 3900),
    ("I28", "绥中县华宇电力工程有限公司", "211421", "C3829", 2800),
    ("I29", "葫芦岛宏图印务科技有限公司", "211404", "C2319", 2500),
    ("I30", "葫芦岛瑞达精密齿轮有限公司", "211402", "C3453", 4400),
    ("I31", "葫芦岛恒通电缆附件有限公司", "211403", "C3831", 2300),
    ("I32", "兴城市古城食品有限公司", "211481", "C1439", 2000),
    ("I33", "葫芦岛市新锐传感科技有限公司", "211402", "C3983", 1200),
    ("I34", "葫芦岛博创海洋工程装备有限公司", "211403", "C3737", 3600),
    ("I35", "建昌县金石矿业装备有限公司", "211422", "C3511", 2700),
]
# An older code whose check character fails: registered under an explicit override.
LEGACY = ("HOLD", "葫芦岛市渤海密封件有限公司", "211421", "C3489", 4700)
LEGACY_OVERRIDE = "葫芦岛市市场监督管理局《关于历史统一社会信用代码核验情况的说明》葫市监函〔2022〕17号"

# Dalian (大连, 210200), a 计划单列市: in the national programme it decides its own 专精特新 and
# 创新型 (on its districts' recommendations) and recommends little giants to MIIT.
# Districts and counties: 210202 中山区, 210203 西岗区, 210204 沙河口区, 210211 甘井子区,
# 210212 旅顺口区, 210213 金州区, 210214 普兰店区, 210224 长海县, 210281 瓦房店市, 210283 庄河市
DALIAN_DISTRICTS: dict[str, tuple[str, int]] = {  # code -> (name, weight in the generated population)
    "210202": ("中山区", 6), "210203": ("西岗区", 5), "210204": ("沙河口区", 9), "210211": ("甘井子区", 24),
    "210212": ("旅顺口区", 7), "210213": ("金州区", 28), "210214": ("普兰店区", 6), "210224": ("长海县", 1),
    "210281": ("瓦房店市", 9), "210283": ("庄河市", 5),
}
for _code, (_name, _) in DALIAN_DISTRICTS.items():  # the districts recommend: they act for the city
    AUTHORITIES[_code] = (f"{_name}工业和信息化局" if _name.endswith("市") else f"大连市{_name}工业和信息化局",
                          f"{_name[:2]}工信发")

DALIAN: list[tuple[str, str, str, str, int]] = [  # the enterprises of the scenario (moves, revocation, ...)
    ("D01", "大连海创精密机械有限公司", "210213", "C3484", 28600),
    ("D02", "大连金港化工设备有限公司", "210211", "C3521", 33400),
    ("D03", "大连星海数控股份有限公司", "210204", "C3421", 61200),
    ("D04", "长春宏远汽车模具有限公司", "220106", "C3525", 17800),  # moves to 210213 in 2022
    ("D05", "石家庄华瑞医疗器械有限公司", "130104", "C3589", 9600),  # moves to 210211 in 2023
    ("D06", "大连瑞泰软件技术有限公司", "210211", "I6513", 3100),
    ("D07", "大连旅顺海洋食品有限公司", "210212", "C1362", 5400),
    ("D08", "大连瓦房店精密轴承有限公司", "210281", "C3451", 21300),
]

# The generated Dalian population behind the report of 2023-07-11 (names, districts,
# industries and revenues drawn by a seeded RNG; GB/T 4754-2017 classes with the words that
# name such firms).  The report gives the four totals only; how they split over batches,
# districts and industries is the demo's own (docs/domain.md, assumptions).
_DL_INDUSTRIES: list[tuple[str, tuple[str, ...], int]] = [  # class, name words, weight
    ("C3484", ("精密机械", "机械零部件", "传动机械"), 9), ("C3421", ("数控机床", "数控技术"), 5),
    ("C3451", ("轴承", "精密轴承"), 6), ("C3521", ("化工装备", "石化设备"), 5), ("C3443", ("阀门", "流体控制"), 5),
    ("C3734", ("船舶配套", "船用设备"), 5), ("C3737", ("海洋工程装备",), 2), ("C3525", ("模具",), 3),
    ("C3670", ("汽车零部件",), 5), ("C3821", ("电气", "变压器"), 4), ("C3831", ("电线电缆",), 2),
    ("C3984", ("电子元件", "电子科技"), 4), ("C3976", ("光电科技",), 2), ("C4014", ("仪器仪表", "测控技术"), 4),
    ("C2614", ("化工", "精细化工"), 4), ("C2662", ("新材料", "专用化学品"), 4), ("C2720", ("医药", "制药"), 3),
    ("C2761", ("生物科技", "生物工程"), 3), ("C1362", ("海洋食品", "水产食品"), 3), ("C3091", ("新材料科技",), 2),
    ("C3491", ("机器人", "智能装备"), 4), ("C3599", ("环保设备",), 2), ("I6513", ("软件技术", "软件"), 7),
    ("I6531", ("信息技术", "数据科技"), 4), ("M7320", ("检测技术",), 1), ("C3311", ("钢结构",), 1),
]
_DL_FIRST = "海金华恒瑞德鑫远宏星泰盛新凯佳利丰众科创博信益通龙润汇天达广隆嘉明"
_DL_SECOND = "创港洋达源兴诚辉泰川航峰盛邦宇拓鼎程越铭翔睿联晟骏耀昊威"


def _dalian_population() -> dict[str, list[tuple[str, str, str, str, int]]]:
    """The generated Dalian enterprises by role, deterministic: (key, name, district, industry,
    revenue 万元).  Revenues are such that every assessment of its tiers passes."""
    rng = random.Random("cultivation-demo:dalian:2023-07-11")
    districts = list(DALIAN_DISTRICTS)
    dweights = [w for _, w in DALIAN_DISTRICTS.values()]
    iweights = [w for _, _, w in _DL_INDUSTRIES]
    taken = {name for _, name, _, _, _ in DALIAN}
    roles = {role: n for role, n in DALIAN_COUNTS.items()}
    out: dict[str, list[tuple[str, str, str, str, int]]] = {role: [] for role in roles}
    i = 0
    for role, n in roles.items():
        for _ in range(n):
            i += 1
            district = rng.choices(districts, dweights)[0]
            industry, words, _ = rng.choices(_DL_INDUSTRIES, iweights)[0]
            place = {"210281": "瓦房店", "210283": "庄河", "210214": "普兰店", "210224": "长海"}.get(district, "大连")
            while True:
                brand = rng.choice(_DL_FIRST) + rng.choice(_DL_SECOND)
                form = "股份有限公司" if rng.random() < 0.08 else "有限公司"
                name = f"{place}{brand}{rng.choice(words)}{form}"
                if name not in taken:
                    taken.add(name)
                    break
            if role == "pooled":
                revenue = rng.randint(800, 9000)
            elif role == "innovative":
                revenue = rng.randint(1200, 18000)
            else:
                revenue = rng.randint(3000, 65000)
            out[role].append((f"DL{i:04d}", name, district, industry, revenue))
    return out


@cache
def dalian_generated() -> tuple[str, ...]:
    """The USCCs of the generated Dalian population, in the order generated (tests that
    decide the demo one command at a time take a sample of them)."""
    return tuple(_uscc(key, region) for rows in _dalian_population().values() for key, _, region, _, _ in rows)


# How many generated enterprises play each part (with the eight scenario enterprises above,
# these give the report's figures on 2023-07-11; _dalian says how)
DALIAN_COUNTS: dict[str, int] = {
    "s2018": 40, "s2019": 70, "s2020": 90, "s2021": 110, "s2022": 144,  # 专精特新 by batch (year approved)
    "innovative": 832,  # 创新型, in three batches
    "pooled": 1702,  # in the 专精特新培育库 only
}
# Qingdao: 370211 黄岛区, 370212 崂山区, 370214 城阳区, 370215 即墨区, 370281 胶州市, 370283 平度市
QINGDAO: list[tuple[str, str, str, str, int]] = [
    ("Q01", "青岛海纳精密机械有限公司", "370211", "C3484", 23800),
    ("Q02", "青岛蓝谷海洋生物科技有限公司", "370212", "C2761", 8700),
    ("Q03", "青岛瑞科橡胶机械有限公司", "370214", "C3522", 15400),
    ("Q04", "青岛华宸轨道交通装备有限公司", "370215", "C3714", 19600),
    ("Q05", "青岛胶州湾智能家电配件有限公司", "370281", "C3856", 11200),
    ("Q06", "青岛金晟石墨新材料有限公司", "370283", "C3091", 7300),
]
# Hangzhou: 330106 西湖区, 330108 滨江区, 330109 萧山区, 330111 富阳区, 330113 临平区, 330114 钱塘区
HANGZHOU: list[tuple[str, str, str, str, int]] = [
    ("Z01", "杭州中科微感传感技术有限公司", "330108", "C3983", 36500),
    ("Z02", "杭州富春精密机械有限公司", "330111", "C3484", 21800),
    ("Z03", "杭州云栖数智科技有限公司", "330106", "I6513", 4600),
    ("Z04", "杭州萧然纺织新材料有限公司", "330109", "C1751", 12900),
    ("Z05", "杭州临平智能装备有限公司", "330113", "C3491", 26300),
    ("Z06", "杭州钱塘生物医药有限公司", "330114", "C2761", 5800),
]

PRODUCTS: dict[str, list[str]] = {
    "H01": ["高效节能多级离心泵", "核电站用余热排出泵"],
    "H02": ["热镀锌用锌铝镁合金锭"],
    "H03": ["船用甲板机械液压绞车", "LNG船用低温截止阀"],
    "H04": ["高纯三氧化钼"],
    "H05": ["抽油机智能控制柜"],
    "H06": ["35kV箱式变电站"],
    "H07": ["高温高压硬密封球阀"],
    "H08": ["风电主轴调心滚子轴承"],
    "H09": ["电子级氢氟酸"],
    "H10": ["矿用圆锥破碎机"],
    "H13": ["即食调味海蜇"],
    "H15": ["高压薄膜电容器"],
    "H16": ["油田压裂车底盘改装车"],
    "H18": ["熔模精密铸造涡轮壳"],
    "H19": ["在线水质多参数分析仪"],
    "H20": ["大流量化工流程泵"],
    "H21": ["光伏专用直流电缆"],
    "H22": ["脉冲袋式除尘器"],
    "H24": ["低导热莫来石砖"],
    "H25": ["风电塔筒高强度螺栓"],
    "H26": ["双面PERC光伏组件"],
    "H27": ["光伏级多晶硅片"],
    "H28": ["风电机组轮毂铸件"],
    "H29": ["盐酸氨溴索口服溶液"],
    "H30": ["焊接机器人工作站"],
    "H31": ["脱水蔬菜冻干制品"],
    "H33": ["船用液压舵机"],
    "H34": ["磷酸铁锂正极材料"],
    "H37": ["聚羧酸减水剂单体"],
    "H38": ["非晶合金配电变压器"],
    "H40": ["工业互联网设备监测平台"],
    "H41": ["耐油橡胶密封圈"],
    "H44": ["即食海苔休闲食品"],
    "I13": ["汽车覆盖件冲压模具"],
    "I17": ["五轴联动数控加工中心"],
    "I19": ["装配式钢结构桁架"],
    "I21": ["AGV智能搬运机器人"],
    "I25": ["商用车制动鼓"],
    "I27": ["工程机械液压多路阀"],
    "I30": ["减速机硬齿面齿轮"],
    "HOLD": ["核级机械密封"],
    "D02": ["加氢反应器内件"],
    "D07": ["即食海参"],
    "Q01": ["精密数控转台", "高刚性直线导轨副"],
    "Q02": ["海藻酸钠医用敷料", "壳聚糖止血海绵"],
    "Q03": ["全钢子午线轮胎一次法成型机", "轮胎硫化机"],
    "Q04": ["地铁车辆转向架构架"],
    "Q05": ["变频压缩机控制板", "冰箱门体注塑件"],
    "Q06": ["锂电池负极用球形石墨"],
    "Z01": ["MEMS压力传感器标定装备", "微压差变送器", "高精度气压传感器自动校准系统"],
    "Z03": ["工业视觉检测一体机"],
    "Z05": ["七轴协作焊接机器人"],
}


# ---------------------------------------------------------------------------- batches
@dataclass(frozen=True)
class Batch:
    """One yearly round of one tier: the dates every application of the round goes by."""

    programme: str
    tier: str
    apply: date
    recommend: tuple[date, ...]  # one date per recommending level, lowest first
    assess: date
    notice: date
    approve: date
    doc: str  # the approval's 文号
    title: str  # the notice's title


def _batch(programme: str, tier: str, apply: str, recommend: tuple[str, ...], assess: str, notice: str,
           approve: str, doc: str, title: str) -> Batch:
    d = date.fromisoformat
    return Batch(programme, tier, d(apply), tuple(d(r) for r in recommend), d(assess), d(notice), d(approve), doc,
                 title)


LN = "辽宁省"
# 专精特新中小企业, decided by the province under the national programme
S0 = _batch("national", "specialized", "2018-11-28", ("2018-12-05",), "2018-12-12", "2018-12-14", "2018-12-27",
            "辽工信发〔2018〕62号", f"{LN}2018年专精特新中小企业拟认定名单公示")
S1 = _batch("national", "specialized", "2019-08-15", ("2019-09-10",), "2019-10-22", "2019-11-08", "2019-11-20",
            "辽工信发〔2019〕215号", f"{LN}2019年专精特新中小企业拟认定名单公示")
S2 = _batch("national", "specialized", "2020-08-20", ("2020-09-15",), "2020-10-27", "2020-11-10", "2020-11-25",
            "辽工信发〔2020〕203号", f"{LN}2020年专精特新中小企业拟认定名单公示")
S3 = _batch("national", "specialized", "2021-08-16", ("2021-09-13",), "2021-10-26", "2021-11-12", "2021-11-26",
            "辽工信发〔2021〕236号", f"{LN}2021年专精特新中小企业拟认定名单公示")
S4 = _batch("national", "specialized", "2022-08-15", ("2022-09-14",), "2022-10-25", "2022-11-18", "2022-12-02",
            "辽工信发〔2022〕245号", f"{LN}2022年专精特新中小企业拟认定名单公示")
S5 = _batch("national", "specialized", "2023-08-14", ("2023-09-12",), "2023-10-24", "2023-11-10", "2023-11-24",
            "辽工信发〔2023〕198号", f"{LN}2023年专精特新中小企业拟认定名单公示")
S8 = _batch("national", "specialized", "2026-05-11", ("2026-06-10",), "2026-07-21", "2026-08-07", "2026-08-21",
            "辽工信发〔2026〕97号", f"{LN}2026年专精特新中小企业拟认定名单公示")
# 创新型中小企业 (from the 2022 national version), decided by the province
N1 = _batch("national", "innovative", "2022-06-15", ("2022-07-20",), "2022-08-30", "2022-09-15", "2022-09-28",
            "辽工信发〔2022〕176号", f"{LN}2022年第一批创新型中小企业拟公告名单公示")
N2 = _batch("national", "innovative", "2023-01-10", ("2023-02-14",), "2023-03-07", "2023-03-16", "2023-03-30",
            "辽工信发〔2023〕41号", f"{LN}2023年第一批创新型中小企业拟公告名单公示")
N3 = _batch("national", "innovative", "2023-07-03", ("2023-07-25",), "2023-08-22", "2023-09-05", "2023-09-18",
            "辽工信发〔2023〕137号", f"{LN}2023年第二批创新型中小企业拟公告名单公示")
N8 = _batch("national", "innovative", "2026-08-03", ("2026-08-20",), "2026-09-08", "2026-09-22", "2026-10-09",
            "辽工信发〔2026〕151号", f"{LN}2026年第二批科技和创新型中小企业拟公告名单公示")
N7 = _batch("national", "innovative", "2026-04-20", ("2026-05-15",), "2026-06-05", "2026-06-12", "2026-06-26",
            "辽工信发〔2026〕58号", f"{LN}2026年第一批科技和创新型中小企业拟公告名单公示")
# 专精特新"小巨人" (MIIT), recommended by the province
L1 = _batch("national", "little_giant", "2019-03-01", ("2019-03-29",), "2019-05-10", "2019-05-22", "2019-06-06",
            "工信部企业函〔2019〕153号", "第一批专精特新“小巨人”企业名单公示")
L2 = _batch("national", "little_giant", "2020-06-15", ("2020-07-20",), "2020-10-30", "2020-11-20", "2020-12-15",
            "工信部企业函〔2020〕335号", "第二批专精特新“小巨人”企业名单公示")
L3 = _batch("national", "little_giant", "2021-03-15", ("2021-04-20",), "2021-06-10", "2021-06-22", "2021-07-19",
            "工信部企业函〔2021〕197号", "第三批专精特新“小巨人”企业名单公示")
L4 = _batch("national", "little_giant", "2022-04-15", ("2022-05-20",), "2022-07-12", "2022-07-25", "2022-08-12",
            "工信部企业函〔2022〕191号", "第四批专精特新“小巨人”企业名单公示")
L5 = _batch("national", "little_giant", "2023-03-20", ("2023-04-20",), "2023-06-05", "2023-07-05", "2023-07-24",
            "工信部企业函〔2023〕158号", "第五批专精特新“小巨人”企业名单公示")
# 重点支持"小巨人" (MIIT with MOF)
K1 = _batch("national", "key_little_giant", "2021-02-22", ("2021-03-12",), "2021-04-20", "2021-05-06", "2021-05-20",
            "工信厅联企业函〔2021〕112号", "第一批重点支持“小巨人”企业名单公示")
K2 = _batch("national", "key_little_giant", "2022-01-10", ("2022-02-15",), "2022-03-22", "2022-04-12", "2022-04-28",
            "工信厅联企业函〔2022〕86号", "第二批重点支持“小巨人”企业名单公示")
# Liaoning's own tiers: provincial 小巨人 and 专精特新产品, valid from the next 1 January
P1 = _batch("liaoning", "little_giant", "2019-09-02", ("2019-10-10",), "2019-11-18", "2019-12-02", "2019-12-18",
            "辽工信发〔2019〕232号", f"{LN}2019年专精特新“小巨人”企业拟认定名单公示")
P2 = _batch("liaoning", "little_giant", "2020-09-01", ("2020-10-12",), "2020-11-16", "2020-12-04", "2020-12-22",
            "辽工信发〔2020〕221号", f"{LN}2020年专精特新“小巨人”企业拟认定名单公示")
P3 = _batch("liaoning", "little_giant", "2021-09-01", ("2021-10-11",), "2021-11-15", "2021-12-03", "2021-12-20",
            "辽工信发〔2021〕251号", f"{LN}2021年专精特新“小巨人”企业拟认定名单公示")
P4 = _batch("liaoning", "little_giant", "2022-09-01", ("2022-10-11",), "2022-11-15", "2022-12-02", "2022-12-16",
            "辽工信发〔2022〕262号", f"{LN}2022年专精特新“小巨人”企业拟认定名单公示")
P5 = _batch("liaoning", "little_giant", "2023-09-01", ("2023-10-11",), "2023-11-15", "2023-12-01", "2023-12-15",
            "辽工信发〔2023〕226号", f"{LN}2023年专精特新“小巨人”企业拟认定名单公示")
R1 = _batch("liaoning", "product", "2019-09-02", ("2019-10-10",), "2019-11-18", "2019-12-02", "2019-12-18",
            "辽工信发〔2019〕233号", f"{LN}2019年专精特新产品（技术）拟认定名单公示")
R2 = _batch("liaoning", "product", "2020-09-01", ("2020-10-12",), "2020-11-16", "2020-12-04", "2020-12-22",
            "辽工信发〔2020〕222号", f"{LN}2020年专精特新产品（技术）拟认定名单公示")
R3 = _batch("liaoning", "product", "2021-09-01", ("2021-10-11",), "2021-11-15", "2021-12-03", "2021-12-20",
            "辽工信发〔2021〕252号", f"{LN}2021年专精特新产品（技术）拟认定名单公示")
R4 = _batch("liaoning", "product", "2022-09-01", ("2022-10-11",), "2022-11-15", "2022-12-02", "2022-12-16",
            "辽工信发〔2022〕263号", f"{LN}2022年专精特新产品（技术）拟认定名单公示")
R5 = _batch("liaoning", "product", "2023-09-01", ("2023-10-11",), "2023-11-15", "2023-12-01", "2023-12-15",
            "辽工信发〔2023〕227号", f"{LN}2023年专精特新产品（技术）拟认定名单公示")
# Other provinces' 专精特新 (the two enterprises that later move to Dalian)
JS20 = _batch("national", "specialized", "2020-08-10", ("2020-09-08",), "2020-10-20", "2020-11-20", "2020-12-10",
              "吉工信发〔2020〕178号", "吉林省2020年专精特新中小企业拟认定名单公示")
HS21 = _batch("national", "specialized", "2021-05-10", ("2021-06-08",), "2021-07-20", "2021-08-30", "2021-09-15",
              "冀工信企业〔2021〕228号", "河北省2021年专精特新中小企业拟认定名单公示")
# Dalian, a 计划单列市: its own 专精特新 and 创新型 rounds under the national programme (dates and
# document numbers are the demo's; docs/domain.md, assumptions)
DL = "大连市"
DS18 = _batch("national", "specialized", "2018-11-27", ("2018-12-03",), "2018-12-10", "2018-12-12", "2018-12-21",
              "大工信发〔2018〕118号", f"{DL}2018年专精特新中小企业拟认定名单公示")
DS19 = _batch("national", "specialized", "2019-08-12", ("2019-09-05",), "2019-10-15", "2019-10-30", "2019-11-12",
              "大工信发〔2019〕186号", f"{DL}2019年专精特新中小企业拟认定名单公示")
DS20 = _batch("national", "specialized", "2020-08-10", ("2020-09-08",), "2020-10-20", "2020-11-03", "2020-11-17",
              "大工信发〔2020〕173号", f"{DL}2020年专精特新中小企业拟认定名单公示")
DS21 = _batch("national", "specialized", "2021-08-09", ("2021-09-07",), "2021-10-19", "2021-11-02", "2021-11-16",
              "大工信发〔2021〕201号", f"{DL}2021年专精特新中小企业拟认定名单公示")
DS22 = _batch("national", "specialized", "2022-08-08", ("2022-09-06",), "2022-10-18", "2022-11-01", "2022-11-15",
              "大工信发〔2022〕214号", f"{DL}2022年专精特新中小企业拟认定名单公示")
DN22 = _batch("national", "innovative", "2022-07-01", ("2022-07-25",), "2022-08-22", "2022-09-01", "2022-09-13",
              "大工信发〔2022〕151号", f"{DL}2022年第一批创新型中小企业拟公告名单公示")
DN22B = _batch("national", "innovative", "2022-10-10", ("2022-10-28",), "2022-11-15", "2022-11-22", "2022-12-02",
               "大工信发〔2022〕238号", f"{DL}2022年第二批创新型中小企业拟公告名单公示")
DN23 = _batch("national", "innovative", "2023-02-06", ("2023-02-24",), "2023-03-14", "2023-03-21", "2023-04-03",
              "大工信发〔2023〕52号", f"{DL}2023年第一批创新型中小企业拟公告名单公示")
# Zhejiang / Hangzhou
ZS20 = _batch("national", "specialized", "2020-07-01", ("2020-07-30",), "2020-09-10", "2020-09-25", "2020-10-15",
              "浙经信企业〔2020〕140号", "浙江省2020年专精特新中小企业拟认定名单公示")
ZS21 = _batch("national", "specialized", "2021-07-05", ("2021-08-05",), "2021-09-20", "2021-10-26", "2021-11-10",
              "浙经信企业〔2021〕158号", "浙江省2021年专精特新中小企业拟认定名单公示")
ZS22 = _batch("national", "specialized", "2022-07-04", ("2022-08-04",), "2022-09-20", "2022-10-25", "2022-11-08",
              "浙经信企业〔2022〕172号", "浙江省2022年专精特新中小企业拟认定名单公示")
ZN22 = _batch("national", "innovative", "2022-07-04", ("2022-08-04",), "2022-09-15", "2022-09-26", "2022-10-10",
              "浙经信企业〔2022〕150号", "浙江省2022年创新型中小企业拟公告名单公示")
ZN23 = _batch("national", "innovative", "2023-01-09", ("2023-02-08",), "2023-03-01", "2023-03-08", "2023-03-20",
              "浙经信企业〔2023〕36号", "浙江省2023年第一批创新型中小企业拟公告名单公示")
ZH22 = _batch("zhejiang", "hidden_champion", "2022-07-11", ("2022-08-10",), "2022-09-28", "2022-10-18",
              "2022-11-01", "浙经信企业〔2022〕165号", "浙江省2022年隐形冠军企业拟认定名单公示")
# Qingdao "131": no recommendation, the city decides
QP16 = _batch("qingdao", "product", "2016-04-05", (), "2016-05-20", "2016-06-01", "2016-06-15",
              "青中小企发〔2016〕15号", "青岛市2016年专精特新产品（技术）拟认定名单公示")
QP19 = _batch("qingdao", "product", "2019-04-08", (), "2019-05-20", "2019-06-03", "2019-06-17",
              "青民经发〔2019〕21号", "青岛市2019年专精特新产品（技术）拟认定名单公示")
QD20 = _batch("qingdao", "demonstration", "2020-04-10", (), "2020-05-25", "2020-06-08", "2020-07-01",
              "青民经发〔2020〕18号", "青岛市2020年专精特新示范企业拟认定名单公示")
QP21 = _batch("qingdao", "product", "2021-04-06", (), "2021-05-18", "2021-06-01", "2021-06-18",
              "青民经发〔2021〕20号", "青岛市2021年专精特新产品（技术）拟认定名单公示")
QH21 = _batch("qingdao", "hidden_champion", "2021-05-10", (), "2021-06-28", "2021-07-12", "2021-08-02",
              "青民经发〔2021〕33号", "青岛市2021年隐形冠军企业拟认定名单公示")
QD22 = _batch("qingdao", "demonstration", "2022-01-10", (), "2022-03-15", "2022-04-01", "2022-04-20",
              "青民经发〔2022〕12号", "青岛市2022年专精特新示范企业拟认定名单公示")
QP22 = _batch("qingdao", "product", "2022-04-06", (), "2022-05-17", "2022-06-01", "2022-06-20",
              "青民经发〔2022〕26号", "青岛市2022年专精特新产品（技术）拟认定名单公示")
QH23 = _batch("qingdao", "hidden_champion", "2023-03-10", (), "2023-04-20", "2023-05-04", "2023-05-22",
              "青民经发〔2023〕15号", "青岛市2023年隐形冠军企业拟认定名单公示")


# ---------------------------------------------------------------------------- the builder
@dataclass
class _Held:
    """What the builder knows of one designation, to schedule yearly data filings."""

    approved_on: date
    valid_until: date
    ended_on: date | None = None


class _Builder:
    def __init__(self) -> None:
        self.items: list[tuple[date, int, Cmd, str | None]] = []
        self.ents: dict[str, Ent] = {}
        self.held: dict[tuple[str, str], _Held] = {}
        self.reviews: dict[tuple[str, str], int] = {}
        self.filing_skips: set[tuple[str, int]] = set()
        self.filing_dates: dict[tuple[str, int], date] = {}
        self.first_seen: dict[str, date] = {}
        self._n = 0

    # ------------------------------------------------------------------ plumbing
    def emit(self, command: str, on: date, actor: dict[str, str], expect: str | None = None, **fields: Any) -> None:
        key = fields.pop("_ent", None)
        body: Cmd = {"command": command, "command_id": "", "occurred_on": on.isoformat(), "actor": actor}
        body.update({k: v for k, v in fields.items() if v is not None})
        self.items.append((on, len(self.items), body, expect))
        if key:
            self.first_seen[key] = min(on, self.first_seen.get(key, on))

    def seq(self) -> int:
        self._n += 1
        return self._n

    def add(self, rows: list[tuple[str, str, str, str, int]], **kw: Any) -> None:
        for key, name, region, industry, revenue in rows:
            e = Ent(key, name, region, industry, revenue, **kw)
            e.uscc = _uscc(key, region)
            e.products = {f"{key}-P{i + 1}": p for i, p in enumerate(PRODUCTS.get(key, []))}
            self.ents[key] = e

    def e(self, key: str) -> Ent:
        return self.ents[key]

    def ecmd(self, command: str, ent: Ent, on: date, actor: dict[str, str], expect: str | None = None,
             **fields: Any) -> None:
        self.emit(command, on, actor, expect, uscc=ent.uscc, _ent=ent.key, **fields)

    # ------------------------------------------------------------------ the lifecycle
    def apply(self, ent: Ent, b: Batch, app: str, *, on: date | None = None, product: str | None = None,
              expect: str | None = None, revenue_fen: int | None = None) -> None:
        on = on or b.apply
        self.ecmd("apply", ent, on, ent.self_actor(on), expect, application_id=app, programme=b.programme,
                  tier=b.tier, product_id=product, product_name=ent.products.get(product) if product else None,
                  declared_revenue_fen=revenue_fen)

    def recommend(self, ent: Ent, b: Batch, app: str, *, level: str | None = None, on: date | None = None,
                  who: str | None = None, expect: str | None = None) -> None:
        levels = [lv.value for lv in _tier(b.programme, b.tier, b.apply).recommend_levels]
        dates = dict(zip(levels, b.recommend))
        for lv in [level] if level else levels:
            d = on or dates[lv]
            code = who or _level_authority(b.programme, d, lv, ent.region_on(d))
            self.ecmd("recommend", ent, d, authority(code), expect, application_id=app,
                      document=_doc(code, d, 10 + self.seq() % 90))

    def decider(self, ent: Ent, b: Batch, on: date) -> dict[str, str]:
        return authority(_level_authority(b.programme, on, _tier(b.programme, b.tier, on).deciding_level,
                                          ent.region_on(on)))

    def assessor(self, ent: Ent, b: Batch, on: date) -> dict[str, str]:
        """Who assesses: the tier's ``assessed_at`` level (创新型: the city, 63号; in Dalian the district)."""
        return authority(_level_authority(b.programme, on, _tier(b.programme, b.tier, on).assessed_at,
                                          ent.region_on(on)))

    def noticer(self, ent: Ent, b: Batch, on: date) -> dict[str, str]:
        """Who holds the notice (公示) and resolves its objections: the tier's ``noticed_at`` level."""
        return authority(_level_authority(b.programme, on, _tier(b.programme, b.tier, on).noticed_at,
                                          ent.region_on(on)))

    def assess(self, ent: Ent, b: Batch, app: str, *, on: date | None = None, expect: str | None = None,
               **override: Any) -> None:
        on = on or b.assess
        fields = self.assessment(ent, b, on)
        fields.update(override)
        self.ecmd("assess", ent, on, self.assessor(ent, b, on), expect, application_id=app,
                  document=f"{b.title.removesuffix('公示')}专家评审意见", **fields)

    def assessment(self, ent: Ent, b: Batch, on: date) -> dict[str, Any]:
        h = sum(map(ord, ent.key + b.tier)) % 12
        revenue_fen = ent.revenue_wan * 1_000_000
        if b.tier == "innovative":
            comps = {"innovation": 26 + h % 9, "growth": 17 + h % 6, "specialization": 18 + (h * 5) % 7}
            return {"score": sum(comps.values()), "components": comps,
                    "indicators": {"revenue_fen": revenue_fen, "rd_ratio_bp": 320 + 25 * h}}
        if b.tier == "specialized":
            rd_bp = 420 + 30 * h
            out: dict[str, Any] = {"score": 78 + h, "indicators": {
                "niche_years": 6 + h, "rd_expense_fen": revenue_fen * rd_bp // 10000, "rd_ratio_bp": rd_bp,
                "revenue_fen": revenue_fen, "main_business_bp": 8600 + 50 * h, "debt_ratio_bp": 3800 + 150 * h}}
            last = last_data_year(on)
            if len(_tier(b.programme, b.tier, on).assessment.data_years(last)) > 1:
                # the 2026 standard: R&D in each of the last two years, and a Class I IP right; the
                # year before the last, with revenue 6 % lower and the same R&D share
                before = revenue_fen * 100 // 106
                out["indicators"]["class1_ip_count"] = 1 + h % 4
                out["yearly_indicators"] = {str(last - 1): {
                    "revenue_fen": before, "rd_expense_fen": before * (rd_bp - 20) // 10000, "rd_ratio_bp": rd_bp - 20}}
            return out
        if b.tier in ("little_giant", "key_little_giant") and b.programme == "national":
            return {"score": 82 + h, "indicators": {
                "niche_years": 10 + h, "main_business_bp": 8800 + 40 * h, "debt_ratio_bp": 3600 + 120 * h,
                "national_share_bp": 1200 + 150 * h, "revenue_fen": revenue_fen}}
        return {"score": 80 + h, "indicators": {"revenue_fen": revenue_fen}}

    def notice(self, ent: Ent, b: Batch, app: str, *, on: date | None = None, expect: str | None = None) -> None:
        on = on or b.notice
        self.ecmd("open_notice", ent, on, self.noticer(ent, b, on), expect, application_id=app, document=b.title)

    def approve(self, ent: Ent, b: Batch, app: str, *, on: date | None = None, expect: str | None = None,
                who: dict[str, str] | None = None) -> None:
        on = on or b.approve
        self.ecmd("approve", ent, on, who or self.decider(ent, b, on), expect, application_id=app, document=b.doc)
        if expect is None:
            _, valid_until = _tier(b.programme, b.tier, on, ent.region_on(on)).validity(on)
            self.held[(ent.key, app)] = _Held(on, valid_until)

    def reject(self, ent: Ent, b: Batch, app: str, on: date, reason: str, who: dict[str, str] | None = None) -> None:
        self.ecmd("reject", ent, on, who or self.decider(ent, b, on), application_id=app, reason=reason,
                  document=f"{b.title.removesuffix('公示')}未通过情况说明")

    def designate(self, ent: Ent, b: Batch, app: str, *, product: str | None = None) -> None:
        """The whole ordinary path, by the batch's dates."""
        self.apply(ent, b, app, product=product)
        self.recommend(ent, b, app)
        self.assess(ent, b, app)
        self.notice(ent, b, app)
        self.approve(ent, b, app)

    def review(self, ent: Ent, programme: str, tier: str, app: str, on: date, passed: bool = True,
               expect: str | None = None, doc: str | None = None) -> None:
        judge = _book().reviewing(programme, tier, on, ent.region_on(on))  # the version that judges it (review_under)
        t = judge.tier(tier)
        code = judge.authority_for(t.deciding_level, ent.region_on(on))
        data: dict[str, Any] = {}
        if t.reviewed_on_criteria:
            # what the review checks beyond the yearly data filed (revenue, R&D, debt): the
            # evaluation's score and the last data year's niche, main business and IP
            h = sum(map(ord, ent.key + tier)) % 12
            data = {"score": 70 + h, "indicators": {"niche_years": 9 + h, "main_business_bp": 8700 + 50 * h,
                                                    "class1_ip_count": 1 + h % 4}}
        self.ecmd("review", ent, on, authority(code), expect, application_id=app, passed=passed,
                  document=doc or f"{_doc(code, on, 100 + self.seq() % 150)}（复核{'通过' if passed else '未通过'}）",
                  **data)
        if expect is None and passed:
            held = self.held[(ent.key, app)]
            until = add_years(held.valid_until, t.validity_years)
            if t.renewal == "replace":
                n = self.reviews.get((ent.key, app), 0) + 1
                self.reviews[(ent.key, app)] = n
                self.held[(ent.key, f"{app}~r{n}")] = _Held(on, until)
            else:
                held.valid_until = until

    def file_data(self, ent: Ent, year: int, on: date, expect: str | None = None) -> None:
        programme = "qingdao" if ent.key.startswith("Q") else "national"
        revenue_fen = ent.revenue_wan * 1_000_000 * (100 + 6 * (year - 2018)) // 100
        self.ecmd("file_yearly_data", ent, on, ent.self_actor(on), expect, programme=programme, data_year=year,
                  indicators={"revenue_fen": revenue_fen, "rd_expense_fen": revenue_fen * 5 // 100,
                              "rd_ratio_bp": 500, "employees": 80 + ent.revenue_wan // 150, "debt_ratio_bp": 4800})

    # ------------------------------------------------------------------ finishing
    def register_all(self) -> None:
        for key, ent in self.ents.items():
            first = self.first_seen.get(key)
            if first is None:
                continue
            on = first - timedelta(days=21)
            city = ent.region[:4] + "00"
            self.emit("register", on, authority(city, f"{AUTHORITIES[city][0]}（梯度培育服务平台）"),
                      uscc=ent.uscc, name=ent.name, region=ent.region, industry=ent.industry, listed=ent.listed,
                      uscc_override=ent.uscc_override, document="企业入驻梯度培育平台登记")

    def file_all(self, last_year: int = 2025) -> None:
        """Yearly data (年度数据更新): every enterprise holding a designation at the end of a
        year files that year's data in the spring after, by the deadline unless told."""
        by_key: dict[str, list[_Held]] = {}
        for (k, _), h in self.held.items():
            by_key.setdefault(k, []).append(h)
        for key, ent in self.ents.items():
            helds = by_key.get(key, [])
            for year in range(2016, last_year + 1):
                end = date(year, 12, 31)
                # held from its approval (Liaoning's validity starts the next January): rule 4 on those dates
                if not any(valid_on(end, status="approved", valid_from=h.approved_on, valid_until=h.valid_until,
                                    revoked_on=None, ended_on=h.ended_on) for h in helds):
                    continue
                if (key, year) in self.filing_skips:
                    continue
                spread = sum(map(ord, key)) % 40
                on = self.filing_dates.get((key, year), date(year + 1, 3, 10) + timedelta(days=spread + year % 5))
                self.file_data(ent, year, on)

    def script(self) -> list[tuple[Cmd, str | None]]:
        out = []
        for i, (_, _, body, expect) in enumerate(sorted(self.items, key=lambda t: (t[0], t[1])), 1):
            body["command_id"] = f"demo-{i:05d}-{body['command'].replace('_', '-')}"
            out.append((body, expect))
        return out


# ---------------------------------------------------------------------------- the story
def _huludao(b: _Builder) -> None:
    e = b.e
    hld = authority("211400")
    ln = authority("210000")
    miit = authority("000000")

    # -- 专精特新 (provincial, national programme): 36 valid on 2023-06-29 -----------------
    for k in ("H01", "H02", "H03"):
        b.designate(e(k), S0, "zjtx-2018")
    for k in [f"H{i:02d}" for i in range(4, 16)]:
        b.designate(e(k), S1, "zjtx-2019")
    for k in [f"H{i:02d}" for i in range(16, 27)]:
        if k == "H16":  # the city cannot decide a provincial designation
            b.apply(e(k), S2, "zjtx-2020")
            b.recommend(e(k), S2, "zjtx-2020")
            b.assess(e(k), S2, "zjtx-2020")
            b.notice(e(k), S2, "zjtx-2020")
            b.approve(e(k), S2, "zjtx-2020", on=S2.approve - timedelta(days=1), who=hld,
                      expect="authority.wrong_level")
            b.approve(e(k), S2, "zjtx-2020")
        else:
            b.designate(e(k), S2, "zjtx-2020")
    for k in [f"H{i:02d}" for i in range(27, 34)]:
        b.designate(e(k), S3, "zjtx-2021")
    for k in [f"H{i:02d}" for i in range(34, 41)]:
        ent = e(k)
        if k == "H35":  # assessment asked for before the city recommended
            b.apply(ent, S4, "zjtx-2022")
            b.assess(ent, S4, "zjtx-2022", on=S4.apply + timedelta(days=17), expect="assess.not_recommended")
            b.recommend(ent, S4, "zjtx-2022")
            b.assess(ent, S4, "zjtx-2022")
            b.notice(ent, S4, "zjtx-2022")
            b.approve(ent, S4, "zjtx-2022")
        elif k == "H38":  # passes by a direct-pass condition (高新技术企业 with R&D) despite a modest score
            b.apply(ent, S4, "zjtx-2022")
            b.recommend(ent, S4, "zjtx-2022")
            b.assess(ent, S4, "zjtx-2022", score=56, direct_pass=["hnte_with_rd"])
            b.notice(ent, S4, "zjtx-2022")
            b.approve(ent, S4, "zjtx-2022")
        else:
            b.designate(ent, S4, "zjtx-2022")
    # S4 also saw a withdrawal and a rejection (criteria not met)
    b.apply(e("I05"), S4, "zjtx-2022")
    b.ecmd("withdraw", e("I05"), date(2022, 9, 5), e("I05").self_actor(date(2022, 9, 5)), application_id="zjtx-2022",
           reason="研发费用归集口径需调整，企业主动撤回申报")
    b.apply(e("I07"), S4, "zjtx-2022")
    b.recommend(e("I07"), S4, "zjtx-2022")
    b.assess(e("I07"), S4, "zjtx-2022", indicators={
        "niche_years": 4, "rd_expense_fen": 56_700_000, "rd_ratio_bp": 210, "revenue_fen": 2_700_000_000,
        "main_business_bp": 9100, "debt_ratio_bp": 5200}, score=66)
    b.notice(e("I07"), S4, "zjtx-2022", expect="notice.not_assessed")
    b.reject(e("I07"), S4, "zjtx-2022", date(2022, 11, 1), "研发费用及占比未达到认定标准")
    # 2023 batch: approved after the report date
    for k in ("H41", "H42", "H43", "H44", "I02", "I03"):
        b.designate(e(k), S5, "zjtx-2023")

    # Reviews of the 2018 round (2018 rules; extend by three years) and of the 2019 round (2022 rules)
    for i, k in enumerate(("H01", "H02", "H03")):
        b.review(e(k), "national", "specialized", "zjtx-2018", date(2021, 9, 6) + timedelta(days=7 * i))
    for i, k in enumerate(("H04", "H05", "H06", "H07", "H08", "H09", "H10", "H15")):
        b.review(e(k), "national", "specialized", "zjtx-2019", date(2022, 7, 11) + timedelta(days=9 * i))
    b.review(e("H11"), "national", "specialized", "zjtx-2019", date(2022, 8, 22), passed=False,
             doc="辽工信函〔2022〕173号（复核未通过：研发投入占比连续两年低于3%）")
    b.filing_skips.add(("H12", 2021))  # H12 never files its 2021 data ...
    b.review(e("H12"), "national", "specialized", "zjtx-2019", date(2022, 9, 5), expect="review.yearly_data_missing")
    # ... and H13 is never reviewed: both lapse on 2022-11-20 without any event
    # H14 is revoked for false material; its re-application inside the cooling-off period is refused
    b.ecmd("revoke", e("H14"), date(2021, 5, 10), ln, "revoke.no_document", application_id="zjtx-2019",
           reason="false_material")
    b.ecmd("revoke", e("H14"), date(2021, 5, 18), ln, application_id="zjtx-2019", reason="false_material",
           document="辽工信发〔2021〕97号（撤销：申报材料研发费用数据造假）")
    b.held[("H14", "zjtx-2019")].ended_on = date(2021, 5, 18)
    b.apply(e("H14"), S4, "zjtx-2022", expect="apply.cooling_off")
    # later reviews (after the report date)
    for i, k in enumerate([f"H{i:02d}" for i in range(16, 27) if i != 25]):
        b.review(e(k), "national", "specialized", "zjtx-2020", date(2023, 8, 7) + timedelta(days=4 * i))
    b.review(e("H16"), "national", "specialized", "zjtx-2020", date(2023, 3, 6), expect="review.outside_window")
    for i, k in enumerate([f"H{i:02d}" for i in range(27, 33)]):
        b.review(e(k), "national", "specialized", "zjtx-2021", date(2024, 8, 5) + timedelta(days=5 * i))
    for i, k in enumerate([f"H{i:02d}" for i in range(34, 41) if i != 36]):
        b.review(e(k), "national", "specialized", "zjtx-2022", date(2025, 8, 4) + timedelta(days=5 * i))
    for i, k in enumerate(("H02", "H03")):
        b.review(e(k), "national", "specialized", "zjtx-2018", date(2024, 9, 2) + timedelta(days=7 * i))

    # -- 专精特新"小巨人" (national): 5 valid on 2023-06-29 --------------------------------
    for k in ("H01", "H02"):
        b.designate(e(k), L1, "xjr-2019")
    b.review(e("H01"), "national", "little_giant", "xjr-2019", date(2022, 3, 15))  # H02 lets it lapse
    b.designate(e("H03"), L2, "xjr-2020")
    b.apply(e("H05"), L2, "xjr-2020")
    b.recommend(e("H05"), L2, "xjr-2020")
    b.assess(e("H05"), L2, "xjr-2020", indicators={"niche_years": 9, "main_business_bp": 8300, "debt_ratio_bp": 7600,
                                                   "national_share_bp": 800})
    b.reject(e("H05"), L2, "xjr-2020", date(2020, 11, 10), "资产负债率高于70%，不符合“精”的要求")
    for k in ("H04", "H06"):
        b.designate(e(k), L3, "xjr-2021")
    b.apply(e("H07"), L3, "xjr-2021")
    b.ecmd("withdraw", e("H07"), date(2021, 4, 6), e("H07").self_actor(date(2021, 4, 6)), application_id="xjr-2021",
           reason="主导产品市场占有率数据待第三方核实，企业主动撤回")
    b.designate(e("H16"), L4, "xjr-2022")  # applied under the 2018 rules, assessed under 2022
    b.apply(e("H17"), L4, "xjr-2022")
    b.recommend(e("H17"), L4, "xjr-2022")
    b.assess(e("H17"), L4, "xjr-2022", indicators={"niche_years": 12, "main_business_bp": 9200, "debt_ratio_bp": 4800,
                                                   "national_share_bp": 650})
    b.notice(e("H17"), L4, "xjr-2022", expect="notice.not_assessed")
    b.reject(e("H17"), L4, "xjr-2022", date(2022, 7, 20), "主导产品全国细分市场占有率低于10%")
    for k in ("H08", "H17"):  # the 5th batch is announced after the report date
        b.designate(e(k), L5, "xjr-2023")
    b.review(e("H03"), "national", "little_giant", "xjr-2020", date(2023, 8, 28))
    for i, k in enumerate(("H04", "H06")):
        b.review(e(k), "national", "little_giant", "xjr-2021", date(2024, 3, 18) + timedelta(days=7 * i))
    b.review(e("H16"), "national", "little_giant", "xjr-2022", date(2025, 5, 20))

    # -- 重点支持"小巨人": 2 valid on 2023-06-29 -------------------------------------------
    b.designate(e("H01"), K1, "zdxjr-2021")
    b.designate(e("H03"), K2, "zdxjr-2022")

    # -- Liaoning provincial 小巨人: 9 valid on 2023-06-29 -----------------------------------
    for k in ("H01", "H02", "H03"):
        b.designate(e(k), P1, "ln-xjr-2019")
    b.review(e("H03"), "liaoning", "little_giant", "ln-xjr-2019", date(2021, 11, 22), expect="review.outside_window")
    b.review(e("H01"), "liaoning", "little_giant", "ln-xjr-2019", date(2022, 6, 20))
    b.review(e("H02"), "liaoning", "little_giant", "ln-xjr-2019", date(2022, 7, 12))
    for k in ("H04", "H06"):
        b.designate(e(k), P2, "ln-xjr-2020")
    for k in ("H05", "H07", "H16"):
        b.designate(e(k), P3, "ln-xjr-2021")
    for k in ("H17", "H18"):
        b.designate(e(k), P4, "ln-xjr-2022")
    b.designate(e("H19"), P5, "ln-xjr-2023")
    for i, k in enumerate(("H04", "H06")):
        b.review(e(k), "liaoning", "little_giant", "ln-xjr-2020", date(2023, 9, 11) + timedelta(days=3 * i))
    for i, k in enumerate(("H05", "H07", "H16")):
        b.review(e(k), "liaoning", "little_giant", "ln-xjr-2021", date(2024, 9, 9) + timedelta(days=3 * i))

    # -- Liaoning 专精特新产品: 35 valid on 2023-06-29 ---------------------------------------
    def product(k: str, batch: Batch, n: int = 1) -> str:
        app = f"cp-{batch.approve.year}-{n}"
        b.designate(e(k), batch, app, product=f"{k}-P{n}")
        return app

    r1 = {k: product(k, R1) for k in ("H01", "H03", "H05", "H07", "H08", "H09", "H10", "H13")}
    for i, k in enumerate(("H01", "H03", "H05", "H07")):  # replace mode: a new designation from 2023-01-01
        b.review(e(k), "liaoning", "product", r1[k], date(2022, 6, 6) + timedelta(days=10 * i))
    r2 = {k: product(k, R2, 2 if k == "H01" else 1)
          for k in ("H01", "H02", "H04", "H06", "H15", "H16", "H18", "H19", "H21", "H24")}
    for i, k in enumerate(("H02", "H04", "H06", "H15", "H16", "H18", "H21")):
        b.review(e(k), "liaoning", "product", r2[k], date(2023, 10, 9) + timedelta(days=2 * i))
    r3 = {k: product(k, R3) for k in ("H20", "H22", "H25", "H26", "H27", "H28", "H30", "H33", "I13", "I17", "I27")}
    for i, k in enumerate(("H20", "H22", "H26", "H27", "H28", "H33", "I17", "I27")):
        b.review(e(k), "liaoning", "product", r3[k], date(2024, 10, 8) + timedelta(days=2 * i))
    r4 = {k: product(k, R4) for k in ("H29", "H31", "H34", "H37", "H38", "H40", "I19", "I21", "I30", "HOLD")}
    for i, k in enumerate(("H29", "H31", "H34", "H37", "H40", "I21", "HOLD")):
        b.review(e(k), "liaoning", "product", r4[k], date(2025, 10, 13) + timedelta(days=2 * i))
    for k in ("H41", "H44", "I25"):
        product(k, R5)
    product("H03", R5, 2)
    # the same product again while its designation runs: renewal goes through review
    b.apply(e("H01"), R5, "cp-2023-2", product="H01-P2", expect="apply.already_designated")

    # -- 创新型中小企业 (from the 2022 rules): 33 valid on 2023-06-29 -----------------------
    b.apply(e("I01"), N1, "cxx-2022", on=date(2022, 3, 15), expect="policy.unknown_tier")  # 2018 rules: no such tier
    for k in [f"I{i:02d}" for i in range(1, 17)]:
        if k == "I09":  # 高新技术企业: direct pass
            b.apply(e(k), N1, "cxx-2022")
            b.recommend(e(k), N1, "cxx-2022")
            b.assess(e(k), N1, "cxx-2022", score=52, components={"innovation": 18, "growth": 16, "specialization": 18},
                     direct_pass=["hnte"])
            b.notice(e(k), N1, "cxx-2022")
            b.approve(e(k), N1, "cxx-2022")
        else:
            b.designate(e(k), N1, "cxx-2022")
    for k in [f"I{i:02d}" for i in range(17, 31)] + ["H41", "H42", "H43"]:
        ent = e(k)
        if k == "I20":  # an objection, dismissed after checking; approval waits for it
            b.apply(ent, N2, "cxx-2023")
            b.recommend(ent, N2, "cxx-2023")
            b.assess(ent, N2, "cxx-2023")
            b.notice(ent, N2, "cxx-2023")
            b.ecmd("object", ent, date(2023, 3, 17), CITY_OBJECTION_DESK, application_id="cxx-2023",
                   objection_id="yy-2023-03", grounds="实名反映：该企业申报的研发人员占比与社保缴纳人数不符")
            b.ecmd("resolve_objection", ent, date(2023, 3, 31), b.noticer(ent, N2, date(2023, 3, 31)),
                   application_id="cxx-2023", objection_id="yy-2023-03", upheld=False,
                   document="葫工信函〔2023〕62号（异议核查：研发人员含劳务派遣，反映不实）")
            b.approve(ent, N2, "cxx-2023", on=date(2023, 3, 31))
        else:
            b.designate(ent, N2, "cxx-2023")
    # an objection upheld: the application can only be rejected
    ent = e("I31")
    b.apply(ent, N2, "cxx-2023")
    b.recommend(ent, N2, "cxx-2023")
    b.assess(ent, N2, "cxx-2023")
    b.notice(ent, N2, "cxx-2023")
    b.ecmd("object", ent, date(2023, 3, 18), CITY_OBJECTION_DESK, application_id="cxx-2023",
           objection_id="yy-2023-05", grounds="实名反映：申报的发明专利为受让取得且已转让他人")
    b.ecmd("resolve_objection", ent, date(2023, 3, 24), b.noticer(ent, N2, date(2023, 3, 24)),
           application_id="cxx-2023", objection_id="yy-2023-05", upheld=True,
           document="葫工信函〔2023〕66号（异议核查属实）")
    b.reject(ent, N2, "cxx-2023", N2.approve, "公示期异议经核查属实")
    # a failed self-assessment, rejected; and a withdrawal
    b.apply(e("I32"), N2, "cxx-2023")
    b.recommend(e("I32"), N2, "cxx-2023")
    b.assess(e("I32"), N2, "cxx-2023", score=58, components={"innovation": 16, "growth": 21, "specialization": 21})
    b.reject(e("I32"), N2, "cxx-2023", date(2023, 3, 10), "创新能力得分低于20分")
    b.apply(e("I33"), N2, "cxx-2023")
    b.ecmd("withdraw", e("I33"), date(2023, 2, 1), e("I33").self_actor(date(2023, 2, 1)), application_id="cxx-2023",
           reason="财务数据待审计报告出具后再行申报")
    # the second round of 2023 (after the report date): two of the turned-down ones try again
    for k in ("H44", "I31", "I32", "I33", "I34", "I35"):
        b.designate(e(k), N3, "cxx-2023b")
    for i, k in enumerate([f"I{i:02d}" for i in range(2, 11)]):
        b.review(e(k), "national", "innovative", "cxx-2022", date(2025, 7, 7) + timedelta(days=3 * i))
    for i, k in enumerate(("I17", "I19", "I21", "I25", "I27", "I30", "H41", "H42", "H43")):
        b.review(e(k), "national", "innovative", "cxx-2023", date(2026, 1, 12) + timedelta(days=2 * i))

    # -- pools (培育库) -------------------------------------------------------------------
    for k in [f"H{i:02d}" for i in range(27, 34)]:
        b.ecmd("admit_to_pool", e(k), date(2021, 3, 15), hld, programme="national", tier="specialized",
               document="葫工信发〔2021〕19号（专精特新中小企业培育库）")
    for k in [f"H{i:02d}" for i in range(34, 41)] + ["I05", "I07"]:
        b.ecmd("admit_to_pool", e(k), date(2022, 3, 15), hld, programme="national", tier="specialized",
               document="葫工信发〔2022〕23号（专精特新中小企业培育库）")
    for k in ("H41", "H42", "H43", "H44", "I02", "I03", "I22", "I23", "I24"):
        b.ecmd("admit_to_pool", e(k), date(2023, 3, 15), hld, programme="national", tier="specialized",
               document="葫工信发〔2023〕17号（专精特新中小企业培育库）")
    b.ecmd("admit_to_pool", e("H34"), date(2022, 6, 1), hld, "pool.already_admitted", programme="national",
           tier="specialized")
    b.ecmd("remove_from_pool", e("I07"), date(2022, 12, 20), hld, programme="national", tier="specialized",
           reason="认定未通过且连续两年研发投入不足，移出培育库", document="葫工信发〔2022〕88号")
    for k in ("H16", "H17", "H08", "H19", "H27"):
        b.ecmd("admit_to_pool", e(k), date(2022, 3, 1), ln, programme="national", tier="little_giant",
               document="辽工信函〔2022〕31号（专精特新“小巨人”培育库）")
    for k in ("H28", "H29", "H34"):
        b.ecmd("admit_to_pool", e(k), date(2023, 3, 1), ln, programme="national", tier="little_giant",
               document="辽工信函〔2023〕27号（专精特新“小巨人”培育库）")
    for k in ("H44", "I31", "I32", "I33", "I34", "I35"):
        b.ecmd("admit_to_pool", e(k), date(2023, 4, 20), hld, programme="national", tier="innovative",
               document="葫工信发〔2023〕26号（创新型中小企业培育库）")

    # -- change reports ---------------------------------------------------------------
    b.ecmd("report_change", e("H20"), date(2022, 4, 11), e("H20").self_actor(date(2022, 4, 11)), kind="rename",
           changed_on="2022-03-15", new_name="辽宁盛源流体科技股份有限公司",
           document="葫市监核变通内字〔2022〕第0315号")
    b.ecmd("report_change", e("H22"), date(2022, 1, 20), e("H22").self_actor(date(2022, 1, 20)),
           kind="reorganisation", changed_on="2021-06-01", document="股份制改造完成，工商变更登记（逾期报告）")
    b.ecmd("register", e("H05"), date(2021, 2, 1), hld, "register.exists", name=e("H05").name, region="211402",
           industry="C3512", document="重复登记")

    # -- rewards ------------------------------------------------------------------------
    def reward(k: str, on: date, rid: str, programme: str, scheme: str, amount: int, who: dict[str, str],
               expect: str | None = None, **kw: Any) -> None:
        b.ecmd("grant_reward", e(k), on, who, expect, reward_id=rid, programme=programme, scheme=scheme,
               amount_fen=amount, **kw)

    new_lg = "new_national_little_giant"
    reward("H03", date(2021, 3, 10), "ln-xjr-2021-01", "liaoning", new_lg, 50_000_000, ln,
           document="辽财企〔2021〕45号")
    reward("H04", date(2021, 10, 15), "ln-xjr-2021-07", "liaoning", new_lg, 50_000_000, ln,
           document="辽财企〔2021〕312号")
    reward("H06", date(2021, 10, 15), "ln-xjr-2021-08", "liaoning", new_lg, 50_000_000, ln,
           document="辽财企〔2021〕312号")
    reward("H16", date(2022, 10, 20), "ln-xjr-2022-03", "liaoning", new_lg, 50_000_000, ln,
           document="辽财企〔2022〕287号")
    reward("H03", date(2022, 3, 15), "ln-xjr-2022-dup", "liaoning", new_lg, 50_000_000, ln, "reward.once_per_scheme",
           document="辽财企〔2022〕61号")
    reward("H01", date(2022, 9, 20), "ln-xjr-2022-h01", "liaoning", new_lg, 50_000_000, ln,
           "reward.renewal_not_paid", document="辽财企〔2022〕240号")
    fund = "key_little_giant_fund"
    reward("H01", date(2021, 8, 16), "zx-2021-h01-1", "national", fund, 300_000_000, miit, tranche=1,
           document="财建〔2021〕261号")
    reward("H01", date(2022, 2, 14), "zx-2022-h01-1b", "national", fund, 300_000_000, miit, "reward.tranche_paid",
           tranche=1, document="财建〔2022〕18号")
    reward("H03", date(2022, 7, 15), "zx-2022-h03-1", "national", fund, 300_000_000, miit, tranche=1,
           document="财建〔2022〕205号")
    reward("H03", date(2024, 6, 12), "zx-2024-h03-2", "national", fund, 300_000_000, miit, "reward.review_document",
           tranche=2)
    reward("H01", date(2023, 5, 12), "zx-2023-h01-2", "national", fund, 300_000_000, miit, tranche=2,
           document="工信厅企业函〔2023〕95号（绩效评价合格）")

    # -- yearly data: a duplicate and a late filing -------------------------------------
    b.file_data(e("H01"), 2020, date(2021, 5, 10), expect="yearly_data.duplicate")
    # late: visible in the overdue lists; under 63号 it costs the review of the period it falls in
    # (H30's renewed one, reviewed in 2027, after the demo's end)
    b.filing_dates[("H30", 2024)] = date(2025, 6, 16)

    # -- after 2026-04-01: judged by the 2026 rules --------------------------------------
    # 专精特新 now needs a valid 科技和创新型 designation; I01's lapsed in 2025
    b.apply(e("I01"), S8, "zjtx-2026", expect="ladder.prerequisite_missing")
    for k in ("I01", "I11", "I12"):
        b.designate(e(k), N7, "cxx-2026")
    b.designate(e("I34"), S8, "zjtx-2026")
    b.apply(e("I33"), S8, "zjtx-2026")
    b.recommend(e("I33"), S8, "zjtx-2026")
    b.assess(e("I33"), S8, "zjtx-2026")  # revenue 12 million: enough in 2022, below the 2026 threshold
    b.reject(e("I33"), S8, "zjtx-2026", date(2026, 7, 28), "营业收入低于1500万元（2026年标准）")
    # reviews under 2026: late yearly data forfeits; so does a late change report (as under 2022)
    b.filing_dates[("I35", 2025)] = date(2026, 6, 10)
    b.review(e("I35"), "national", "innovative", "cxx-2023b", date(2026, 7, 10), expect="review.yearly_data_late")
    for k in ("I31", "I32"):
        b.review(e(k), "national", "innovative", "cxx-2023b", date(2026, 7, 10))
    # H41's rename, reported late after its 创新型 was renewed (2026-01-24): it costs the review of
    # its 专精特新, whose validity it falls in, not that of the renewed 创新型's new period
    b.ecmd("report_change", e("H41"), date(2026, 2, 20), e("H41").self_actor(date(2026, 2, 20)), kind="rename",
           changed_on="2025-11-03", new_name="辽宁海威密封科技有限公司",
           document="葫市监核变通内字〔2025〕第1103号（逾期报告）")
    # a rename is a major change (63号): Liaoning re-confirms its designations, valid_until unchanged
    for app in ("cxx-2023", "zjtx-2023"):
        b.ecmd("reconfirm", e("H41"), date(2026, 3, 16), ln, application_id=app, confirmed=True,
               document="辽工信函〔2026〕41号（重大变化核实：更名后继续符合条件，有效期不变）")
    b.review(e("H41"), "national", "specialized", "zjtx-2023", date(2026, 8, 18), expect="review.change_report_late")
    for k in ("H42", "H43", "H44", "I02", "I03"):
        b.review(e(k), "national", "specialized", "zjtx-2023", date(2026, 8, 18))

    # The round still open when the dataset ends (公告 due in October 2026).  Refusals that
    # depend on a decision still pending are shown here, where they stay true on a re-run.
    for k in ("I13", "I14", "I15"):
        ent = e(k)
        b.apply(ent, N8, "cxx-2026b")
        b.recommend(ent, N8, "cxx-2026b")
        b.assess(ent, N8, "cxx-2026b")
        b.notice(ent, N8, "cxx-2026b")
    # the county cannot recommend; the city does (I16 then waits for the expert review)
    b.apply(e("I16"), N8, "cxx-2026b")
    b.recommend(e("I16"), N8, "cxx-2026b", level="municipal", who="211402", on=date(2026, 8, 14),
                expect="recommend.wrong_level")
    b.recommend(e("I16"), N8, "cxx-2026b")
    b.approve(e("I13"), N8, "cxx-2026b", on=date(2026, 9, 25), expect="approve.notice_open")
    b.ecmd("object", e("I14"), date(2026, 9, 23), CITY_OBJECTION_DESK, application_id="cxx-2026b",
           objection_id="yy-2026-11",
           grounds="实名反映：企业申报的知识产权存在权属纠纷")
    b.approve(e("I14"), N8, "cxx-2026b", on=date(2026, 9, 28), expect="approve.objection_open")
    b.ecmd("object", e("I15"), date(2026, 9, 24), CITY_OBJECTION_DESK, application_id="cxx-2026b",
           objection_id="yy-2026-12",
           grounds="实名反映：企业上年度存在环保行政处罚未披露")
    b.ecmd("resolve_objection", e("I15"), date(2026, 9, 28), b.noticer(e("I15"), N8, date(2026, 9, 28)),
           application_id="cxx-2026b", objection_id="yy-2026-12", upheld=True,
           document="葫工信函〔2026〕141号（异议核查属实）")
    b.approve(e("I15"), N8, "cxx-2026b", on=date(2026, 9, 29), expect="approve.objection_upheld")


def _dalian(b: _Builder) -> None:
    """Dalian on 2023-07-11 (the report): 73 national little giants, 435 专精特新 and 833 创新型
    valid, 2,950 enterprises in the 专精特新培育库 — built by batches, with lapses and renewals.

    专精特新 valid on 2023-07-11: the 2018 and 2019 rounds as far as renewed by review (32 and
    55 of the generated, with D01 and D03), the 2020-2022 rounds (90, 110 with D08, 144), and
    D04, moved in from Jilin and re-confirmed by Dalian: 435.  Little giants (batches 1-4; the
    5th is announced on 2023-07-24): 7 of batch 1 renewed, 14 + D03 (D02 revoked), 22 + D01, 28:
    73.  创新型: 300 + D06, 230, 302 + D07, one revoked: 833.  The pool: every generated
    enterprise and D06, D07, less 40 removed: 2,950."""
    e = b.e
    ln = authority("210000")
    dl = authority("210200")
    miit = authority("000000")
    pop = _dalian_population()
    for rows in pop.values():
        b.add(rows)
    keys = {role: [row[0] for row in rows] for role, rows in pop.items()}
    spec = {"s2018": DS18, "s2019": DS19, "s2020": DS20, "s2021": DS21, "s2022": DS22}

    # -- 专精特新, decided by Dalian on its districts' recommendation ------------------------
    for role, batch in spec.items():
        for i, k in enumerate(keys[role]):
            app = f"zjtx-{batch.approve.year}"
            if role == "s2020" and i == 0:  # Liaoning does not decide for a Dalian enterprise
                ent = e(k)
                b.apply(ent, batch, app)
                b.recommend(ent, batch, app)
                b.assess(ent, batch, app)
                b.notice(ent, batch, app)
                b.approve(ent, batch, app, who=ln, expect="authority.not_covering")
                b.approve(ent, batch, app)
            else:
                b.designate(e(k), batch, app)
    # reviews: of 2018's 40, 32 pass, 2 fail, 6 are never reviewed; of 2019's 70, 55 pass, 2 fail
    for role, first_day, passing in (("s2018", date(2021, 8, 30), 32), ("s2019", date(2022, 7, 4), 55)):
        app = f"zjtx-{spec[role].approve.year}"
        for i, k in enumerate(keys[role][:passing + 2]):
            passed = i < passing
            failed = f"大工信函〔{first_day.year}〕{60 + i}号（复核未通过：研发投入占比低于3%）"
            b.review(e(k), "national", "specialized", app, first_day + timedelta(days=i % 25), passed=passed,
                     doc=None if passed else failed)

    # -- 专精特新"小巨人": Dalian recommends to MIIT (batches 1-5) --------------------------
    s18, s19, s20, s21 = (keys[r] for r in ("s2018", "s2019", "s2020", "s2021"))
    giants = {L1: s18[:8], L2: s18[8:14] + s19[:8], L3: s18[14:20] + s19[8:24], L4: s19[24:34] + s20[:18],
              L5: s20[18:24] + s21[:6]}
    for batch, ks in giants.items():
        app = f"xjr-{batch.approve.year}"
        for i, k in enumerate(ks):
            if batch is L4 and i == 0:  # not the district, not Liaoning: Dalian recommends to MIIT
                ent = e(k)
                b.apply(ent, batch, app)
                b.recommend(ent, batch, app, who=ent.region, expect="recommend.wrong_level")
                b.recommend(ent, batch, app, who="210000", expect="recommend.not_covering")
                b.recommend(ent, batch, app)
                b.assess(ent, batch, app)
                b.notice(ent, batch, app)
                b.approve(ent, batch, app)
            else:
                b.designate(e(k), batch, app)
    for i, k in enumerate(giants[L1][:7]):  # the 8th lets it lapse on 2022-06-06
        b.review(e(k), "national", "little_giant", "xjr-2019", date(2022, 3, 14) + timedelta(days=i))

    # -- 创新型中小企业, decided by Dalian ----------------------------------------------------
    inn = keys["innovative"]
    for batch, ks in ((DN22, inn[:300]), (DN22B, inn[300:530]), (DN23, inn[530:])):
        app = "cxx-2023" if batch is DN23 else ("cxx-2022b" if batch is DN22B else "cxx-2022")
        for k in ks:
            b.designate(e(k), batch, app)
    revoked = e(inn[-1])  # false material found after the announcement: Dalian revokes, Liaoning cannot
    b.ecmd("revoke", revoked, date(2023, 5, 16), ln, "authority.not_covering", application_id="cxx-2023",
           reason="false_material", document="辽工信发〔2023〕88号")
    b.ecmd("revoke", revoked, date(2023, 5, 16), dl, application_id="cxx-2023", reason="false_material",
           document="大工信发〔2023〕97号（撤销：申报材料知识产权数据不实）")
    b.held[(revoked.key, "cxx-2023")].ended_on = date(2023, 5, 16)

    # -- the 专精特新培育库: yearly admissions by Dalian, some removals ------------------------
    admitted = {date(2019, 5, 20): s18 + s19 + keys["pooled"][:420], date(2020, 5, 18): s20 + keys["pooled"][420:800],
                date(2021, 5, 17): s21 + keys["pooled"][800:1150],
                date(2022, 5, 16): keys["s2022"] + inn[:530] + keys["pooled"][1150:1450],
                date(2022, 11, 21): inn[530:], date(2023, 4, 17): keys["pooled"][1450:]}
    for on, ks in admitted.items():
        for k in ks:
            b.ecmd("admit_to_pool", e(k), on, dl, programme="national", tier="specialized",
                   document=f"大工信发〔{on.year}〕{20 + on.month}号（{on.year}年专精特新中小企业培育库入库名单）")
    for i, k in enumerate(keys["pooled"][:40]):
        on = date(2022, 12, 12) if i < 25 else date(2023, 6, 19)
        b.ecmd("remove_from_pool", e(k), on, dl, programme="national", tier="specialized",
               reason="企业注销" if i % 5 == 0 else "连续两年未更新数据，不再符合入库条件",
               document=f"大工信发〔{on.year}〕{140 + on.month}号（培育库动态调整）")

    # -- the scenario enterprises -------------------------------------------------------
    for k in ("D01", "D02", "D03"):
        b.designate(e(k), DS19, "zjtx-2019")
    for i, k in enumerate(("D01", "D03")):
        b.review(e(k), "national", "specialized", "zjtx-2019", date(2022, 8, 1) + timedelta(days=3 * i))
    for k in ("D02", "D03"):
        b.designate(e(k), L2, "xjr-2020")
    b.designate(e("D01"), L3, "xjr-2021")
    b.ecmd("grant_reward", e("D02"), date(2021, 3, 10), ln, reward_id="ln-xjr-2021-02", programme="liaoning",
           scheme="new_national_little_giant", amount_fen=50_000_000, document="辽财企〔2021〕45号")
    b.ecmd("grant_reward", e("D01"), date(2021, 10, 15), ln, reward_id="ln-xjr-2021-09", programme="liaoning",
           scheme="new_national_little_giant", amount_fen=50_000_000, document="辽财企〔2021〕312号")
    # a listed company is not chosen for key support
    b.apply(e("D03"), K2, "zdxjr-2022", expect="ladder.listed_excluded")
    # D02: a major safety accident; the designation is revoked and the reward clawed back
    b.ecmd("revoke", e("D02"), date(2023, 2, 10), miit, application_id="xjr-2020", reason="major_accident",
           document="工信部企业函〔2023〕31号（撤销：发生较大生产安全事故）")
    b.held[("D02", "xjr-2020")].ended_on = date(2023, 2, 10)
    b.ecmd("claw_back", e("D02"), date(2023, 3, 15), ln, reward_id="ln-xjr-2021-02", amount_fen=50_000_000,
           reason="国家级“小巨人”资格因重大安全事故被撤销，追回奖励资金", document="辽财企〔2023〕38号")
    b.apply(e("D02"), R5, "cp-2023-1", product="D02-P1")
    b.recommend(e("D02"), R5, "cp-2023-1", expect="recommend.barred")  # the application stays with the city
    # D04 moves from Changchun (Jilin) into Dalian: Dalian, not Liaoning, re-confirms its 专精特新
    d04 = e("D04")
    b.designate(d04, JS20, "zjtx-2020")
    b.ecmd("report_change", d04, date(2022, 8, 15), d04.self_actor(date(2022, 8, 15)), kind="relocation",
           changed_on="2022-06-30", new_region="210213", document="大连金普新区市场监督管理局迁入登记通知书")
    d04.moves.append((date(2022, 8, 15), "210213"))
    b.ecmd("reconfirm", d04, date(2022, 10, 20), ln, "authority.not_covering", application_id="zjtx-2020",
           confirmed=True, document="辽工信函〔2022〕156号")
    b.ecmd("reconfirm", d04, date(2022, 10, 20), dl, application_id="zjtx-2020", confirmed=True,
           document="大工信函〔2022〕156号（迁入企业专精特新资格确认）")
    b.review(d04, "national", "specialized", "zjtx-2020", date(2023, 9, 12))
    # D05 moves from Shijiazhuang (Hebei): not re-confirmed, its designation ends
    d05 = e("D05")
    b.designate(d05, HS21, "zjtx-2021")
    b.ecmd("report_change", d05, date(2023, 2, 20), d05.self_actor(date(2023, 2, 20)), kind="relocation",
           changed_on="2023-01-05", new_region="210211", document="大连市甘井子区市场监督管理局迁入登记通知书")
    d05.moves.append((date(2023, 2, 20), "210211"))
    b.ecmd("reconfirm", d05, date(2023, 4, 18), dl, application_id="zjtx-2021", confirmed=False,
           document="大工信函〔2023〕71号（迁入后主导产品变更，不予确认）")
    b.held[("D05", "zjtx-2021")].ended_on = date(2023, 4, 18)
    b.ecmd("reconfirm", d05, date(2023, 5, 8), dl, "reconfirm.not_pending", application_id="zjtx-2021",
           confirmed=True, document="大工信函〔2023〕80号")
    b.designate(e("D06"), DN22, "cxx-2022")
    b.designate(e("D07"), R3, "cp-2021-1", product="D07-P1")
    b.designate(e("D07"), DN23, "cxx-2023")
    b.designate(e("D08"), DS21, "zjtx-2021")
    b.designate(e("D08"), P4, "ln-xjr-2022")
    for k in ("D06", "D07"):
        b.ecmd("admit_to_pool", e(k), date(2023, 3, 20), dl, programme="national",
               tier="specialized", document="大工信发〔2023〕12号（专精特新中小企业培育库）")
    # D06 goes on the 经营异常名录 (its annual report was late) and comes off it once filed: a
    # recommendation in between would be refused (recommend.abnormal_operations); none falls there
    b.ecmd("record_credit_listing", e("D06"), date(2023, 1, 9), dl, credit_list="abnormal_operations", listed=True,
           listed_on="2023-01-05", document="大高新市监〔2023〕3号（列入经营异常名录决定书）")
    b.ecmd("record_credit_listing", e("D06"), date(2023, 2, 1), dl, "credit.already_listed",
           credit_list="abnormal_operations", listed=True, listed_on="2023-01-30", document="")
    b.ecmd("record_credit_listing", e("D06"), date(2023, 3, 22), dl, credit_list="abnormal_operations", listed=False,
           listed_on="2023-03-20", document="大高新市监〔2023〕41号（移出经营异常名录决定书）")
    # D07 is bought by D03's group: under the 2026 rules a little giant of the group in the same
    # GB/T 4754 class would bar its own little-giant recommendation (recommend.same_group)
    b.ecmd("record_group", e("D07"), date(2023, 5, 10), dl, group_uscc=e("D03").uscc,
           document="大连市旅顺口区市场监督管理局变更登记通知书（股东变更）")


# ---------------------------------------------------------------------------- Qingdao's history
# The Qingdao report of 2017-06-27 ("131工程"): by the end of 2016, 5 batches of 专精特新产品(技术)
# with 798 items, 4 batches of 示范企业 with 200 enterprises, the first batch of 隐形冠军 with 20;
# then the batches of 2017 to 2020 toward the 13th five-year plan's targets (1,000 / 300 / 100 by
# 2020-12-31, policies/qingdao.toml).  Every designation of the history is decided by Qingdao
# (370200) and lapses unreviewed three years on, so none is valid on DEMO_AS_OF: the figures of
# the Qingdao story around Q01..Q06 stay what they were.
QD_DISTRICTS = [  # (code, weight): manufacturing sits in the new districts and the county-level cities
    ("370202", 2), ("370203", 2), ("370211", 9), ("370212", 5), ("370213", 3), ("370214", 7), ("370215", 6),
    ("370281", 6), ("370283", 4), ("370285", 3)]
QD_NAMES = ["海诺", "瑞丰", "金源", "华泰", "宏达", "鑫泽", "海晟", "中科", "德润", "汇通", "润邦", "恒信", "博远",
            "新华", "正和", "嘉禾", "昊天", "澳柯", "琴岛", "崂峰", "胶东", "黄海", "蓝海", "海湾", "明珠", "天诚",
            "国信", "盛世", "鲁青", "万利", "东方", "星光", "汉缆", "双星", "乐拓", "科捷", "捷能", "泰德", "宝佳",
            "凯能", "兴邦", "华仁", "康大", "利和", "中达", "永泰", "丰华", "安信", "通力", "德盛", "远洋", "汇丰",
            "聚源", "启航", "万和", "润昌"]
# industry (GB/T 4754), the trade in the name, products (technologies) it may have recognised
QD_TRADES: list[tuple[str, str, list[str]]] = [
    ("C3484", "精密机械", ["精密滚珠丝杠副", "数控分度转台", "高精度行星减速器", "直线电机模组"]),
    ("C2911", "橡胶科技", ["工程机械实心轮胎", "高铁减振橡胶件", "耐油密封胶管", "输送带覆盖胶"]),
    ("C3522", "橡塑机械", ["子午线轮胎成型机", "双模定型硫化机", "密炼机上辅机系统", "挤出压延生产线"]),
    ("C2761", "海洋生物科技", ["海藻酸盐医用敷料", "鱼胶原蛋白肽", "甲壳素止血材料", "海洋微藻DHA油"]),
    ("C3856", "家电配件", ["变频控制器", "冰箱真空绝热板", "洗衣机直驱电机", "空调电子膨胀阀"]),
    ("C3714", "轨道交通装备", ["动车组转向架构架", "地铁车钩缓冲装置", "列车空调机组", "轨道车辆铝合金车体型材"]),
    ("C3091", "石墨新材料", ["锂电负极球形石墨", "高纯鳞片石墨", "柔性石墨密封板", "石墨烯导热膜"]),
    ("C3976", "电子科技", ["智能电表计量芯片模组", "车载北斗定位终端", "工业级RFID读写器", "声表面波滤波器"]),
    ("C3737", "船舶配套", ["船用压载水处理系统", "船用低速柴油机曲轴", "海洋平台锚泊绞车", "船用甲板起重机"]),
    ("C3599", "环保装备", ["高效电袋复合除尘器", "污泥低温干化机", "烟气脱硝催化剂", "MBR膜生物反应器"]),
    ("C1469", "食品", ["即食海参", "海带膳食纤维", "低盐酱腌海蜇", "冻干海鲜调味料"]),
    ("C2614", "化工新材料", ["水性聚氨酯树脂", "光伏背板氟膜", "高吸水性树脂", "环保型橡胶防老剂"]),
    ("C3811", "电机", ["永磁同步电梯曳引机", "高压防爆异步电机", "新能源汽车驱动电机", "伺服电机"]),
    ("C3442", "流体装备", ["LNG低温潜液泵", "核电用截止阀", "高压柱塞泵", "智能调节阀"]),
    ("I6513", "软件科技", ["工业互联网平台", "港口集装箱智能理货系统", "海洋环境监测软件", "智慧供热管理平台"]),
    ("C4011", "仪器仪表", ["在线水质分析仪", "海洋温盐深剖面仪", "红外气体分析仪", "智能压力变送器"]),
]
QD_PERSON_BEFORE_2019 = "青岛市中小企业局"  # the city's SME bureau, until the 2019 reorganisation


def _qd_batch(tier: str, year: int, number: int, apply: str, assess: str, notice: str, approve: str,
              doc_no: int) -> tuple[Batch, int]:
    """A batch of the history, with its number (第N批) and the documents of its year."""
    label = {"product": "专精特新产品（技术）", "demonstration": "专精特新示范企业",
             "hidden_champion": "隐形冠军企业"}[tier]
    prefix = "青中小企发" if year < 2019 else "青民经发"
    title = f"青岛市第{_cn(number)}批{label}拟认定名单公示"
    return _batch("qingdao", tier, f"{year}-{apply}", (), f"{year}-{assess}", f"{year}-{notice}",
                  f"{year}-{approve}", f"{prefix}〔{year}〕{doc_no}号", title), number


def _cn(n: int) -> str:
    return "零一二三四五六七八九十"[n] if n <= 10 else "十" + "零一二三四五六七八九"[n - 10]


def _qd_history_batches() -> list[tuple[Batch, int, int]]:
    """(batch, its number, items) of the history, in order; the 2016 product batch (第五批) and the
    2019 one (第八批) are the story's QP16 and QP19, with the history's items added to them."""
    rows = [
        ("product", 2012, 1, "03-20", "05-08", "05-18", "06-08", 21, 150),
        ("product", 2013, 2, "03-18", "05-10", "05-20", "06-07", 19, 160),
        ("demonstration", 2013, 1, "04-15", "06-18", "06-26", "07-12", 27, 40),
        ("product", 2014, 3, "03-17", "05-09", "05-19", "06-06", 18, 165),
        ("demonstration", 2014, 2, "04-14", "06-17", "06-25", "07-11", 26, 50),
        ("product", 2015, 4, "03-16", "05-08", "05-18", "06-05", 17, 160),
        ("demonstration", 2015, 3, "04-13", "06-16", "06-24", "07-10", 25, 50),
        ("product", 2016, 5, "", "", "", "", 0, 160),  # QP16: 160 here and the story's 3
        ("demonstration", 2016, 4, "04-11", "06-14", "06-22", "07-08", 24, 60),
        ("hidden_champion", 2016, 1, "08-01", "09-20", "09-28", "10-18", 38, 20),
        ("product", 2017, 6, "03-20", "05-10", "05-19", "06-09", 16, 92),
        ("demonstration", 2017, 5, "04-10", "06-13", "06-21", "07-07", 23, 28),
        ("hidden_champion", 2017, 2, "07-31", "09-19", "09-27", "10-17", 36, 18),
        ("product", 2018, 7, "03-19", "05-09", "05-18", "06-08", 15, 85),
        ("demonstration", 2018, 6, "04-09", "06-12", "06-20", "07-06", 22, 30),
        ("hidden_champion", 2018, 3, "07-30", "09-18", "09-26", "10-16", 35, 20),
        ("product", 2019, 8, "", "", "", "", 0, 76),  # QP19: 76 here and the story's 4
        ("demonstration", 2019, 7, "04-08", "06-11", "06-19", "07-05", 20, 32),
        ("hidden_champion", 2019, 4, "07-29", "09-17", "09-25", "10-15", 31, 22),
        ("product", 2020, 9, "03-16", "05-06", "05-15", "06-05", 14, 75),
        ("hidden_champion", 2020, 5, "04-13", "05-26", "06-03", "06-19", 16, 15),
    ]
    out = []
    for tier, year, number, apply, assess, notice, approve, doc_no, items in rows:
        if not apply:
            batch = QP16 if year == 2016 else QP19
        else:
            batch, _ = _qd_batch(tier, year, number, apply, assess, notice, approve, doc_no)
        out.append((batch, number, items))
    return out


def _qd_designate(b: _Builder, ent: Ent, batch: Batch, number: int, app: str, *, product: str | None = None,
                  person: str | None = None) -> None:
    """One Qingdao designation by its batch's dates (no recommendation: the city decides), the
    approval naming its batch."""
    who = authority("370200", person)
    b.apply(ent, batch, app, product=product)
    b.ecmd("assess", ent, batch.assess, who, application_id=app,
           document=f"{batch.title.removesuffix('公示')}专家评审意见", **b.assessment(ent, batch, batch.assess))
    b.ecmd("open_notice", ent, batch.notice, who, application_id=app, document=batch.title)
    b.ecmd("approve", ent, batch.approve, who, application_id=app, document=batch.doc, batch=number)
    _, valid_until = _tier(batch.programme, batch.tier, batch.approve, ent.region).validity(batch.approve)
    b.held[(ent.key, app)] = _Held(batch.approve, valid_until)


def _qingdao_history(b: _Builder) -> None:
    """The enterprises and batches of the history (seeded: the same every run)."""
    rng = random.Random("cultivation-demo:qingdao-131")
    names = [(n, t) for n in QD_NAMES for t in range(len(QD_TRADES))]
    rng.shuffle(names)
    codes = [c for c, w in QD_DISTRICTS for _ in range(w)]
    pool: list[Ent] = []
    for i, (word, t) in enumerate(names[:820]):
        industry, trade, products = QD_TRADES[t]
        region = rng.choice(codes)
        key = f"QH{i + 1:03d}"
        ent = Ent(key, f"青岛{word}{trade}{'股份' if i % 17 == 0 else ''}有限公司", region, industry,
                  3000 + rng.randrange(60000))
        ent.uscc = _uscc(key, region)
        ent.products = {f"{key}-P{j + 1}": p for j, p in enumerate(rng.sample(products, len(products)))}
        b.ents[key] = ent
        b.filing_skips.update((key, y) for y in range(2012, 2026))  # never reviewed: no yearly data on file
        pool.append(ent)
    held: dict[str, dict[str, list[tuple[date, date]]]] = {"product": {}, "demonstration": {}, "hidden_champion": {}}

    def valid(tier: str, key: str, on: date) -> bool:
        return any(f <= on < u for f, u in held[tier].get(key, []))

    used_products: dict[str, int] = {}
    fresh = iter(pool)
    for batch, number, items in _qd_history_batches():
        person = QD_PERSON_BEFORE_2019 if batch.approve.year < 2019 else None
        tier = batch.tier
        if tier == "product":
            # about two in three items from enterprises new to the programme, the rest a further product
            holders = [e for e in pool if e.key in used_products and used_products[e.key] < len(e.products)]
            rng.shuffle(holders)
            repeat = holders[:items // 3]
            chosen = repeat + [next(fresh) for _ in range(items - len(repeat))]
        else:
            below = "product" if tier == "demonstration" else "demonstration"
            candidates = [e for e in pool if valid(below, e.key, batch.apply) and not valid(tier, e.key, batch.apply)
                          and not held[tier].get(e.key)]
            if len(candidates) < items:
                raise AssertionError(f"{batch.doc}: {len(candidates)} candidates for {items} {tier}")
            chosen = rng.sample(candidates, items)
        _, until = _tier("qingdao", tier, batch.approve).validity(batch.approve)
        for ent in chosen:
            if tier == "product":
                n = used_products.get(ent.key, 0) + 1
                used_products[ent.key] = n
                _qd_designate(b, ent, batch, number, f"cp-{batch.approve.year}-{n}", product=f"{ent.key}-P{n}",
                              person=person)
            else:
                prefix = "sf" if tier == "demonstration" else "yxgj"
                _qd_designate(b, ent, batch, number, f"{prefix}-{batch.approve.year}", person=person)
            held[tier].setdefault(ent.key, []).append((batch.approve, until))


def _qingdao(b: _Builder) -> None:
    _qingdao_history(b)
    e = b.e
    qd = authority("370200")
    for k in ("Q01", "Q02", "Q03", "Q04", "Q05", "Q06"):  # 储备: the pool comes first
        on = date(2016, 3, 1) if k in ("Q01", "Q02", "Q03") else date(2019, 3, 1)
        b.ecmd("admit_to_pool", e(k), on, qd, programme="qingdao", tier="product",
               document=f"青岛市{on.year}年专精特新企业培育库入库名单")
    # the story's batches are numbered as the history goes on: QP16 第五批, QP19 第八批, ...
    for k in ("Q01", "Q02", "Q03"):
        _qd_designate(b, e(k), QP16, 5, "cp-2016-1", product=f"{k}-P1")
    for k, n in (("Q01", 2), ("Q03", 2), ("Q04", 1), ("Q05", 1)):
        _qd_designate(b, e(k), QP19, 8, f"cp-2019-{n}", product=f"{k}-P{n}")
    for k in ("Q01", "Q03"):
        _qd_designate(b, e(k), QD20, 8, "sf-2020")
    for k, n in (("Q02", 2), ("Q06", 1), ("Q05", 2)):
        _qd_designate(b, e(k), QP21, 10, f"cp-2021-{n}", product=f"{k}-P{n}")
    # Q06's product was approved in error (the same technology was already Q02's): annulled
    b.ecmd("annul", e("Q06"), date(2021, 8, 30), qd, application_id="cp-2021-1",
           reason="经核查，该技术与已认定产品为同一技术来源，认定有误", document="青民经发〔2021〕41号")
    _qd_designate(b, e("Q01"), QH21, 6, "yxgj-2021")
    _qd_designate(b, e("Q04"), QD22, 9, "sf-2022")
    b.apply(e("Q05"), replace(QD22, tier="hidden_champion"), "yxgj-2022", expect="ladder.prerequisite_missing")
    for k, n in (("Q01", 1), ("Q03", 1)):  # recognised again after the 2016 designations expired
        _qd_designate(b, e(k), QP22, 11, f"cp-2022-{n}", product=f"{k}-P{n}")
    b.review(e("Q01"), "qingdao", "demonstration", "sf-2020", date(2023, 3, 15))
    _qd_designate(b, e("Q03"), QH23, 7, "yxgj-2023")
    b.ecmd("grant_reward", e("Q01"), date(2021, 11, 15), qd, reward_id="qd-yxgj-2021-01", programme="qingdao",
           scheme="qd_hidden_champion", amount_fen=50_000_000, document="青财企〔2021〕52号")
    b.ecmd("grant_reward", e("Q03"), date(2023, 6, 20), qd, reward_id="qd-yxgj-2023-01", programme="qingdao",
           scheme="qd_hidden_champion", amount_fen=50_000_000, document="青财企〔2023〕29号")


def _hangzhou(b: _Builder) -> None:
    e = b.e
    hz = authority("330100")
    b.designate(e("Z01"), ZS20, "zjtx-2020")
    b.designate(e("Z02"), ZS21, "zjtx-2021")
    b.designate(e("Z05"), ZS22, "zjtx-2022")
    b.designate(e("Z01"), L3, "xjr-2021")
    b.designate(e("Z05"), L5, "xjr-2023")
    b.designate(e("Z01"), ZH22, "yxgj-2022")
    b.apply(e("Z04"), ZH22, "yxgj-2022", expect="ladder.prerequisite_missing")
    b.designate(e("Z03"), ZN22, "cxx-2022")
    b.designate(e("Z06"), ZN23, "cxx-2023")
    b.review(e("Z01"), "national", "specialized", "zjtx-2020", date(2023, 7, 20))

    def reward(k: str, on: date, rid: str, scheme: str, amount: int, expect: str | None = None, **kw: Any) -> None:
        b.ecmd("grant_reward", e(k), on, hz, expect, reward_id=rid, programme="zhejiang", scheme=scheme,
               amount_fen=amount, **kw)

    # 首台套: the province recognises the product at a level first (recognise_product); the
    # city's reward of that level names the product.  The plan of 2022-06 pays 省级以上专精特新.
    zj = authority("330000")

    def recognise(k: str, on: date, product: str, level: str, n: int) -> None:
        b.ecmd("recognise_product", e(k), on, zj, programme="zhejiang", recognition="first_equipment",
               product_id=product, product_name=e(k).products[product], level=level,
               document=f"浙经信装备〔{on.year}〕{n}号（首台（套）装备认定）")

    recognise("Z01", date(2023, 1, 10), "Z01-P1", "national", 3)
    recognise("Z01", date(2023, 1, 10), "Z01-P2", "provincial", 3)
    recognise("Z01", date(2023, 1, 10), "Z01-P3", "provincial", 3)
    recognise("Z03", date(2023, 1, 10), "Z03-P1", "provincial", 3)

    reward("Z01", date(2022, 3, 18), "hz-2022-xjr-001", "hz_little_giant_first", 100_000_000,
           document="杭经信联〔2022〕21号")
    reward("Z01", date(2022, 3, 18), "hz-2022-zjtx-001", "hz_specialized_first", 20_000_000,
           document="杭经信联〔2022〕21号")
    reward("Z02", date(2022, 4, 20), "hz-2022-zjtx-015", "hz_specialized_first", 20_000_000,
           document="杭经信联〔2022〕31号")
    reward("Z01", date(2023, 2, 16), "hz-2023-stt-003", "hz_first_equipment_national", 80_000_000,
           product_id="Z01-P1", document="杭经信联〔2023〕9号（首台套：MEMS压力传感器标定装备）")
    reward("Z01", date(2023, 2, 16), "hz-2023-stt-004", "hz_first_equipment_provincial", 60_000_000, "reward.over_cap",
           product_id="Z01-P3", document="杭经信联〔2023〕9号（首台套（省内）申请60万元，超过50万元上限）")
    reward("Z01", date(2023, 2, 20), "hz-2023-stt-005", "hz_first_equipment_provincial", 50_000_000,
           product_id="Z01-P2", document="杭经信联〔2023〕10号（首台套（省内）：微压差变送器）")
    # recognised 国内首台套, not 国际: the international reward is refused
    reward("Z01", date(2023, 2, 20), "hz-2023-stt-006", "hz_first_equipment_international", 150_000_000,
           "reward.recognition_level", product_id="Z01-P1", document="杭经信联〔2023〕10号")
    # a product without a recorded recognition
    reward("Z05", date(2023, 2, 20), "hz-2023-stt-007", "hz_first_equipment_provincial", 40_000_000,
           "reward.not_recognised", product_id="Z05-P1", document="杭经信联〔2023〕10号")
    # an 创新型-only enterprise: a recognised product, but no 省级以上专精特新 designation
    reward("Z03", date(2023, 2, 20), "hz-2023-stt-008", "hz_first_equipment_provincial", 40_000_000,
           "reward.no_valid_designation", product_id="Z03-P1", document="杭经信联〔2023〕10号")
    # interest subsidy by formula: 50% of LPR 3.65% on a 15 million loan for a year = 273,750 CNY
    reward("Z02", date(2023, 3, 28), "hz-2023-tx-021", "hz_loan_interest", 27_375_000, loan_fen=1_500_000_000,
           lpr_bp=365, days=365, document="杭经信联〔2023〕18号")
    reward("Z02", date(2023, 9, 20), "hz-2023-tx-058", "hz_loan_interest", 27_375_000, "reward.over_cap",
           loan_fen=1_500_000_000, lpr_bp=345, days=366, document="杭经信联〔2023〕57号")
    # ... and none for an 创新型-only enterprise (50% of 3.65% on 5 million for 180 days = 45,000 CNY)
    reward("Z06", date(2023, 4, 12), "hz-2023-tx-030", "hz_loan_interest", 4_500_000, "reward.no_valid_designation",
           loan_fen=500_000_000, lpr_bp=365, days=180, document="杭经信联〔2023〕20号")
    reward("Z02", date(2023, 5, 10), "hz-2023-znzc-004", "hz_smart_factory", 150_000_000,
           document="杭经信联〔2023〕26号")
    reward("Z03", date(2023, 5, 10), "hz-2023-znzc-005", "hz_smart_factory", 120_000_000,
           "reward.no_valid_designation", document="杭经信联〔2023〕26号")
    reward("Z03", date(2023, 5, 12), "hz-2023-szcj-011", "hz_digital_workshop", 60_000_000,
           document="杭经信联〔2023〕27号")
    reward("Z06", date(2023, 4, 20), "hz-2023-fwq-102", "hz_service_purchase", 8_000_000,
           document="杭经信联〔2023〕22号（服务券）")
    # the listing reward rests on a reported listing: Z05 lists on 科创板; Z02 has none
    z05 = e("Z05")
    b.ecmd("report_change", z05, date(2023, 4, 25), z05.self_actor(date(2023, 4, 25)), kind="listing",
           changed_on="2023-04-18", board="star", document="上海证券交易所科创板上市公告书")
    reward("Z05", date(2023, 6, 15), "hz-2023-ss-002", "hz_listing", 300_000_000,
           document="杭经信联〔2023〕33号（上市奖励：科创板）")
    reward("Z02", date(2023, 6, 15), "hz-2023-ss-003", "hz_listing", 300_000_000, "reward.listing_required",
           document="杭经信联〔2023〕33号")
    # industrial chains (一链一策一批): the city lists enterprises per chain for financing
    for k, chain in (("Z01", "integrated_circuits"), ("Z02", "intelligent_equipment"),
                     ("Z05", "intelligent_equipment"), ("Z03", "intelligent_computing"), ("Z06", "biomedicine")):
        b.ecmd("tag_chain", e(k), date(2023, 5, 18), hz, programme="zhejiang", chain=chain,
               document="杭经信〔2023〕41号（一链一策一批融资促进名单）")
    b.ecmd("tag_chain", e("Z03"), date(2023, 6, 20), hz, programme="zhejiang", chain="intelligent_computing",
           tagged=False, document="杭经信〔2023〕52号（调整出链）")
    b.ecmd("tag_chain", e("Z03"), date(2023, 6, 21), hz, "chain.not_tagged", programme="zhejiang",
           chain="intelligent_computing", tagged=False, document="杭经信〔2023〕53号")


def _dalian_money(b: _Builder) -> None:
    """Dalian's money of 2023 (dalian-2023.toml, every figure an assumption): the guarantee-fee
    subsidy judged on the loan facts recorded first, and the city special fund paying
    rewards and subsidies from one budget until it is spent."""
    e = b.e
    dl = authority("210200")

    def grant(k: str, on: date, rid: str, scheme: str, amount: int, expect: str | None = None, **kw: Any) -> None:
        b.ecmd("grant_reward", e(k), on, dl, expect, reward_id=rid, programme="dalian", scheme=scheme,
               amount_fen=amount, **kw)

    def loan(k: str, on: date, lid: str, principal: int, drawn: str, due: str, fee: int, rate_bp: int) -> None:
        b.ecmd("record_loan", e(k), on, dl, loan_id=lid, lender="中国银行大连市分行",
               guarantor="大连市融资担保集团有限公司", principal_fen=principal, drawn_on=drawn, due_on=due,
               guarantee_fee_fen=fee, guarantee_fee_rate_bp=rate_bp, document="大连市中小企业融资担保业务备案")

    def repaid(k: str, on: date, lid: str, repaid_on: str) -> None:
        b.ecmd("record_repayment", e(k), on, dl, loan_id=lid, repaid_on=repaid_on,
               document="贷款结清证明（担保机构报送）")

    # D01: 10 million for 176 days, fee 1.5 % a year (73,972.60 CNY), repaid before it was due:
    # the formula gives min(73,972.60, 10 M × 1 % × 176 / 365) = 48,219.17 CNY
    loan("D01", date(2023, 1, 12), "dl-db-2023-0017", 1_000_000_000, "2023-01-10", "2023-07-09", 7_397_260, 150)
    repaid("D01", date(2023, 7, 6), "dl-db-2023-0017", "2023-07-05")
    grant("D01", date(2023, 7, 10), "dl-2023-dbf-001", "dl_guarantee_fee", 5_000_000, "reward.over_formula",
          loan_id="dl-db-2023-0017", document="大工信发〔2023〕47号（担保费补助）")
    grant("D01", date(2023, 7, 10), "dl-2023-dbf-002", "dl_guarantee_fee", 4_821_917,
          loan_id="dl-db-2023-0017", document="大工信发〔2023〕47号（担保费补助）")
    # D08 repaid three weeks late: no subsidy; D03's loan is not repaid yet
    loan("D08", date(2022, 12, 5), "dl-db-2022-0231", 500_000_000, "2022-12-01", "2023-05-31", 3_698_630, 150)
    repaid("D08", date(2023, 6, 22), "dl-db-2022-0231", "2023-06-20")
    grant("D08", date(2023, 7, 10), "dl-2023-dbf-003", "dl_guarantee_fee", 2_000_000, "reward.repaid_late",
          loan_id="dl-db-2022-0231", document="大工信发〔2023〕47号（担保费补助）")
    loan("D03", date(2023, 3, 3), "dl-db-2023-0052", 800_000_000, "2023-03-01", "2024-02-29", 12_000_000, 150)
    grant("D03", date(2023, 7, 10), "dl-2023-dbf-004", "dl_guarantee_fee", 2_000_000, "reward.loan_not_repaid",
          loan_id="dl-db-2023-0052", document="大工信发〔2023〕47号（担保费补助）")
    # the special fund (1,500,000 CNY in 2023) pays rewards and subsidies until it is spent
    grant("D01", date(2023, 4, 20), "dl-2023-xjr-001", "dl_little_giant_national", 50_000_000,
          document="大工信发〔2023〕21号")
    grant("D03", date(2023, 4, 20), "dl-2023-xjr-002", "dl_little_giant_national", 50_000_000,
          document="大工信发〔2023〕21号")
    grant("D08", date(2023, 4, 20), "dl-2023-zjtx-001", "dl_specialized_provincial", 10_000_000,
          document="大工信发〔2023〕21号")
    grant("D04", date(2023, 4, 20), "dl-2023-zjtx-002", "dl_specialized_provincial", 10_000_000,
          document="大工信发〔2023〕21号")
    # 贴息: 50 % of LPR 3.65 % on 10 million for a year = 182,500 CNY
    grant("D08", date(2023, 5, 16), "dl-2023-tx-001", "dl_loan_interest", 18_250_000, loan_fen=1_000_000_000,
          lpr_bp=365, days=365, document="大工信发〔2023〕30号")
    # 1,500,000 - 1,000,000 - 200,000 - 182,500 - 48,219.17 = 69,280.83 CNY left of the fund:
    # D01's interest subsidy of 182,500 CNY, within its own scheme's caps, is refused
    grant("D01", date(2023, 7, 11), "dl-2023-tx-002", "dl_loan_interest", 18_250_000, "reward.over_budget",
          loan_fen=1_000_000_000, lpr_bp=365, days=365, document="大工信发〔2023〕49号")


@cache
def _build() -> tuple[tuple[tuple[str, str | None], ...], int]:
    b = _Builder()
    b.add(HULUDAO)
    b.add(DALIAN[:2])
    b.add(DALIAN[2:3], listed=True)
    b.add(DALIAN[3:])
    b.add(QINGDAO)
    b.add(HANGZHOU)
    key, name, county, industry, revenue = LEGACY
    legacy = Ent(key, name, county, industry, revenue, uscc_override=LEGACY_OVERRIDE)
    first17 = f"91{county}716012345"
    good = uscc_check_char(first17)
    legacy.uscc = first17 + USCC_ALPHABET[(USCC_ALPHABET.index(good) + 7) % 31]  # fails the check
    legacy.products = {"HOLD-P1": PRODUCTS["HOLD"][0]}
    b.ents[key] = legacy
    _huludao(b)
    _dalian(b)
    _dalian_money(b)
    _qingdao(b)
    _hangzhou(b)
    b.file_all()
    b.register_all()
    script = b.script()
    return tuple((json.dumps(cmd, ensure_ascii=False), expect) for cmd, expect in script), len(script)


def demo_script() -> list[tuple[dict, str | None]]:
    """Commands in order, as JSON-shaped dicts, each with the refusal code it is expected
    to get, or ``None`` if it must be accepted.  A fresh copy on every call."""
    frozen, _ = _build()
    return [(json.loads(cmd), expect) for cmd, expect in frozen]


HULUDAO_FIGURES: list[tuple[dict[str, str], int]] = [
    ({"tier": "key_little_giant", "level": "national", "region": "211400", "programme": "national"}, 2),
    ({"tier": "little_giant", "level": "national", "region": "211400", "programme": "national"}, 5),
    ({"tier": "little_giant", "level": "provincial", "region": "211400", "programme": "liaoning"}, 9),
    ({"tier": "specialized", "level": "provincial", "region": "211400", "programme": "national"}, 36),
    ({"tier": "product", "region": "211400", "programme": "liaoning"}, 35),
    ({"tier": "innovative", "level": "provincial", "region": "211400", "programme": "national"}, 33),
]

# Dalian's report of 2023-07-11, the four figures as the CLI asks them
# (`cultivation pool --tier little_giant --level national --region 210200 --as-of 2023-07-11`, ...)
DALIAN_AS_OF = "2023-07-11"
DALIAN_FIGURES: list[tuple[dict[str, str], int]] = [
    ({"tier": "little_giant", "level": "national", "region": "210200", "as_of": DALIAN_AS_OF}, 73),
    ({"tier": "specialized", "level": "provincial", "region": "210200", "as_of": DALIAN_AS_OF}, 435),
    ({"tier": "innovative", "region": "210200", "as_of": DALIAN_AS_OF}, 833),
    ({"stage": "pooled", "tier": "specialized", "region": "210200", "as_of": DALIAN_AS_OF}, 2950),  # 近3000户
]

# Qingdao's report of 2017-06-27 ("131工程"), by the end of 2016: "5批798项" products, 4 batches of
# 200 demonstration enterprises, the first batch of 20 hidden champions, as ever-designated counts
QINGDAO_AS_OF = "2016-12-31"
QINGDAO_FIGURES: list[tuple[dict[str, str], int]] = [
    ({"tier": "product", "region": "370200", "programme": "qingdao", "as_of": QINGDAO_AS_OF, "count": "ever"}, 798),
    ({"tier": "product", "region": "370200", "programme": "qingdao", "as_of": QINGDAO_AS_OF, "count": "batches"}, 5),
    ({"tier": "demonstration", "region": "370200", "programme": "qingdao", "as_of": QINGDAO_AS_OF,
      "count": "ever"}, 200),
    ({"tier": "demonstration", "region": "370200", "programme": "qingdao", "as_of": QINGDAO_AS_OF,
      "count": "batches"}, 4),
    ({"tier": "hidden_champion", "region": "370200", "programme": "qingdao", "as_of": QINGDAO_AS_OF,
      "count": "ever"}, 20),
    ({"tier": "hidden_champion", "region": "370200", "programme": "qingdao", "as_of": QINGDAO_AS_OF,
      "count": "batches"}, 1),
]

# Pool queries (keyword arguments of services.queries.pool_items: ReadModel.pool, .pooled with
# "stage": "pooled", .designated with "count": "ever" or "new"; "count": "batches" counts the
# batches, services.queries.count_of; "as_of" defaults to DEMO_AS_OF) and the counts they must give.  Queries name their
# programme where two programmes share a tier id (national and Liaoning little giants).
EXPECTED: list[tuple[dict, int]] = [
    # the report's Huludao row, as of 2023-06-29
    *HULUDAO_FIGURES,
    ({"tier": "little_giant", "level": "national", "region": "211400"}, 5),
    ({"tier": "specialized", "region": "211402"}, 12),  # 连山区
    # Huludao through the years: before the 2022 rules there is no innovative tier; lapses and
    # renewals by review move the figures; the 2026 rules add 科技和创新型 before 专精特新
    ({"tier": "innovative", "region": "211400", "as_of": "2021-12-31", "programme": "national"}, 0),
    ({"tier": "specialized", "level": "provincial", "region": "211400", "as_of": "2021-12-31"}, 32),
    ({"tier": "product", "region": "211400", "as_of": "2021-12-31"}, 18),
    ({"tier": "innovative", "region": "211400", "as_of": "2022-12-31", "programme": "national"}, 16),
    ({"tier": "little_giant", "level": "provincial", "region": "211400", "as_of": "2022-12-31"}, 8),
    ({"tier": "little_giant", "level": "national", "region": "211400",
     "as_of": "2024-06-30", "programme": "national"}, 7),
    ({"tier": "key_little_giant", "level": "national", "region": "211400", "as_of": "2024-06-30"}, 1),
    ({"tier": "specialized", "level": "provincial", "region": "211400", "as_of": "2026-06-30"}, 30),
    ({"tier": "innovative", "level": "provincial", "region": "211400",
     "as_of": "2026-06-30", "programme": "national"}, 27),
    ({"tier": "little_giant", "level": "national", "region": "211400",
     "as_of": "2026-06-30", "programme": "national"}, 6),
    ({"tier": "product", "region": "211400", "as_of": "2026-06-30"}, 26),
    ({"tier": "specialized", "level": "provincial", "region": "211400", "as_of": "2026-09-30"}, 31),
    ({"tier": "innovative", "level": "provincial", "region": "211400",
     "as_of": "2026-09-30", "programme": "national"}, 23),
    # the cultivation pools (培育库)
    ({"stage": "pooled", "tier": "specialized", "region": "211400"}, 24),
    ({"stage": "pooled", "tier": "specialized", "region": "211400", "as_of": "2022-06-30"}, 16),
    ({"stage": "pooled", "tier": "little_giant", "region": "211400"}, 8),
    ({"stage": "pooled", "tier": "innovative", "region": "211400"}, 6),
    ({"stage": "pooled", "tier": "product", "region": "370200", "programme": "qingdao"}, 6),
    # Dalian, the report of 2023-07-11 (a 计划单列市: Dalian decides its own 专精特新 and 创新型 and
    # recommends its little giants to MIIT; the pool is the 专精特新培育库)
    *DALIAN_FIGURES,
    # Dalian through the years: the 2018 round lapsed unless renewed, batch 1 of the little giants
    # renewed but one, the 5th batch announced after the report; Liaoning's own little giant
    ({"tier": "specialized", "level": "provincial", "region": "210200", "as_of": "2021-12-31"}, 306),
    ({"tier": "little_giant", "level": "national", "region": "210200", "as_of": "2022-06-30"}, 46),
    ({"tier": "little_giant", "level": "national", "region": "210200", "as_of": "2023-07-31"}, 85),
    ({"tier": "innovative", "region": "210200", "as_of": "2022-12-31"}, 531),
    ({"stage": "pooled", "tier": "specialized", "region": "210200", "as_of": "2022-06-30"}, 2434),
    ({"tier": "little_giant", "level": "provincial", "region": "210200", "as_of": "2023-07-11"}, 1),
    ({"tier": "specialized", "region": "210213", "as_of": "2023-07-11"}, 120),  # 金州区
    # the province as a region holds Dalian's enterprises too (Huludao's 36, Dalian's 435)
    ({"tier": "specialized", "level": "provincial", "region": "210000"}, 471),
    # Qingdao "131": the report of 2017-06-27, ever designated by the end of 2016 (count "ever":
    # subjects with an approval on or before the date; "batches": batches that announced approvals)
    *QINGDAO_FIGURES,
    # ... the 2017 plan (80-100 / 25-30 / 15-20 new) and the 13th five-year plan (1,000 / 300 / 100 by 2020)
    ({"tier": "product", "region": "370200", "programme": "qingdao", "as_of": "2017-12-31", "count": "new"}, 92),
    ({"tier": "demonstration", "region": "370200", "programme": "qingdao", "as_of": "2017-12-31", "count": "new"}, 28),
    ({"tier": "hidden_champion", "region": "370200", "programme": "qingdao", "as_of": "2017-12-31",
      "count": "new"}, 18),
    ({"tier": "product", "region": "370200", "programme": "qingdao", "as_of": "2020-12-31", "count": "ever"}, 1130),
    ({"tier": "demonstration", "region": "370200", "programme": "qingdao", "as_of": "2020-12-31",
      "count": "ever"}, 292),
    ({"tier": "hidden_champion", "region": "370200", "programme": "qingdao", "as_of": "2020-12-31",
      "count": "ever"}, 95),
    # valid on a date: the pool of 2016 (three batches in their three years), and today's story
    ({"tier": "product", "region": "370200", "programme": "qingdao", "as_of": "2016-12-31"}, 488),
    ({"tier": "product", "region": "370200", "programme": "qingdao"}, 4),
    ({"tier": "demonstration", "region": "370200"}, 3),
    ({"tier": "hidden_champion", "region": "370200", "programme": "qingdao"}, 2),
    # Hangzhou
    ({"tier": "specialized", "level": "provincial", "region": "330100"}, 3),
    ({"tier": "little_giant", "level": "national", "region": "330100", "programme": "national"}, 1),
    ({"tier": "hidden_champion", "region": "330100", "programme": "zhejiang"}, 1),
    ({"tier": "innovative", "region": "330100", "programme": "national"}, 2),
    # Hangzhou's industrial chains (一链一策一批): Z02 and Z05 on 智能装备; Z03 taken off 智能计算 on 06-20
    ({"tier": "specialized", "level": "provincial", "region": "330100", "chain": "zhejiang/intelligent_equipment"}, 2),
    ({"tier": "innovative", "region": "330100", "chain": "intelligent_computing", "as_of": "2023-06-19"}, 1),
    ({"tier": "innovative", "region": "330100", "chain": "intelligent_computing"}, 0),
    ({"tier": "innovative", "region": "330100", "chain": "biomedicine"}, 1),
    # the whole country, as far as the demo goes
    ({"tier": "little_giant", "level": "national", "programme": "national"}, 79),
]


# ---------------------------------------------------------------------------- the reports, city by city
@dataclass(frozen=True)
class Figure:
    """One figure of a report beside the query that reproduces it: ``label`` names it for
    people, ``reported`` quotes the report, ``query``/``count`` are an entry of EXPECTED."""

    label: str
    reported: str
    query: dict[str, str]
    count: int


@dataclass(frozen=True)
class CityReport:
    """A report the demo reproduces: whose (``region``, ``name``), which (``source``), the
    figures it gives, and the date on which to show progress against the targets of the
    policy files for the region (``targets_on``; None: the report quotes no targets)."""

    region: str
    name: str
    source: str
    figures: tuple[Figure, ...]
    targets_on: str | None = None


def _figures(labels: list[tuple[str, str]], pinned: list[tuple[dict[str, str], int]]) -> tuple[Figure, ...]:
    assert len(labels) == len(pinned)
    return tuple(Figure(label, reported, query, count) for (label, reported), (query, count) in zip(labels, pinned))


CITY_REPORTS: tuple[CityReport, ...] = (
    CityReport("211400", "葫芦岛市", "葫芦岛市专精特新中小企业梯度培育情况（2023-06-29）", _figures([
        ("国家级重点支持\"小巨人\"企业", "2家"), ("国家级专精特新\"小巨人\"企业", "5家"),
        ("省级专精特新\"小巨人\"企业", "9家"), ("省级专精特新中小企业", "36家"), ("专精特新产品", "35个"),
        ("创新型中小企业", "33家")], HULUDAO_FIGURES)),
    CityReport("210200", "大连市", "大连市专精特新企业培育情况（2023-07-11）", _figures([
        ("国家级专精特新\"小巨人\"企业", "73家"), ("专精特新中小企业（大连市认定）", "435家"),
        ("创新型中小企业（大连市认定）", "833家"), ("专精特新培育库", "近3000户")], DALIAN_FIGURES)),
    CityReport("370200", "青岛市", "青岛市\"131工程\"情况（2017-06-27），截至2016年底", _figures([
        ("专精特新产品（技术）累计", "798项"), ("专精特新产品（技术）批次", "5批"),
        ("专精特新示范企业累计", "200家"), ("专精特新示范企业批次", "4批"),
        ("隐形冠军企业累计", "20家"), ("隐形冠军企业批次", "第一批")], QINGDAO_FIGURES), targets_on="2020-12-31"),
    CityReport("330100", "杭州市", "杭州市专精特新中小企业培育行动方案（2022-06），\"万千百\"目标", (),
               targets_on=DEMO_AS_OF),
)

