"""A deterministic, realistic command history at national scale (``cultivation generate``).

:func:`generate_commands` streams JSON-shaped command dicts in business-date order, the
way the backend services of the authorities would send them over the years: enterprises
register on the cultivation platform in all 31 mainland provinces (weighted by economic
weight, real GB/T 2260 province, city and county codes, USCCs carrying the county code), apply
in the yearly rounds of each tier, are recommended by the city (创新型, 专精特新) or the
province (小巨人, 重点小巨人, 单项冠军), assessed and noticed by the deciding authority
against the thresholds of the rule version in force, and approved after the notice
period.  Designations then file yearly data, are reviewed inside the review window (most
pass, some fail, many are simply left to lapse: no event is needed for an expiry), are
now and then revoked, earn rewards within the caps and yearly budgets of the schemes,
and the enterprises report changes (renames, relocations, listings; some late), after which
the deciding authority re-confirms or ends the designations the change puts under
re-confirmation (rule 7; a late major change, or late yearly data, costs the review).

About one command in a hundred is *meant* to be refused (a city approving what the
province decides, an approval before the notice ended, a review outside its window or
without yearly data, an application inside the cooling-off period, a reward over its
cap or budget, ...): :func:`generate` pairs each command with the refusal code it must
get, or ``None``; :func:`expected_refusals` lists them by command id.

Generation is an event-driven simulation over per-enterprise state: a heap of dated
steps, each of which decides against the state the ledger will have when it handles the
command (the generator mirrors the rules of ``domain.enterprise`` and judges assessments
with the policy files themselves).  Memory is bounded by the number of enterprises;
nothing holds the list of commands.

>>> cmds = list(generate_commands(40, 2, seed=7, start_year=2022))
>>> cmds[0]["command"], cmds[0]["command_id"]
('register', 'gen-7-00000001')
>>> days = [c["occurred_on"] for c in cmds]
>>> days == sorted(days) and days[-1] <= "2023-12-31"
True
>>> cmds == list(generate_commands(40, 2, seed=7, start_year=2022))
True
"""

from __future__ import annotations

import random
import zlib
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from itertools import accumulate
from typing import Any

from domain.enterprise import CreditEntry, GroupHolder, credit_standing, similar_holder
from domain.errors import RuleViolation
from domain.policy import CREDIT_LISTS, PolicyBook, Programme, Scheme, Tier, last_data_year, merge_yearly
from domain.regions import subdivisions
from domain.validity import valid_on
from domain.values import USCC_ALPHABET, add_months, add_years, make_uscc
from domain.workdays import notice_end

Cmd = dict[str, Any]

# ============================================================================ reference tables
# code, name, short name (in enterprise names), abbreviation, weight (per cent of the
# country's SMEs on the ladder: Guangdong, Jiangsu, Zhejiang, Shandong lead), department,
# document prefix
_PROVINCES: list[tuple[str, str, str, str, float, str, str]] = [
    ("110000", "北京市", "北京", "京", 4.2, "北京市经济和信息化局", "京经信发"),
    ("120000", "天津市", "天津", "津", 1.8, "天津市工业和信息化局", "津工信发"),
    ("130000", "河北省", "河北", "冀", 3.0, "河北省工业和信息化厅", "冀工信发"),
    ("140000", "山西省", "山西", "晋", 1.0, "山西省工业和信息化厅", "晋工信发"),
    ("150000", "内蒙古自治区", "内蒙古", "蒙", 0.7, "内蒙古自治区工业和信息化厅", "内工信发"),
    ("210000", "辽宁省", "辽宁", "辽", 2.1, "辽宁省工业和信息化厅", "辽工信发"),
    ("220000", "吉林省", "吉林", "吉", 0.8, "吉林省工业和信息化厅", "吉工信发"),
    ("230000", "黑龙江省", "黑龙江", "黑", 0.7, "黑龙江省工业和信息化厅", "黑工信发"),
    ("310000", "上海市", "上海", "沪", 4.0, "上海市经济和信息化委员会", "沪经信发"),
    ("320000", "江苏省", "江苏", "苏", 11.0, "江苏省工业和信息化厅", "苏工信发"),
    ("330000", "浙江省", "浙江", "浙", 10.5, "浙江省经济和信息化厅", "浙经信企业"),
    ("340000", "安徽省", "安徽", "皖", 4.0, "安徽省经济和信息化厅", "皖经信发"),
    ("350000", "福建省", "福建", "闽", 3.8, "福建省工业和信息化厅", "闽工信发"),
    ("360000", "江西省", "江西", "赣", 2.0, "江西省工业和信息化厅", "赣工信发"),
    ("370000", "山东省", "山东", "鲁", 8.0, "山东省工业和信息化厅", "鲁工信发"),
    ("410000", "河南省", "河南", "豫", 4.0, "河南省工业和信息化厅", "豫工信发"),
    ("420000", "湖北省", "湖北", "鄂", 4.0, "湖北省经济和信息化厅", "鄂经信发"),
    ("430000", "湖南省", "湖南", "湘", 3.5, "湖南省工业和信息化厅", "湘工信发"),
    ("440000", "广东省", "广东", "粤", 12.0, "广东省工业和信息化厅", "粤工信发"),
    ("450000", "广西壮族自治区", "广西", "桂", 1.2, "广西壮族自治区工业和信息化厅", "桂工信发"),
    ("460000", "海南省", "海南", "琼", 0.3, "海南省工业和信息化厅", "琼工信发"),
    ("500000", "重庆市", "重庆", "渝", 2.0, "重庆市经济和信息化委员会", "渝经信发"),
    ("510000", "四川省", "四川", "川", 4.0, "四川省经济和信息化厅", "川经信发"),
    ("520000", "贵州省", "贵州", "黔", 1.0, "贵州省工业和信息化厅", "黔工信发"),
    ("530000", "云南省", "云南", "滇", 1.0, "云南省工业和信息化厅", "云工信发"),
    ("540000", "西藏自治区", "西藏", "藏", 0.05, "西藏自治区经济和信息化厅", "藏经信发"),
    ("610000", "陕西省", "陕西", "陕", 2.0, "陕西省工业和信息化厅", "陕工信发"),
    ("620000", "甘肃省", "甘肃", "甘", 0.5, "甘肃省工业和信息化厅", "甘工信发"),
    ("630000", "青海省", "青海", "青", 0.15, "青海省工业和信息化厅", "青工信发"),
    ("640000", "宁夏回族自治区", "宁夏", "宁", 0.3, "宁夏回族自治区工业和信息化厅", "宁工信发"),
    ("650000", "新疆维吾尔自治区", "新疆", "新", 0.6, "新疆维吾尔自治区工业和信息化厅", "新工信发"),
]

# Prefecture-level cities, "code name weight" (weight: the city's share inside its
# province).  The municipalities have one municipal-level code, xx0100.
_CITIES = """
110100 北京 10
120100 天津 10
130100 石家庄 9 130200 唐山 7 130300 秦皇岛 3 130400 邯郸 5 130500 邢台 4 130600 保定 7 130700 张家口 2
130800 承德 2 130900 沧州 6 131000 廊坊 6 131100 衡水 3
140100 太原 10 140200 大同 3 140300 阳泉 2 140400 长治 4 140500 晋城 3 140600 朔州 2 140700 晋中 4
140800 运城 4 140900 忻州 2 141000 临汾 3 141100 吕梁 2
150100 呼和浩特 8 150200 包头 9 150300 乌海 2 150400 赤峰 4 150500 通辽 3 150600 鄂尔多斯 6 150700 呼伦贝尔 2
150800 巴彦淖尔 2 150900 乌兰察布 2
210100 沈阳 10 210200 大连 10 210300 鞍山 4 210400 抚顺 2 210500 本溪 2 210600 丹东 3 210700 锦州 3
210800 营口 4 210900 阜新 2 211000 辽阳 2 211100 盘锦 3 211200 铁岭 2 211300 朝阳 2 211400 葫芦岛 3
220100 长春 10 220200 吉林 5 220300 四平 2 220400 辽源 2 220500 通化 2 220600 白山 1 220700 松原 2 220800 白城 1
230100 哈尔滨 10 230200 齐齐哈尔 4 230300 鸡西 2 230400 鹤岗 1 230500 双鸭山 1 230600 大庆 6 230700 伊春 1
230800 佳木斯 2 230900 七台河 1 231000 牡丹江 3 231100 黑河 1 231200 绥化 2
310100 上海 10
320100 南京 9 320200 无锡 10 320300 徐州 5 320400 常州 8 320500 苏州 14 320600 南通 7 320700 连云港 3
320800 淮安 3 320900 盐城 4 321000 扬州 4 321100 镇江 4 321200 泰州 4 321300 宿迁 3
330100 杭州 12 330200 宁波 11 330300 温州 8 330400 嘉兴 7 330500 湖州 5 330600 绍兴 7 330700 金华 6
330800 衢州 2 330900 舟山 1 331000 台州 7 331100 丽水 2
340100 合肥 12 340200 芜湖 6 340300 蚌埠 3 340400 淮南 2 340500 马鞍山 3 340600 淮北 2 340700 铜陵 2
340800 安庆 3 341000 黄山 1 341100 滁州 4 341200 阜阳 3 341300 宿州 2 341500 六安 2 341600 亳州 2
341700 池州 1 341800 宣城 3
350100 福州 10 350200 厦门 10 350300 莆田 3 350400 三明 3 350500 泉州 10 350600 漳州 5 350700 南平 2
350800 龙岩 3 350900 宁德 3
360100 南昌 10 360200 景德镇 2 360300 萍乡 2 360400 九江 4 360500 新余 2 360600 鹰潭 2 360700 赣州 5
360800 吉安 4 360900 宜春 4 361000 抚州 2 361100 上饶 3
370100 济南 10 370200 青岛 12 370300 淄博 6 370400 枣庄 3 370500 东营 4 370600 烟台 8 370700 潍坊 8
370800 济宁 5 370900 泰安 4 371000 威海 4 371100 日照 3 371300 临沂 5 371400 德州 4 371500 聊城 4
371600 滨州 4 371700 菏泽 3
410100 郑州 12 410200 开封 3 410300 洛阳 7 410400 平顶山 3 410500 安阳 3 410600 鹤壁 2 410700 新乡 5
410800 焦作 3 410900 濮阳 2 411000 许昌 4 411100 漯河 2 411200 三门峡 2 411300 南阳 4 411400 商丘 3
411500 信阳 3 411600 周口 3 411700 驻马店 3
420100 武汉 14 420200 黄石 3 420300 十堰 3 420500 宜昌 5 420600 襄阳 6 420700 鄂州 2 420800 荆门 3
420900 孝感 3 421000 荆州 3 421100 黄冈 3 421200 咸宁 2 421300 随州 2
430100 长沙 14 430200 株洲 6 430300 湘潭 4 430400 衡阳 4 430500 邵阳 2 430600 岳阳 4 430700 常德 4
430800 张家界 1 430900 益阳 3 431000 郴州 3 431100 永州 2 431200 怀化 2 431300 娄底 2
440100 广州 12 440200 韶关 2 440300 深圳 16 440400 珠海 4 440500 汕头 3 440600 佛山 10 440700 江门 4
440800 湛江 2 440900 茂名 2 441200 肇庆 3 441300 惠州 5 441400 梅州 2 441500 汕尾 1 441600 河源 1
441700 阳江 1 441800 清远 2 441900 东莞 10 442000 中山 5 445100 潮州 2 445200 揭阳 2 445300 云浮 1
450100 南宁 10 450200 柳州 7 450300 桂林 4 450400 梧州 2 450500 北海 2 450600 防城港 1 450700 钦州 2
450800 贵港 2 450900 玉林 3 451000 百色 2 451100 贺州 1 451200 河池 1 451300 来宾 1 451400 崇左 1
460100 海口 10 460200 三亚 4 460400 儋州 2
500100 重庆 10
510100 成都 16 510300 自贡 2 510400 攀枝花 2 510500 泸州 2 510600 德阳 4 510700 绵阳 4 510800 广元 1
510900 遂宁 2 511000 内江 2 511100 乐山 2 511300 南充 2 511400 眉山 2 511500 宜宾 3 511600 广安 1
511700 达州 2 511800 雅安 1 511900 巴中 1 512000 资阳 1
520100 贵阳 10 520200 六盘水 2 520300 遵义 5 520400 安顺 2 520500 毕节 2 520600 铜仁 2
530100 昆明 12 530300 曲靖 4 530400 玉溪 4 530500 保山 1 530600 昭通 1 530700 丽江 1 530800 普洱 1 530900 临沧 1
540100 拉萨 10 540200 日喀则 2 540300 昌都 1 540400 林芝 1
610100 西安 14 610200 铜川 1 610300 宝鸡 4 610400 咸阳 4 610500 渭南 2 610600 延安 2 610700 汉中 2
610800 榆林 3 610900 安康 1 611000 商洛 1
620100 兰州 10 620200 嘉峪关 1 620300 金昌 1 620400 白银 2 620500 天水 2 620600 武威 1 620700 张掖 1
620800 平凉 1 620900 酒泉 2 621000 庆阳 1 621100 定西 1 621200 陇南 1
630100 西宁 10 630200 海东 3
640100 银川 10 640200 石嘴山 3 640300 吴忠 2 640400 固原 1 640500 中卫 1
650100 乌鲁木齐 10 650200 克拉玛依 3 650400 吐鲁番 1 650500 哈密 1
"""

@dataclass(frozen=True)
class City:
    code: str
    name: str  # short name, e.g. 苏州
    weight: int
    counties: tuple[str, ...]


@dataclass(frozen=True)
class Province:
    code: str
    name: str
    short: str
    abbr: str
    weight: float
    department: str
    doc_prefix: str
    cities: tuple[City, ...]

    @property
    def municipality(self) -> bool:
        return self.code in ("110000", "120000", "310000", "500000")


def _counties(city: str) -> tuple[str, ...]:
    """The city's real county-level divisions (GB/T 2260, ``domain/gbt2260.tsv``); a city
    without districts (东莞, 中山, 儋州, 嘉峪关) registers its enterprises under its own code,
    as their USCCs carry it."""
    return subdivisions(city) or (city,)


def _build_regions() -> tuple[Province, ...]:
    words = _CITIES.split()
    by_province: dict[str, list[City]] = {}
    for i in range(0, len(words), 3):
        code, name, weight = words[i], words[i + 1], int(words[i + 2])
        by_province.setdefault(code[:2], []).append(City(code, name, weight, _counties(code)))
    return tuple(Province(code, name, short, abbr, weight, dept, doc, tuple(by_province[code[:2]]))
                 for code, name, short, abbr, weight, dept, doc in _PROVINCES)


PROVINCES: tuple[Province, ...] = _build_regions()
PROVINCE_BY_CODE: dict[str, Province] = {p.code: p for p in PROVINCES}
CITY_BY_CODE: dict[str, City] = {c.code: c for p in PROVINCES for c in p.cities}

# GB/T 4754-2017 manufacturing classes, with the words enterprise names are made of.
INDUSTRIES: list[tuple[str, tuple[str, ...]]] = [
    ("C1361", ("水产食品",)), ("C1495", ("食品添加剂", "生物科技")), ("C1751", ("纺织新材料",)),
    ("C1821", ("泳装服饰",)), ("C2231", ("包装材料",)), ("C2319", ("印务科技",)),
    ("C2614", ("化工", "精细化工")), ("C2651", ("新材料", "高分子材料")), ("C2662", ("电子化学品", "新材料科技")),
    ("C2665", ("环保材料",)), ("C2720", ("医药", "制药")), ("C2730", ("中药饮片",)),
    ("C2761", ("生物医药", "生物制药")), ("C2770", ("医用材料",)), ("C2913", ("橡胶制品", "密封件")),
    ("C2922", ("塑胶管业",)), ("C2929", ("塑料制品", "精密注塑")), ("C3042", ("特种玻璃",)),
    ("C3073", ("特种陶瓷", "先进陶瓷")), ("C3089", ("耐火材料",)), ("C3091", ("石墨新材料", "碳素")),
    ("C3130", ("特钢", "精密钢材")), ("C3216", ("钼业",)), ("C3240", ("合金材料",)),
    ("C3251", ("铜材", "铜业")), ("C3252", ("铝业", "铝合金")), ("C3311", ("钢结构",)),
    ("C3340", ("金属制品", "钢丝绳")), ("C3360", ("表面处理技术", "热处理")), ("C3391", ("精密铸造", "铸造")),
    ("C3411", ("锅炉",)), ("C3415", ("风电装备",)), ("C3421", ("数控机床", "机床")),
    ("C3434", ("输送设备", "物流装备")), ("C3441", ("泵业", "流体机械")), ("C3443", ("阀门",)),
    ("C3444", ("液压", "液压件")), ("C3451", ("轴承",)), ("C3453", ("齿轮", "传动")),
    ("C3463", ("分离设备", "净化设备")), ("C3482", ("紧固件",)), ("C3484", ("精密机械", "机械零部件")),
    ("C3491", ("机器人", "智能装备")), ("C3493", ("增材制造", "三维打印")), ("C3511", ("矿山机械",)),
    ("C3512", ("石油机械",)), ("C3522", ("橡胶机械",)), ("C3525", ("模具",)),
    ("C3544", ("制药装备",)), ("C3562", ("半导体装备",)), ("C3572", ("农机装备",)),
    ("C3581", ("医疗设备", "医疗器械")), ("C3591", ("环保设备", "环境工程")), ("C3660", ("专用车辆",)),
    ("C3670", ("汽车零部件", "汽车配件")), ("C3714", ("轨道交通装备",)), ("C3734", ("船舶配套", "船舶设备")),
    ("C3821", ("电力设备", "变压器")), ("C3824", ("电力电子",)), ("C3825", ("光伏科技",)),
    ("C3829", ("电气", "电力科技")), ("C3831", ("电线电缆", "电缆")), ("C3841", ("锂电材料", "新能源")),
    ("C3856", ("家电配件",)), ("C3874", ("智能照明",)), ("C3911", ("计算机",)),
    ("C3961", ("智能穿戴",)), ("C3963", ("无人机",)), ("C3973", ("集成电路", "微电子")),
    ("C3976", ("光电", "光电子")), ("C3981", ("电子元件",)), ("C3982", ("电路科技", "电子")),
    ("C3983", ("传感技术", "传感器")), ("C3985", ("电子材料", "硅材料")), ("C3989", ("电子",)),
    ("C4011", ("自动化", "工控技术")), ("C4014", ("仪器", "分析仪器")), ("C4021", ("环境监测",)),
    ("C4090", ("仪器仪表",)),
]

# Characters of trade names (字号).
BRAND_CHARS = ("恒瑞华宏力天成锦泰东方精工新兴盛源远航博创海威蓝德润百川星火汇通鑫达聚鼎和金诺国"
               "光明昊腾飞中科智联兆丰嘉合信永安立凯盈卓越正凌云康宁迈普赛特思众同万隆")

# ============================================================================ the model's knobs
TIERS = ("innovative", "specialized", "little_giant", "key_little_giant", "single_champion")
_BIT = {t: 1 << i for i, t in enumerate(TIERS)}
_APP_PREFIX = {"innovative": "cxx", "specialized": "zjtx", "little_giant": "xjr", "key_little_giant": "zdxjr",
               "single_champion": "dxgj"}
_LEVEL = {"innovative": "provincial", "specialized": "provincial", "little_giant": "national",
          "key_little_giant": "national", "single_champion": "national"}
# The programme of each tier: 制造业单项冠军 is a programme of its own (champion-2016.toml,
# champion-2023.toml), the rest are the national SME ladder's.
PROGRAMME_OF = {"innovative": "national", "specialized": "national", "little_giant": "national",
                "key_little_giant": "national", "single_champion": "champion"}

# The calibration (README, "National totals"; tests/integration/test_generate.py pins it):
# at the default size, the distinct enterprises *ever designated* up to 2023-07-26 come out
# at MIIT's 累计培育 figures of that day (issue 13, "National"): 创新型 215,000 (±2 %),
# 专精特新 98,000 or more, national little giants 12,000 or more.  创新型 exists from the
# 2022 measures (2022-06-01), so its 215,000 come from two rounds (2022 b, 2023 a): most
# enterprises already on the platform apply at once (APPLY_P), and the platform's
# population is mostly there by 2022 (REGISTRATION_WEIGHTS).  专精特新's 98,000 come from
# the provincial rounds of 2018 to 2022 (the 2023 round approves in October), hence the
# wide ambition (Q_SPECIALIZED) and the eager applications.  The little giants follow
# MIIT's five batches of 2019 to 2023 by their pass rates (PASS_BY_YEAR).
#
# Who aims how high: an enterprise's quality q ~ U(0, 1) against these thresholds.
Q_INNOVATIVE, Q_SPECIALIZED, Q_LITTLE_GIANT, Q_KEY, Q_CHAMPION = 0.16, 0.48, 0.87, 0.97, 0.993
# Chance of applying in a given round once eligible (the rest wait a round or more).
APPLY_P = {"innovative": 0.8, "specialized": 0.7, "little_giant": 0.6, "key_little_giant": 0.6,
           "single_champion": 0.4}
# Chance of trying again after a refusal or rejection, and after a designation lapsed.
RETRY_P = {"innovative": 0.5, "specialized": 0.6, "little_giant": 0.7, "key_little_giant": 0.4,
           "single_champion": 0.5}
REAPPLY_P = {"innovative": 0.6, "specialized": 0.45, "little_giant": 0.5, "key_little_giant": 0.3,
             "single_champion": 0.4}
# At the end of a term: the share reviewed (the rest lapse without any event) and the share passing.
REVIEW_P = {"innovative": (0.38, 0.92), "specialized": (0.6, 0.92), "little_giant": (0.85, 0.94),
            "key_little_giant": (0.0, 0.0), "single_champion": (0.8, 0.9)}
REVOKE_P = {"innovative": 0.004, "specialized": 0.006, "little_giant": 0.008, "key_little_giant": 0.01,
            "single_champion": 0.005}
REVOCATION_MIX = (("false_material", 0.35), ("tax_or_credit", 0.25), ("major_accident", 0.2), ("other", 0.2))
REVOCATION_TEXT = {"false_material": "申报材料数据造假", "tax_or_credit": "存在偷漏税行为，被列入严重失信名单",
                   "major_accident": "发生重大安全生产事故", "other": "企业注销或迁出统计范围"}
CHANGE_RATE = 0.03  # change reports per enterprise and year
LATE_CHANGE_P = 0.12
LATE_FILING_P, SKIPPED_FILING_P = 0.03, 0.012
FAULT = 1.7  # scales every deliberately refused command
# Registrations on the platform by year (relative weights, step-wise: a year takes the
# weight of the last year listed at or before it, a year before the first the first's).
# The enterprises of the provincial 专精特新 lists are there from the start; the 2022
# measures bring the big wave of 创新型 applicants; few newcomers after 2023.
REGISTRATION_WEIGHTS: dict[int, float] = {2016: 2.5, 2019: 4, 2022: 6.5, 2023: 2.5, 2024: 1}
# The assessment's pass rate of a round year where it differs from the tier's usual one
# (``_Engine._PASS``).  MIIT's little-giant batches were of very different sizes: roughly
# 248, 1,744, 2,930, 4,357 and 3,671 in the first five (2019 to 2023; about 12,950 in
# all; the sizes as the issue-13 brief gives them, not checked against MIIT's lists here:
# an assumption, docs/domain.md).  Later rounds take the usual rate.
PASS_BY_YEAR: dict[str, dict[int, float]] = {
    "little_giant": {2019: 0.025, 2020: 0.3, 2021: 0.46, 2022: 0.65, 2023: 0.56},
}


def registration_weight(year: int) -> float:
    """The registration weight of ``year`` (:data:`REGISTRATION_WEIGHTS`, step-wise)."""
    known = sorted(REGISTRATION_WEIGHTS)
    i = bisect_right(known, year)
    return REGISTRATION_WEIGHTS[known[max(i - 1, 0)]]

# Yearly rounds, as (batch, apply window from, to, recommendation, assessment, notice,
# approval) month-days.  Provincial rounds shift by a few days per province and the
# municipal recommendations by a few days per city.
_ROUNDS: dict[str, list[tuple[Any, ...]]] = {
    "innovative": [("a", (2, 20), (3, 25), (4, 10), (4, 28), (5, 10), (5, 22)),
                   ("b", (7, 10), (8, 15), (9, 1), (9, 20), (10, 8), (10, 22))],
    "specialized": [("", (5, 20), (6, 30), (7, 20), (8, 25), (9, 15), (10, 8))],
    "little_giant": [("", (3, 1), (3, 31), (4, 20), (6, 5), (7, 3), (7, 20))],
    "key_little_giant": [("", (1, 8), (1, 31), (2, 25), (3, 25), (4, 15), (5, 10))],
    "single_champion": [("", (7, 1), (7, 25), (8, 15), (9, 20), (10, 20), (11, 10))],
}
_FIRST_YEAR = {"innovative": 2022, "specialized": 2018, "little_giant": 2019, "key_little_giant": 2021,
               "single_champion": 2022}
_CN_NUM = "一二三四五六七八九十"


def _cn(n: int) -> str:
    if n <= 10:
        return _CN_NUM[n - 1]
    return ("十" if n < 20 else _CN_NUM[n // 10 - 1] + "十") + (_CN_NUM[n % 10 - 1] if n % 10 else "")


def _crc(*parts: object) -> int:
    return zlib.crc32("|".join(map(str, parts)).encode())


def _by_year(yearly: dict[str, dict[str, int]] | None) -> dict[int, dict[str, int]] | None:
    """A command's yearly indicators (keyed by the year as a string) by data year."""
    return None if yearly is None else {int(y): v for y, v in yearly.items()}


def _covers(outer: str, inner: str) -> bool:
    if outer == "000000":
        return True
    if outer[2:] == "0000":
        return outer[:2] == inner[:2]
    if outer[4:] == "00":
        return outer[:4] == inner[:4]
    return outer == inner


# Handlers (by index, see _Engine.handlers) whose step an authority takes: on working days.
_WORKDAY = (False, True, True, True, True, True, False, False, True, True, True, False, False, True, True, True,
            True, True, True, False, False, True)
# What a refused recommendation's bar is called, and the reason the recommender then rejects with.
_BAR_CODES = {"abnormal_operations": "recommend.abnormal_operations",
              "serious_dishonesty": "recommend.seriously_dishonest"}
_REJECT_REASON = {"recommend.abnormal_operations": "列入经营异常名录，不予推荐",
                  "recommend.seriously_dishonest": "列入严重失信主体名单，不予推荐",
                  "recommend.same_group": "与已认定\"小巨人\"企业同一集团且主导产品相似，不予推荐",
                  "ladder.listed_excluded": "已上市，不属于重点支持范围"}

# ============================================================================ mirrored state
OPEN = frozenset(("applied", "recommended", "assessed", "noticed"))


class _Round:
    __slots__ = ("tier", "year", "batch", "ws", "we", "rec", "assess", "notice", "approve", "key")

    def __init__(self, tier: str, year: int, batch: str, dates: list[int]):
        self.tier, self.year, self.batch = tier, year, batch
        self.ws, self.we, self.rec, self.assess, self.notice, self.approve = dates
        self.key = f"{tier}:{year}{batch}"


class _App:
    __slots__ = ("id", "tier", "level", "status", "applied", "recs", "passed", "notice_until", "objections",
                 "valid_from", "valid_until", "revoked", "ended", "review_failed", "reviews", "reviewed_until",
                 "first_until", "reconf", "rnd", "region_at_apply", "approved_on", "replaced_by", "annulled")

    def __init__(self, app_id: str, tier: str, applied: int, rnd: _Round):
        self.id = app_id
        self.tier = tier
        self.level = _LEVEL[tier]
        self.status = "applied"
        self.applied = applied
        self.recs: tuple[str, ...] = ()
        self.passed: bool | None = None
        self.notice_until: int | None = None
        self.objections: dict[str, str] | None = None
        self.valid_from: int | None = None
        self.valid_until: int | None = None
        self.revoked: int | None = None
        self.ended: int | None = None
        self.review_failed = False
        self.reviews = 0
        self.reviewed_until: int | None = None
        self.first_until: int | None = None
        self.reconf = ""  # the kind of change it is under re-confirmation after ("": none)
        self.rnd = rnd
        self.approved_on: int | None = None
        self.replaced_by: str | None = None  # a review renewed it as a new designation (renewal = "replace")
        self.annulled: int | None = None  # the day its approval was annulled

    def status_on(self, o: int) -> str:
        """Its status as it stood on day ``o``: an approval annulled after ``o`` still stood
        then (the ledger shows nothing decided after a date on that date; ``domain.validity``,
        "Ever designated").  For the summary's figures on its ``as_of``, which may lie before
        later annulments; the run's own decisions read ``status`` (:meth:`valid_on`)."""
        return "approved" if self.annulled is not None and self.annulled > o else self.status

    def valid_on(self, o: int) -> bool:
        """Rule 4 on ordinals: the ledger's own rule (``domain.validity``), on the generator's dates."""
        return valid_on(o, status=self.status, valid_from=self.valid_from, valid_until=self.valid_until,
                        revoked_on=self.revoked, ended_on=self.ended)

    def stood_valid_on(self, o: int) -> bool:
        """Rule 4 on day ``o`` as the application stood then (:meth:`status_on`): the summary's."""
        return valid_on(o, status=self.status_on(o), valid_from=self.valid_from, valid_until=self.valid_until,
                        revoked_on=self.revoked, ended_on=self.ended)


class _Reward:
    __slots__ = ("id", "programme", "scheme", "basis", "amount", "granted", "tranche", "clawed", "loan")

    def __init__(self, rid: str, programme: str, scheme: str, basis: str | None, amount: int, granted: int,
                 tranche: int | None, loan: int | None):
        self.id, self.programme, self.scheme, self.basis = rid, programme, scheme, basis
        self.amount, self.granted, self.tranche, self.loan = amount, granted, tranche, loan
        self.clawed = 0


class _Ent:
    __slots__ = ("i", "uscc", "name", "region", "industry", "q", "revenue", "listed", "hnte", "reg", "apps",
                 "filed", "late", "changes", "revs", "rewards", "pools", "n", "filing", "pend", "place", "brand",
                 "word", "suffix", "credit", "group")
    # Set once by _Engine._register (the slots above hold them; these lines only declare their types).
    i: int
    uscc: str
    name: str
    region: str
    industry: str
    q: float
    revenue: int
    listed: bool
    hnte: bool
    reg: int
    place: str
    brand: str
    word: str
    suffix: str

    def __init__(self) -> None:
        self.apps: dict[str, _App] = {}
        self.filed = 0  # yearly data filed: bit (data year - 1990)
        self.late = 0  # ... and filed after the deadline
        self.changes: list[tuple[int, bool, str, bool]] | None = None  # reported, late, kind, forfeits a review
        self.revs: list[tuple[str, str, int, int | None]] | None = None  # tier, reason, effective, barred until
        self.rewards: dict[str, _Reward] | None = None
        self.pools: dict[str, bool] | None = None
        self.n = 0
        self.filing = 0
        self.pend = 0
        self.credit: dict[str, list[CreditEntry]] | None = None  # credit list -> entries (the aggregate's)
        self.group: str | None = None  # the group (parent's USCC) it belongs to

    def next_id(self, prefix: str, year: int) -> str:
        self.n += 1
        return f"{prefix}-{year}-{self.n}"

    def self_actor(self) -> dict[str, str]:
        return {"authority": self.region, "person": f"{self.name}（企业填报）", "role": "enterprise"}

    def has_filed(self, data_year: int) -> bool:
        return bool(self.filed >> (data_year - 1990) & 1)

    def filed_late(self, data_year: int) -> bool:
        return bool(self.late >> (data_year - 1990) & 1)

    def late_years(self) -> list[int]:
        """The data years filed after their deadline."""
        late, out, y = self.late, [], 1990
        while late:
            if late & 1:
                out.append(y)
            late >>= 1
            y += 1
        return out


# ============================================================================ the summary
@dataclass
class Summary:
    """What a generation produced: filled in while the stream is consumed."""

    enterprises: int = 0
    years: int = 0
    seed: int = 0
    start_year: int = 0
    first_day: str = ""
    last_day: str = ""
    commands: int = 0
    by_command: Counter[str] = field(default_factory=Counter)
    expected_refusals: Counter[str] = field(default_factory=Counter)
    by_province: Counter[str] = field(default_factory=Counter)
    # designations valid on the last day of the horizon, by tier
    valid_at_end: dict[str, int] = field(default_factory=dict)
    designations_made: Counter[str] = field(default_factory=Counter)
    # validity periods that ended inside the horizon without a review (expiry needs no event)
    lapsed_without_review: int = 0
    reviews_planned: int = 0
    rewards_fen: Counter[str] = field(default_factory=Counter)
    # The national figures on one date (``as_of``, the last day unless asked; MIIT's of
    # 2023-07-26 are 累计培育 counts): by tier (at the tier's level in the national
    # programme), the distinct enterprises with at least one designation approved on or
    # before that day whatever happened after ("ever designated"; an approval annulled by
    # then was never a designation, rule 9, one annulled later still was on that day), those
    # valid on it (as they stood on it), and the distinct enterprises by the year of their
    # first approval ("newly designated in year Y", the whole horizon, annulled ones excepted).
    as_of: str = ""
    ever_designated: dict[str, int] = field(default_factory=dict)
    valid_on_as_of: dict[str, int] = field(default_factory=dict)
    new_by_year: dict[str, dict[int, int]] = field(default_factory=dict)
    done: bool = False

    @property
    def refusals(self) -> int:
        return sum(self.expected_refusals.values())

    @property
    def refusal_share(self) -> float:
        return self.refusals / self.commands if self.commands else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"enterprises": self.enterprises, "years": self.years, "seed": self.seed,
                "start_year": self.start_year, "first_day": self.first_day, "last_day": self.last_day,
                "commands": self.commands, "by_command": dict(sorted(self.by_command.items())),
                "expected_refusals": self.refusals, "refusal_share": round(self.refusal_share, 5),
                "refusals_by_code": dict(sorted(self.expected_refusals.items())),
                "provinces": len(self.by_province), "by_province": dict(sorted(self.by_province.items())),
                "designations_made": dict(self.designations_made), "valid_at_end": self.valid_at_end,
                "lapsed_without_review": self.lapsed_without_review, "reviews_planned": self.reviews_planned,
                "rewards_fen": dict(sorted(self.rewards_fen.items())), "as_of": self.as_of,
                "levels": dict(_LEVEL), "ever_designated": self.ever_designated,
                "valid_on_as_of": self.valid_on_as_of,
                "new_by_year": {t: {str(y): n for y, n in sorted(ys.items())} for t, ys in self.new_by_year.items()}}


# ============================================================================ the engine
class _Engine:
    """The simulation.  Handlers run in business-date order; each emits the commands of
    its day and schedules later steps.  Every check a handler makes mirrors the rule of
    ``domain.enterprise`` the ledger will apply to the command, in the same order, so the
    expected outcome of each command is known when it is emitted."""

    def __init__(self, enterprises: int, years: int, seed: int, start_year: int, book: PolicyBook,
                 summary: Summary, as_of: date | None = None):
        if enterprises < 0 or years < 1:
            raise ValueError("enterprises must be >= 0 and years >= 1")
        self.as_of = as_of.toordinal() if as_of is not None else None
        self.rng = random.Random(f"cultivation-generate:{seed}:{enterprises}:{years}:{start_year}")
        # The facts money rests on (chain tags, 首台套 recognitions, guaranteed loans) draw from a
        # stream of their own, so adding them leaves the rest of the history as it was.
        self.money = random.Random(f"cultivation-generate-money:{seed}:{enterprises}:{years}:{start_year}")
        self.tagged: set[str] = set()
        self.recognised: dict[tuple[str, str], str] = {}  # (uscc, product) -> level
        self.loans: dict[tuple[str, str], tuple[int, int, int, int, int]] = {}  # principal, fee, drawn, due, repaid
        self.seed = seed
        self.N = enterprises
        self.start = date(start_year, 1, 1).toordinal()
        self.end = date(start_year + years - 1, 12, 31).toordinal()
        self.book = book
        self.summary = summary
        self.prefix = f"gen-{seed}-"
        self.n = 0
        # the calendar: one list of (handler, enterprise, argument) per day of the horizon, run in
        # the order the steps were scheduled (a step is never scheduled before the day being run)
        self.days: list[list[tuple[int, Any, Any]] | None] = [None] * (self.end - self.start + 1)
        random_ = self.rng.random
        self.ri = lambda a, b: a + int(random_() * (b - a + 1))  # a day or amount in [a, b]
        self.out: list[tuple[Cmd, str | None]] = []
        self.last = self.start
        self._iso = [date.fromordinal(o).isoformat() for o in range(self.start, self.end + 1)]
        self._year = [date.fromordinal(o).year for o in range(self.start, self.end + 1)]
        # rule versions
        self._versions: dict[str, tuple[list[int], list[Programme]]] = {}
        for pid in book.programme_ids():
            vs = book.versions(pid)
            self._versions[pid] = ([v.effective_from.toordinal() for v in vs], vs)
        if "national" not in self._versions:
            raise ValueError("the policy book has no national programme")
        self._nat = [self.programme("national", o) for o in range(self.start, self.end + 1)]
        # the provinces whose programmes override the national one (实施细则): only their
        # enterprises ask the book for the national rules laid over by the overrides
        self._overridden = {owner.jurisdiction[:2] for owner, _ in book.overrides_of("national")}
        self._tiers: dict[tuple[int, str], Tier | None] = {}
        self._tier_start: dict[str, int | None] = {}
        self._deadline: dict[tuple[int, int], int] = {}
        # regions: cumulative weights
        self._prov_cum = list(accumulate(p.weight for p in PROVINCES))
        self._city_cum = {p.code: list(accumulate(c.weight for c in p.cities)) for p in PROVINCES}
        self._prov_offset = {p.code: _crc("province", p.code) % 15 for p in PROVINCES}
        self._city_offset = {c.code: _crc("city", c.code) % 10 for c in CITY_BY_CODE.values()}
        self._rounds: dict[str, list[_Round]] = {}
        self._round_ends: dict[str, list[int]] = {}
        self._actors: dict[tuple[str, str], dict[str, str]] = {}
        self.budget: dict[tuple[str, str, int], int] = {}
        self.ents: list[_Ent] = []
        self._recent: list[str] = []
        mul = 1 + _crc("mul", seed) % 400_000_000
        self._uscc_mul = mul + 1 if mul % 31 == 0 else mul  # coprime with 31**7: distinct enterprises, distinct codes
        self._uscc_add = _crc("add", seed) % (31 ** 7)
        # Indexed by the step codes that push() schedules; each takes the day, the enterprise, its argument.
        self.handlers: list[Callable[[int, _Ent, Any], None]] = [
            self._h_try, self._h_recommend, self._h_assess, self._h_notice, self._h_approve,
            self._h_reject, self._h_withdraw, self._h_object, self._h_resolve, self._h_review,
            self._h_revoke, self._h_file, self._h_change, self._h_reconfirm, self._h_grant,
            self._h_clawback, self._h_admit, self._h_remove, self._h_annul, self._h_fault,
            self._h_file_late, self._h_credit_off]
        self._by_uscc: dict[str, _Ent] = {}
        self._groups: dict[str, dict[str, list[list[int | None]]]] = {}  # parent -> member -> [since, until]

    # ------------------------------------------------------------------ plumbing
    def iso(self, o: int) -> str:
        k = o - self.start
        if 0 <= k < len(self._iso):
            return self._iso[k]
        return date.fromordinal(o).isoformat()

    def year(self, o: int) -> int:
        k = o - self.start
        if 0 <= k < len(self._year):
            return self._year[k]
        return date.fromordinal(o).year

    def push(self, o: int, handler: int, ent: Any, arg: Any = None) -> bool:
        if _WORKDAY[handler]:  # authorities act on working days: a weekend step moves to Monday
            wd = (o - 1) % 7  # date.fromordinal(1) is a Monday
            if wd >= 5:
                o += 7 - wd
        if o > self.end:
            return False
        if o < self.last:
            raise AssertionError(f"scheduling into the past: {o} < {self.last}")
        k = o - self.start
        day = self.days[k]
        if day is None:
            self.days[k] = [(handler, ent, arg)]
        else:
            day.append((handler, ent, arg))
        return True

    def emit(self, o: int, name: str, actor: dict[str, str], expect: str | None = None, /, **fields: Any) -> None:
        self.n += 1
        cmd: Cmd = {"command": name, "command_id": f"{self.prefix}{self.n:08d}", "occurred_on": self.iso(o),
                    "actor": actor}
        cmd.update(fields)
        self.out.append((cmd, expect))
        s = self.summary
        s.by_command[name] += 1
        if expect is not None:
            s.expected_refusals[expect] += 1

    def programme(self, pid: str, o: int) -> Programme | None:
        ords, vs = self._versions.get(pid, ((), ()))
        i = bisect_right(ords, o)  # type: ignore[arg-type]
        return vs[i - 1] if i else None

    def prog_of(self, tier: str, o: int, region: str | None = None) -> Programme | None:
        """The rule version in force on day ``o`` of the programme ``tier`` belongs to (for an
        enterprise in ``region``: with the overrides in force there, see :meth:`nat`)."""
        pid = PROGRAMME_OF[tier]
        return self.nat(o, region) if pid == "national" else self.programme(pid, o)

    def nat(self, o: int, region: str | None = None) -> Programme | None:
        """The national rule version in force on day ``o``; for an enterprise in ``region``,
        with the overrides in force there laid over it (the ledger's ``PolicyBook.overlaid``)."""
        k = o - self.start
        prog = self._nat[k] if 0 <= k < len(self._nat) else self.programme("national", o)
        if region is None or prog is None or region[:2] not in self._overridden:
            return prog
        return self.book.overlaid(prog, date.fromordinal(o), region)

    def tier(self, prog: Programme | None, tier: str) -> Tier | None:
        if prog is None:
            return None
        key = (id(prog), tier)
        try:
            return self._tiers[key]
        except KeyError:
            t = next((x for x in prog.tiers if x.id == tier), None)
            self._tiers[key] = t
            return t

    def deadline(self, prog: Programme, year: int) -> int:
        key = (id(prog), year)
        d = self._deadline.get(key)
        if d is None:
            m, dd = (int(x) for x in prog.yearly_data_deadline.split("-"))
            d = self._deadline[key] = date(year, m, dd).toordinal()
        return d

    def between(self, a: int, b: int) -> int:
        """A day in [a, b] (a when the range is empty)."""
        return a if b <= a else self.ri(a, b)

    # ------------------------------------------------------------------ authorities
    def actor(self, code: str, desk: str = "") -> dict[str, str]:
        key = (code, desk)
        a = self._actors.get(key)
        if a is None:
            if code == "000000":
                person = "工业和信息化部中小企业局"
            elif code[2:] == "0000":
                person = PROVINCE_BY_CODE[code].department
            elif code[4:] == "00":
                prov = PROVINCE_BY_CODE[code[:2] + "0000"]
                city = CITY_BY_CODE[code]
                if prov.municipality:
                    person = f"{prov.department}中小企业服务中心"
                elif code == "330100":
                    person = "杭州市经济和信息化局"
                else:
                    person = f"{city.name}市工业和信息化局"
            else:
                city = CITY_BY_CODE[code[:4] + "00"]
                person = f"{city.name}市{code}区县工业和信息化主管部门"
            a = self._actors[key] = {"authority": code, "person": person + desk}
        return a

    def authorities(self, o: int | None = None) -> Programme:
        """The national rule version that says who acts at which level on day ``o`` (default:
        the day being simulated): ``Programme.authority_for`` / ``authority_level`` / ``covers``,
        so a 计划单列市 decides for its own enterprises."""
        return self.nat(self.last if o is None else o) or self._versions["national"][1][-1]

    def level_code(self, level: str, region: str) -> str:
        return self.authorities().authority_for(level, region)

    def decider(self, tier: str, region: str) -> dict[str, str]:
        return self.actor(self.level_code(_LEVEL[tier], region))

    def assessor(self, t: Tier, region: str) -> dict[str, str]:
        """Who assesses an application for ``t``: its ``assessed_at`` level (创新型: the city)."""
        return self.actor(self.level_code(t.assessed_at.value, region))

    def noticer(self, t: Tier, region: str, desk: str = "") -> dict[str, str]:
        """Who holds the notice (公示) of ``t`` and resolves its objections: ``noticed_at``."""
        return self.actor(self.level_code(t.noticed_at.value, region), desk)

    def doc(self, code: str, year: int, what: str, kind: str = "发") -> str:
        n = 10 + _crc(code, year, what) % 290
        if code == "000000":
            prefix = "工信厅联企业函" if what.startswith("key") else "工信部企业函"
        elif code[2:] == "0000":
            prefix = PROVINCE_BY_CODE[code].doc_prefix
        else:
            prefix = f"{CITY_BY_CODE[code[:4] + '00'].name}工信{kind}"
        return f"{prefix}〔{year}〕{n}号"

    # ------------------------------------------------------------------ rounds
    def rounds(self, tier: str, prov: str) -> list[_Round]:
        key = f"{tier}:{prov}"
        rs = self._rounds.get(key)
        if rs is None:
            rs = []
            first_y, last_y = self.year(self.start), self.year(self.end)
            po = self._prov_offset[prov]
            provincial = _LEVEL[tier] == "provincial"
            for y in range(max(first_y, _FIRST_YEAR[tier]), last_y + 1):
                if tier == "specialized" and y == 2018:
                    plan = [("", (11, 27), (12, 3), (12, 6), (12, 17), (12, 18), (12, 27))]
                    off = 0
                elif tier == "innovative" and y == 2022:
                    plan = _ROUNDS[tier][1:]
                    off = po
                else:
                    plan = _ROUNDS[tier]
                    off = po
                for batch, *mds in plan:
                    days = [date(y, m, d).toordinal() for m, d in mds]
                    ws, we, rec, assess, notice, approve = days
                    if provincial:
                        ds = [x + off for x in days]
                    else:  # national decision: the provinces organise applications and recommendations
                        ds = [ws + off, we + off, rec + off, assess, notice, approve]
                    rs.append(_Round(tier, y, batch, ds))
            self._rounds[key] = rs
            self._round_ends[key] = [r.we for r in rs]
        return rs

    def next_round(self, tier: str, prov: str, after: int, skip: int = 0) -> _Round | None:
        """The round whose application window is still open after day ``after`` (+ ``skip`` rounds)."""
        rs = self.rounds(tier, prov)
        i = bisect_left(self._round_ends[f"{tier}:{prov}"], after + 3) + skip
        return rs[i] if i < len(rs) else None

    def plan_try(self, ent: _Ent, tier: str, after: int, attempt: int = 0, eager: bool = False,
                 fault: str | None = None) -> bool:
        """Schedule an application for ``tier`` in a coming round (waiting a geometric number
        of rounds unless ``eager``)."""
        if fault is None and ent.pend & _BIT[tier]:
            return False
        skip = 0
        if not eager:
            p = APPLY_P[tier]
            while self.rng.random() > p and skip < 8:
                skip += 1
        rnd = self.next_round(tier, ent.region[:2] + "0000", after, skip)
        if rnd is None:
            return False
        o = self.between(max(rnd.ws, after + 1), rnd.we)
        if o > self.end:
            return False
        if fault is None:
            ent.pend |= _BIT[tier]
            if attempt == 0 and tier in ("specialized", "innovative", "little_giant") and self.rng.random() < 0.3:
                self.plan_admission(ent, tier, after, o)
        self.push(o, 0, ent, (tier, attempt, rnd, fault))
        return True

    # ------------------------------------------------------------------ mirrored rules
    def matching_valid(self, ent: _Ent, tier: str, level: str | None, o: int) -> _App | None:
        for a in ent.apps.values():
            if a.tier == tier and (level is None or a.level == level) and a.valid_on(o):
                return a
        return None

    def check_apply(self, ent: _Ent, t: Tier | None, o: int, revenue_fen: int | None) -> str | None:
        if t is None:
            return "policy.unknown_tier"
        tid = t.id
        for a in ent.apps.values():
            if a.tier == tid:
                if a.status in OPEN:
                    return "apply.already_open"
                if a.status == "approved":
                    pending = o < a.valid_from and a.valid_on(a.valid_from)  # type: ignore[operator, arg-type]
                    if pending or a.valid_on(o):
                        return "apply.already_designated"
        if ent.revs:
            for r_tier, _, _, barred in ent.revs:
                if r_tier == tid and barred is not None and o < barred:
                    return "apply.cooling_off"
        for req in t.requires:
            if req.when_revenue_below_fen is not None and revenue_fen is not None \
                    and revenue_fen >= req.when_revenue_below_fen:
                continue
            if self.matching_valid(ent, req.tier, req.level, o) is None:
                return "ladder.prerequisite_missing"
        for req in t.excludes:
            if self.matching_valid(ent, req.tier, req.level, o) is not None:
                return "ladder.excluded"
        if ent.listed and t.excludes_listing(None):  # the generator reports no board: not known
            return "ladder.listed_excluded"
        return None

    def barred(self, ent: _Ent, t: Tier, o: int) -> bool:
        """Rule 6: a revocation for one of the tier's bar reasons within the bar years."""
        if not ent.revs:
            return False
        bar_from = add_years(date.fromordinal(o), -t.recommend_bar_years).toordinal()
        return any(reason in t.recommend_bar_reasons and bar_from < eff <= o for _, reason, eff, _ in ent.revs)

    def bar_ends(self, ent: _Ent, o: int) -> int:
        """The first day no revocation bars a recommendation (three years after the last)."""
        last = max((eff for _, reason, eff, _ in ent.revs or () if reason != "other"), default=None)
        return o if last is None else add_years(date.fromordinal(last), 3).toordinal() + 1

    def check_recommend(self, ent: _Ent, a: _App, t: Tier, level: str, o: int) -> str | None:
        if a.status not in ("applied", "recommended"):
            return "recommend.wrong_stage"
        if o < a.applied:
            return "order.backdated"
        if level not in t.recommend_levels:
            return "recommend.wrong_level"
        if level in a.recs:
            return "recommend.duplicate"
        if self.barred(ent, t, o):
            return "recommend.barred"
        for req in t.excludes:
            if self.matching_valid(ent, req.tier, req.level, o) is not None:
                return "ladder.excluded"
        if ent.listed and t.excludes_listing(None):  # listed since the application
            return "ladder.listed_excluded"
        # the bars (Tier.bars), in the tier's order; the 企业划型 test (not_sme) has no verdict
        # here: the generator declares no employees or assets with an application
        for bar in t.bars:
            if bar in CREDIT_LISTS:
                if ent.credit and credit_standing(ent.credit.get(bar, ()), date.fromordinal(o)) is not None:
                    return _BAR_CODES[bar]
            elif bar == "same_group" and similar_holder(ent.industry, ent.uscc,
                                                        self.group_holders(ent, t, o)) is not None:
                return "recommend.same_group"
        return None

    def group_holders(self, ent: _Ent, t: Tier, o: int) -> list[GroupHolder]:
        """services.handlers._group_holders on the twin: the other members of ent's group on
        day o (and the parent), and of the group ent is the parent of, holding tier t."""
        others: set[str] = set()
        for parent in (ent.group, ent.uscc):
            if parent is None:
                continue
            for member, spans in self._groups.get(parent, {}).items():
                if any(s <= o and (u is None or o < u) for s, u in spans):  # type: ignore[operator]
                    others.add(member)
            others.add(parent)
        others.discard(ent.uscc)
        holders: list[GroupHolder] = []
        for uscc in sorted(others):
            other = self._by_uscc.get(uscc)
            if other is None:
                continue
            holders.extend(GroupHolder(uscc=uscc, industry=other.industry, application_id=a.id,
                                       valid_until=date.fromordinal(a.valid_until))  # type: ignore[arg-type]
                           for a in other.apps.values() if a.tier == t.id and a.valid_on(o))
        return holders

    def check_decider(self, ent: _Ent, t: Tier, code: str, o: int) -> str | None:
        p = self.authorities(o)
        if p.authority_level(code) != t.deciding_level:
            return "authority.wrong_level"
        if not p.covers(code, ent.region):
            return "authority.not_covering"
        return None

    def check_approve(self, ent: _Ent, a: _App, t: Tier, code: str, o: int, document: str) -> str | None:
        wrong = self.check_decider(ent, t, code, o)
        if wrong:
            return wrong
        if any(lv.value not in a.recs for lv in t.recommend_levels):
            return "approve.not_recommended"
        if a.status != "noticed" or not a.passed or a.notice_until is None:
            return "approve.no_notice"
        if o < a.notice_until:
            return "approve.notice_open"
        if a.objections:
            if any(s == "open" for s in a.objections.values()):
                return "approve.objection_open"
            if any(s == "upheld" for s in a.objections.values()):
                return "approve.objection_upheld"
        if not document:
            return "approve.no_document"
        return None

    def check_review(self, ent: _Ent, a: _App, prog: Programme, t: Tier, o: int) -> str | None:
        if a.status != "approved" or a.valid_until is None or a.replaced_by is not None:
            return "review.not_designated"
        if not a.valid_on(o):
            return "review.not_valid"
        if o < a.valid_until - t.review_window_days:
            return "review.outside_window"
        if a.review_failed or a.reviewed_until == a.valid_until:
            return "review.duplicate"
        data_year = prog.data_year_on(date.fromordinal(o))
        if not ent.has_filed(data_year):
            return "review.yearly_data_missing"
        start: int = a.reviewed_until if a.reviews and a.reviewed_until else a.valid_from  # type: ignore[assignment]
        # rules 5 and 7 as the ledger judges them (domain.policy.Programme)
        if ent.late and prog.late_years_forfeiting(ent.late_years(), date.fromordinal(start), date.fromordinal(o)):
            return "review.yearly_data_late"
        if ent.changes and any(reported >= start and prog.change_forfeits_review(kind, late, forfeits)
                               for reported, late, kind, forfeits in ent.changes):
            return "review.change_report_late"
        return None

    def check_grant(self, ent: _Ent, prog: Programme, scheme: Scheme, o: int, amount: int, tranche: int | None,
                    loan: int | None, lpr: int | None, days: int | None,
                    document: str, product: str | None = None,
                    loan_id: str | None = None) -> tuple[str | None, _App | None]:
        """Rule 8 on the enterprise, and the scheme's yearly budget (its fund's, if a fund pays
        it).  A grant that breaks both is ``"ambiguous"`` (which refusal comes first is the
        service's order of checks) and is never sent."""
        code, basis = self._check_grant_enterprise(ent, prog, scheme, o, amount, tranche, loan, lpr, days, document)
        if code not in ("reward.outside_region", "reward.no_valid_designation", "reward.renewal_not_paid"):
            # the facts come after the designation, before tranches, caps and once-per-scheme (domain order)
            code = self._check_grant_facts(ent, scheme, o, amount, product, loan_id) or code
        over = None
        key, budget_fen = prog.budget_of(scheme)
        if budget_fen is not None:
            spent = self.budget.get((prog.id, key, self.year(o)), 0)
            if amount > budget_fen - spent:
                over = "reward.over_budget"
        if code is not None and over is not None:
            return "ambiguous", basis
        return code or over, basis

    def _check_grant_enterprise(self, ent: _Ent, prog: Programme, scheme: Scheme, o: int, amount: int,
                                tranche: int | None, loan: int | None, lpr: int | None, days: int | None,
                                document: str) -> tuple[str | None, _App | None]:
        regions = scheme.regions or [scheme.granted_by]
        if not any(_covers(r, ent.region) for r in regions):
            return "reward.outside_region", None
        basis = None
        if scheme.requires:
            for req in scheme.requires:
                basis = self.matching_valid(ent, req.tier, req.level, o)
                if basis is not None:
                    break
            if basis is None:
                return "reward.no_valid_designation", None
            if not scheme.pays_for_renewal and basis.first_until is not None and o >= basis.first_until:
                return "reward.renewal_not_paid", basis
        earlier = [r for r in (ent.rewards or {}).values()
                   if r.programme == prog.id and r.scheme == scheme.id and r.clawed < r.amount]
        cap = scheme.cap_for(ent.region)
        if scheme.kind == "tranches":
            if tranche is None or not 1 <= tranche <= len(scheme.tranches):
                return "reward.tranche_required", basis
            paid = {r.tranche for r in earlier}
            if tranche in paid:
                return "reward.tranche_paid", basis
            if tranche > 1 and tranche - 1 not in paid:
                return "reward.tranche_order", basis
            if scheme.tranches[tranche - 1].after_review and not document:
                return "reward.review_document", basis
            cap = cap * scheme.tranches[tranche - 1].share_bp // 10000
        elif tranche is not None:
            return "reward.no_tranches", basis
        if scheme.kind == "interest_subsidy":
            assert scheme.loan_cap_fen is not None and scheme.subsidy_ratio_bp is not None
            assert loan is not None and lpr is not None and days is not None
            y = self.year(o)
            loans = sum(r.loan or 0 for r in earlier if self.year(r.granted) == y)
            left = scheme.loan_cap_fen - loans
            if left <= 0:
                return "reward.loan_cap_reached", basis
            formula = min(loan, left) * lpr * scheme.subsidy_ratio_bp * min(days, 366) // (10000 * 10000 * 365)
            cap = min(cap, formula) if cap else formula
            year_paid = sum(r.amount - r.clawed for r in earlier if self.year(r.granted) == y)
            if year_paid + amount > (scheme.cap_fen or amount):
                return "reward.over_cap", basis
        elif scheme.once_per_enterprise and scheme.kind in ("one_time", "per_item") and earlier:
            return "reward.once_per_scheme", basis
        if amount > cap:
            return "reward.over_cap", basis
        return None, basis

    def _check_grant_facts(self, ent: _Ent, scheme: Scheme, o: int, amount: int, product: str | None,
                           loan_id: str | None) -> str | None:
        """The facts a reward rests on (a product's recognition, a loan repaid on time), as
        the generator recorded them."""
        if scheme.recognition is not None:
            level = self.recognised.get((ent.uscc, product or ""))
            if level is None:
                return "reward.not_recognised"
            if level != scheme.recognition_level:
                return "reward.recognition_level"
        if scheme.kind == "guarantee_fee_subsidy":
            loan = self.loans.get((ent.uscc, loan_id or ""))
            if loan is None:
                return "loan.not_found"
            principal, fee, drawn, due, repaid = loan
            if repaid > due:
                return "reward.repaid_late"
            if amount > scheme.guarantee_fee_formula(principal_fen=principal, fee_fen=fee, days=repaid - drawn):
                return "reward.over_formula"
            y = self.year(o)
            paid = sum(r.amount - r.clawed for r in (ent.rewards or {}).values()
                       if r.scheme == scheme.id and self.year(r.granted) == y)
            if scheme.enterprise_yearly_cap_fen is not None and paid + amount > scheme.enterprise_yearly_cap_fen:
                return "reward.over_cap"
        return None

    def _money_year(self, ent: _Ent, o: int, y: int) -> None:
        """The facts money rests on, once a year at the filing: Hangzhou tags designated
        enterprises on Zhejiang's industrial chains and the province recognises 首台套 products,
        which the city rewards; Dalian's guaranteed loans, repaid (mostly on time), earn the
        guarantee-fee subsidy from the city's special fund."""
        m = self.money
        if ent.region.startswith("3301") and self._valid_any(ent, o):
            prog = self.programme("zhejiang", o)
            if prog is None:
                return
            if prog.chains and ent.uscc not in self.tagged and m.random() < 0.05:
                chain = prog.chains[_crc("chain", ent.industry) % len(prog.chains)]
                self.emit(o, "tag_chain", self.actor("330100"), uscc=ent.uscc, programme=prog.id, chain=chain.id,
                          document=f"杭经信〔{y}〕{10 + _crc('chain', y) % 80}号（一链一策一批融资促进名单）")
                self.tagged.add(ent.uscc)
            if prog.recognitions and m.random() < 0.01:
                rec = prog.recognitions[0]
                level = rec.levels[int(m.random() * len(rec.levels))]
                scheme = next((s for s in prog.schemes if s.recognition == rec.id and s.recognition_level == level),
                              None)
                product = f"EQ-{y}-{ent.i}"
                self.emit(o, "recognise_product", self.actor(rec.recognised_by[0]), uscc=ent.uscc,
                          programme=prog.id, recognition=rec.id, product_id=product,
                          product_name=f"{ent.brand}首台（套）装备", level=level,
                          document=f"浙经信装备〔{y}〕{1 + _crc('stt', y) % 30}号")
                self.recognised[(ent.uscc, product)] = level
                if scheme is not None:
                    amount = scheme.cap_fen * (30 + int(m.random() * 71)) // 100
                    fields = {"uscc": ent.uscc, "reward_id": f"m-stt-{y}-{ent.i}", "programme": prog.id,
                              "scheme": scheme.id, "amount_fen": amount, "product_id": product}
                    self._try_grant(o, ent, prog, scheme, fields, f"杭经信联〔{y}〕{10 + _crc('stt', y) % 80}号",
                                    deliberate=False, rng=m)
        elif ent.region.startswith("2102"):
            prog = self.programme("dalian", o)
            scheme = next((s for s in prog.schemes if s.kind == "guarantee_fee_subsidy"), None) if prog else None
            if prog is None or scheme is None or m.random() >= 0.08:
                return
            if not any(self.matching_valid(ent, r.tier, r.level, o) for r in scheme.requires):
                return
            dl = self.actor(scheme.granted_by)
            loan_id = f"db-{y}-{ent.i}"
            principal = (1 + int(m.random() * 10)) * 100_000_000  # 1 to 10 million CNY
            rate = (100, 120, 150)[int(m.random() * 3)]
            drawn = o - 200 - int(m.random() * 130)
            due = drawn + 180
            late = m.random() < 0.1
            repaid = due + 5 + int(m.random() * 15) if late else due - int(m.random() * 10)
            fee = principal * rate * 180 // (10000 * 365)
            self.emit(o, "record_loan", dl, uscc=ent.uscc, loan_id=loan_id, lender="大连银行",
                      guarantor="大连市融资担保集团有限公司", principal_fen=principal, drawn_on=self.iso(drawn),
                      due_on=self.iso(due), guarantee_fee_fen=fee, guarantee_fee_rate_bp=rate,
                      document="大连市中小企业融资担保业务备案")
            self.emit(o, "record_repayment", dl, uscc=ent.uscc, loan_id=loan_id, repaid_on=self.iso(repaid),
                      document="贷款结清证明（担保机构报送）")
            self.loans[(ent.uscc, loan_id)] = (principal, fee, drawn, due, repaid)
            amount = min(scheme.cap_fen, scheme.guarantee_fee_formula(principal_fen=principal, fee_fen=fee,
                                                                      days=repaid - drawn))
            fields = {"uscc": ent.uscc, "reward_id": f"m-dbf-{y}-{ent.i}", "programme": prog.id,
                      "scheme": scheme.id, "amount_fen": amount, "loan_id": loan_id}
            self._try_grant(o, ent, prog, scheme, fields, f"大工信发〔{y}〕{10 + _crc('dbf', y) % 80}号",
                            deliberate=late, rng=m)

    # ------------------------------------------------------------------ registration
    def registration_days(self) -> list[int]:
        """Registration days of all enterprises, sorted, by :data:`REGISTRATION_WEIGHTS`: the
        provincial lists' enterprises from the start, more once the national programme runs
        (from 2019), the most with 创新型 (2022), few newcomers after 2023."""
        years = list(range(self.year(self.start), self.year(self.end) + 1))
        weights = [registration_weight(y) for y in years]
        cum = list(accumulate(weights))
        rng = self.rng
        out = []
        for _ in range(self.N):
            y = years[bisect_right(cum, rng.random() * cum[-1])]
            first = max(date(y, 1, 1).toordinal(), self.start)
            last = min(date(y, 12, 31).toordinal(), self.end)
            out.append(self.ri(first, last))
        out.sort()
        return out

    def uscc_for(self, i: int, county: str) -> str:
        if i % 4 == 3:  # an older enterprise: a nine-digit organisation code in characters 9-17
            body = f"{(i * 7919 + self._uscc_add) % 100_000_000:08d}{(i * 31 + 7) % 10}"
        else:
            v = (i * self._uscc_mul + self._uscc_add) % (31 ** 7)
            chars = []
            for _ in range(7):
                v, r = divmod(v, 31)
                chars.append(USCC_ALPHABET[r])
            body = "MA" + "".join(reversed(chars))
        return make_uscc(f"91{county}{body}")

    def _register(self, o: int, i: int) -> None:
        rng = self.rng
        prov = PROVINCES[bisect_right(self._prov_cum, rng.random() * self._prov_cum[-1])]
        cum = self._city_cum[prov.code]
        city = prov.cities[bisect_right(cum, rng.random() * cum[-1])]
        county = city.counties[int(rng.random() * len(city.counties))]
        e = _Ent()
        e.i = i
        e.region = county
        e.reg = o
        e.q = q = rng.random()
        code, words = INDUSTRIES[int(rng.random() * len(INDUSTRIES))]
        e.industry = code
        e.word = words[int(rng.random() * len(words))]
        e.place = city.name if rng.random() < 0.7 else prov.short
        e.brand = BRAND_CHARS[int(rng.random() * len(BRAND_CHARS))] + BRAND_CHARS[int(rng.random() * len(BRAND_CHARS))]
        r = rng.random()
        e.suffix = ("股份有限公司" if r < 0.2 or q > 0.97
                    else "科技有限公司" if r < 0.35 and "科技" not in e.word else "有限公司")
        e.name = f"{e.place}{e.brand}{e.word}{e.suffix}"
        e.revenue = int((600 + 3000 * q + 70000 * q ** 12) * (0.6 + 0.8 * rng.random()))  # 万元
        e.listed = q > 0.95 and rng.random() < 0.12
        e.hnte = rng.random() < 0.15 + 0.5 * q
        e.uscc = self.uscc_for(i, county)
        self.ents.append(e)
        self._by_uscc[e.uscc] = e
        self.summary.by_province[prov.code] += 1
        self._recent.append(e.uscc)
        if len(self._recent) > 512:
            del self._recent[:256]
        city_code = county[:4] + "00"
        self.emit(o, "register", self.actor(city_code, "（梯度培育服务平台）"), uscc=e.uscc, name=e.name,
                  region=county, industry=code, listed=e.listed, document="梯度培育服务平台注册登记")
        if rng.random() < 0.002 * FAULT:
            self.push(o + self.ri(20, 400), 19, e, ("register_again", None))
        # ambitions
        if q >= Q_INNOVATIVE:
            inn_from = self.tier_start("innovative")
            if inn_from is not None:
                if o < inn_from - 60 and q >= 0.5 and rng.random() < 0.004 * FAULT:
                    # an application under rules that do not know 创新型 yet
                    bad = self.between(max(o + 20, date(2019, 1, 2).toordinal()), inn_from - 20)
                    if bad < inn_from - 1:
                        self.push(bad, 19, e, ("unknown_tier", None))
                self.plan_try(e, "innovative", max(o + 20, inn_from))
        if q >= Q_SPECIALIZED:
            self.plan_try(e, "specialized", o + 40)
        if q >= Q_CHAMPION and e.revenue * 1_000_000 >= 40_000_000_000:
            self.plan_try(e, "single_champion", o + 60)
        self.push(o + 30 + int(rng.expovariate(CHANGE_RATE) * 365), 12, e)

    def tier_start(self, tier: str) -> int | None:
        if tier not in self._tier_start:
            ords, vs = self._versions.get(PROGRAMME_OF[tier], ([], []))
            self._tier_start[tier] = next((eff for eff, v in zip(ords, vs) if any(t.id == tier for t in v.tiers)),
                                          None)
        return self._tier_start[tier]

    # ------------------------------------------------------------------ applications
    def _h_try(self, o: int, ent: _Ent, arg: tuple[str, int, _Round, str | None]) -> None:
        tier, attempt, rnd, fault = arg
        rng = self.rng
        if fault is None:
            ent.pend &= ~_BIT[tier]
        prog = self.prog_of(tier, o, ent.region)
        t = self.tier(prog, tier)
        revenue_fen = ent.revenue * 1_000_000 if tier == "single_champion" else None
        code = self.check_apply(ent, t, o, revenue_fen)
        if fault is not None:
            if code is not None:
                app_id = ent.next_id(_APP_PREFIX[tier], self.year(o))
                self.emit(o, "apply", ent.self_actor(), code, uscc=ent.uscc, application_id=app_id,
                          programme=PROGRAMME_OF[tier], tier=tier)
            return
        assert t is not None and prog is not None
        if code is not None:
            if code == "ladder.prerequisite_missing" and tier == "specialized":
                # the 2026 rules: 专精特新 needs a valid 创新型 first
                if rng.random() < 0.08 * FAULT:
                    app_id = ent.next_id(_APP_PREFIX[tier], self.year(o))
                    self.emit(o, "apply", ent.self_actor(), code, uscc=ent.uscc, application_id=app_id,
                              programme="national", tier=tier)
                self.plan_try(ent, "innovative", o, eager=True)
                self.plan_try(ent, "specialized", o + 200, attempt)
            elif code == "apply.cooling_off":
                barred = max(b for tr, _, _, b in ent.revs or () if tr == tier and b is not None)
                if rng.random() < REAPPLY_P[tier]:
                    self.plan_try(ent, tier, barred, attempt + 1)
            return
        if self.barred(ent, t, rnd.rec):
            # a revocation bars recommendations for three years: wait
            if rng.random() < REAPPLY_P[tier]:
                self.plan_try(ent, tier, self.bar_ends(ent, o), attempt + 1)
            return
        app_id = ent.next_id(_APP_PREFIX[tier], rnd.year) + (rnd.batch if tier == "innovative" else "")
        a = _App(app_id, tier, o, rnd)
        ent.apps[app_id] = a
        fields: dict[str, Any] = {"uscc": ent.uscc, "application_id": app_id, "programme": PROGRAMME_OF[tier],
                                  "tier": tier}
        if revenue_fen is not None:
            fields["declared_revenue_fen"] = revenue_fen
        self.emit(o, "apply", ent.self_actor(), **fields)
        level = t.recommend_levels[0].value if t.recommend_levels else None
        rec = rnd.rec + (self._city_offset[ent.region[:4] + "00"] if level == "municipal" else 0)
        rec = max(rec, o + 1)
        u = rng.random()
        if u < 0.015 and rec - o > 3:
            self.push(self.between(o + 2, rec - 1), 6, ent, a)
            return
        if u < 0.045:
            self.push(rec, 5, ent, (a, "recommender", "经审核，不符合推荐条件"))
            return
        if rec - o > 3 and rng.random() < 0.004 * FAULT:
            self.push(self.between(o + 1, rec - 1), 19, ent, ("assess_early", a))
        if level == "municipal" and rng.random() < 0.003 * FAULT:
            self.push(rec, 19, ent, ("county_recommends", a))
        self.push(rec, 1, ent, a)
        if tier == "specialized" and ent.q >= Q_LITTLE_GIANT and rng.random() < 0.01 * FAULT:
            # a little giant application before the 专精特新 designation came through
            lg = self.next_round("little_giant", ent.region[:2] + "0000", o)
            if lg is not None:
                self.push(self.between(max(lg.ws, o + 1), lg.we), 0, ent,
                          ("little_giant", 0, lg, "ladder.prerequisite_missing"))

    def _h_recommend(self, o: int, ent: _Ent, a: _App) -> None:
        if a.status != "applied":
            return
        prog = self.prog_of(a.tier, o, ent.region)
        t = self.tier(prog, a.tier)
        assert t is not None
        level = t.recommend_levels[0].value
        code = self.check_recommend(ent, a, t, level, o)
        actor = self.actor(self.level_code(level, ent.region))
        if code is not None:
            self.emit(o, "recommend", actor, code, uscc=ent.uscc, application_id=a.id,
                      document=self.doc(actor["authority"], self.year(o), a.rnd.key + "rec"))
            self.push(o + self.ri(1, 10), 5, ent,
                      (a, "recommender", _REJECT_REASON.get(code, "近三年内发生撤销认定情形，不予推荐")))
            return
        self.emit(o, "recommend", actor, uscc=ent.uscc, application_id=a.id,
                  document=self.doc(actor["authority"], self.year(o), a.rnd.key + "rec"))
        a.recs = a.recs + (level,)
        a.status = "recommended"
        self.push(max(a.rnd.assess, o + 1), 2, ent, a)

    def _yearly_body(self, ent: _Ent, t: Tier, good: bool, last: int, years: list[int]) -> dict[str, Any] | None:
        """The figures of a rule version that reads more than the last data year (the 2026
        专精特新 and 小巨人 criteria): the last year's ``indicators``, the years before it as
        ``yearly_indicators``, every indicator the criteria read for each year they read it,
        so the enterprise's filed yearly data are overridden and never decide the outcome.
        None for a version that reads the last year only (the history before 2026 keeps its
        draws)."""
        if len(years) == 1 or t.id not in ("specialized", "little_giant"):
            return None
        ri = self.ri
        revenue = ent.revenue * 1_000_000
        lg = t.id == "little_giant"
        revenue = max(revenue, (8_000_000_000 + ri(0, 12_000_000_000)) if lg else 1_600_000_000 + ri(0, 800_000_000))
        # revenue grows 6-15 % a year (little giants: the 2026 growth criterion's 5 %)
        revenues = {last: revenue}
        for y in range(last - 1, years[0] - 1, -1):
            revenues[y] = revenues[y + 1] * 10000 // (10000 + ri(600, 1500))
        short = ri(0, 1) if not good and not lg else None  # a failing 专精特新: R&D short in one of the two years
        yearly: dict[int, dict[str, int]] = {}
        for y in years:
            rev = revenues[y]
            if y < last - 1:  # growth's base year: revenue only
                yearly[y] = {"revenue_fen": rev}
                continue
            ratio = ri(120, 290) if short == last - y else ri(450, 1000) if lg else ri(320, 1200)
            rd = rev * ratio // 10000
            if ratio >= 300:
                rd = max(rd, 620_000_000 + ri(0, 200_000_000)) if lg else max(rd, 100_000_000 + ri(0, 50_000_000))
            yearly[y] = {"revenue_fen": rev, "rd_expense_fen": rd, "rd_ratio_bp": rd * 10000 // rev}
        indicators = yearly.pop(last)
        if lg:
            indicators.update({
                "niche_years": ri(5, 25), "main_business_bp": ri(9100, 9900),
                "debt_ratio_bp": ri(2000, 7000) if good else ri(7600, 8500),
                "national_share_bp": ri(1000, 4500) if good else ri(300, 980),
                "class1_ip_count": ri(4, 20), "key_link": 1})
            score = ri(70, 98)
        else:
            indicators.update({"niche_years": ri(3, 18), "main_business_bp": ri(8100, 9900),
                               "debt_ratio_bp": ri(2000, 6800), "class1_ip_count": ri(1, 8)})
            score = ri(55, 95) if good else ri(40, 72)
        return {"score": score, "indicators": indicators, "yearly_indicators": {str(y): v for y, v in yearly.items()}}

    def _indicators(self, ent: _Ent, tier: str, good: bool, t: Tier | None = None,
                    o: int | None = None) -> dict[str, Any]:
        if t is not None and o is not None:
            last = last_data_year(date.fromordinal(o))
            body = self._yearly_body(ent, t, good, last, t.assessment.data_years(last))
            if body is not None:
                return body
        rng = self.rng
        revenue_fen = ent.revenue * 1_000_000
        if tier == "innovative":
            if good:
                comps = {"innovation": self.ri(22, 38), "growth": self.ri(16, 28),
                         "specialization": self.ri(16, 28)}
                while sum(comps.values()) < 62:
                    comps["innovation"] += 2
            else:
                comps = {"innovation": self.ri(10, 19), "growth": self.ri(12, 24),
                         "specialization": self.ri(12, 24)}
            out: dict[str, Any] = {"score": sum(comps.values()), "components": comps,
                                   "indicators": {"revenue_fen": revenue_fen, "rd_ratio_bp": self.ri(150, 900)}}
            if not good and ent.hnte and rng.random() < 0.1:
                out["direct_pass"] = ["hnte"]
            return out
        if tier == "specialized":
            revenue_fen = max(revenue_fen, 1_600_000_000 + self.ri(0, 800_000_000))
            ratio = self.ri(320, 1200) if good else self.ri(120, 290)
            rd = max(revenue_fen * ratio // 10000, 100_000_000 + self.ri(0, 50_000_000)) if good \
                else revenue_fen * ratio // 10000
            return {"score": self.ri(62, 95) if good else self.ri(45, 72), "indicators": {
                "niche_years": self.ri(3, 18), "rd_expense_fen": rd, "rd_ratio_bp": rd * 10000 // revenue_fen,
                "revenue_fen": revenue_fen, "main_business_bp": self.ri(8100, 9900),
                "debt_ratio_bp": self.ri(2000, 6800)}}
        if tier == "little_giant":
            return {"score": self.ri(70, 98), "indicators": {
                "niche_years": self.ri(5, 25), "main_business_bp": self.ri(8000, 9900),
                "debt_ratio_bp": self.ri(2000, 6800) if good else self.ri(7100, 8500),
                "national_share_bp": self.ri(1000, 4500) if good else self.ri(300, 980),
                "revenue_fen": revenue_fen}}
        if tier == "single_champion":
            # the champion programme's conditions (champion-2016.toml, champion-2023.toml): the
            # niche, the global rank, the product's share of revenue (2016) and the main revenue,
            # whose three-year average the 2023 measures judge on the years the assessment reads
            out = {"score": self.ri(75, 98), "indicators": {
                "niche_years": self.ri(10, 30), "global_rank": self.ri(1, 3),
                "product_revenue_bp": self.ri(7000, 9800), "main_revenue_fen": revenue_fen,
                "revenue_fen": revenue_fen}}
            if t is not None and o is not None:  # 2023: the years before the last (no draw: earlier rounds keep theirs)
                last = last_data_year(date.fromordinal(o))
                before = [y for y in t.assessment.data_years(last) if y < last]
                if before:
                    out["yearly_indicators"] = {
                        str(y): {"main_revenue_fen": revenue_fen * (100 - 3 * (last - y)) // 100} for y in before}
            return out
        return {"score": self.ri(75, 98), "indicators": {
            "revenue_fen": revenue_fen, "national_share_bp": self.ri(1500, 6000)}}

    _PASS = {"innovative": 0.86, "specialized": 0.66, "little_giant": 0.55}
    _SELECT = {"key_little_giant": 0.6, "single_champion": 0.5}
    _FAIL_REASON = {"innovative": "评价得分或创新能力得分未达到标准",
                    "specialized": "研发费用占营业收入比重未达到3%",
                    "little_giant": "主导产品全国细分市场占有率或资产负债率未达到标准"}

    def _h_assess(self, o: int, ent: _Ent, a: _App) -> None:
        if a.status != "recommended":
            return
        rng = self.rng
        prog = self.prog_of(a.tier, o, ent.region)
        t = self.tier(prog, a.tier)
        assert t is not None and prog is not None
        base = PASS_BY_YEAR.get(a.tier, {}).get(a.rnd.year, self._PASS.get(a.tier))
        good = True if base is None else rng.random() < base + 0.1 * (ent.q - 0.5)
        body = self._indicators(ent, a.tier, good, t, o)
        last = last_data_year(date.fromordinal(o))
        years = t.assessment.data_years(last)
        # the ledger's yearly data (filed, then the command's): the command gives every figure read
        yearly = merge_yearly({}, _by_year(body.get("yearly_indicators")), body["indicators"], last, years)
        failures = t.assessment.judge(body.get("score"), body.get("components", {}), body["indicators"],
                                      body.get("direct_pass", []), yearly=yearly, last_year=last)
        a.passed = not failures
        a.status = "assessed"
        actor = self.assessor(t, ent.region)
        self.emit(o, "assess", actor, uscc=ent.uscc, application_id=a.id, document=f"{t.name}专家评审意见", **body)
        if not a.passed:
            if rng.random() < 0.02 * FAULT:
                self.push(o + self.ri(1, 4), 19, ent, ("notice_failed", a))
            self.push(o + self.ri(6, 25), 5, ent, (a, "decider", self._FAIL_REASON.get(a.tier, "未达到认定标准")))
            return
        if a.tier in self._SELECT and rng.random() > self._SELECT[a.tier]:
            self.push(o + self.ri(5, 20), 5, ent, (a, "decider", "未列入本批次名单"))
            return
        self.push(max(a.rnd.notice, o + 1), 3, ent, a)

    def notice_title(self, a: _App, t: Tier, region: str) -> str:
        y = a.rnd.year
        if a.tier == "little_giant":
            return f"第{_cn(y - 2018)}批专精特新“小巨人”企业名单公示"
        if a.tier == "key_little_giant":
            return f"第{_cn(y - 2020)}批重点支持“小巨人”企业名单公示"
        if a.tier == "single_champion":
            return f"第{_cn(y - 2015)}批制造业单项冠军企业名单公示"
        prov = PROVINCE_BY_CODE[region[:2] + "0000"]
        batch = {"a": "第一批", "b": "第二批" if y != 2022 else "第一批"}.get(a.rnd.batch, "")
        verb = "拟公告" if a.tier == "innovative" else "拟认定"
        city = CITY_BY_CODE.get(region[:4] + "00")
        # who holds the notice names it: the city where the tier is noticed at municipal level (创新型, 63号)
        issuer = f"{city.name}市" if t.noticed_at == "municipal" and city and not prov.municipality else prov.name
        return f"{issuer}{y}年{batch}{t.name}{verb}名单公示"

    def _h_notice(self, o: int, ent: _Ent, a: _App) -> None:
        if a.status != "assessed" or not a.passed:
            return
        rng = self.rng
        prog = self.prog_of(a.tier, o, ent.region)
        t = self.tier(prog, a.tier)
        assert t is not None
        try:  # the one home of the notice's end (domain.workdays), as open_notice computes it
            until = notice_end(date.fromordinal(o), t.notice_days, t.notice_day_kind).toordinal()
        except RuleViolation as err:  # working days beyond the calendar's years: refused; the decider turns it down
            self.emit(o, "open_notice", self.noticer(t, ent.region), err.code, uscc=ent.uscc, application_id=a.id,
                      document=self.notice_title(a, t, ent.region))
            self.push(o + 1, 5, ent, (a, "decider", "公示期超出工作日历所载年份，退回待下一批次"))
            return
        self.emit(o, "open_notice", self.noticer(t, ent.region), uscc=ent.uscc, application_id=a.id,
                  document=self.notice_title(a, t, ent.region))
        a.status = "noticed"
        a.notice_until = until
        approve = max(a.rnd.approve, until)
        if t.notice_days > 1 and rng.random() < 0.012:
            # an objection during the notice period
            self.push(o + self.ri(1, t.notice_days - 1), 7, ent, (a, approve))
            return
        if t.notice_days > 1 and rng.random() < 0.006 * FAULT:
            self.push(o + self.ri(1, t.notice_days - 1), 19, ent, ("approve_early", a))
        f = rng.random()
        if f < 0.008 * FAULT:
            self.push(approve, 19, ent, ("approve_wrong_level", a))
        elif f < 0.012 * FAULT and _LEVEL[a.tier] == "provincial":
            self.push(approve, 19, ent, ("approve_not_covering", a))
        elif f < 0.014 * FAULT:
            self.push(approve, 19, ent, ("approve_no_document", a))
        self.push(approve, 4, ent, a)

    def _h_object(self, o: int, ent: _Ent, arg: tuple[_App, int]) -> None:
        a, approve = arg
        if a.status != "noticed":
            return
        rng = self.rng
        oid = f"yy-{self.year(o)}-{ent.n + 1}"
        ent.n += 1
        t = self.tier(self.prog_of(a.tier, o, ent.region), a.tier)
        assert t is not None
        self.emit(o, "object", self.noticer(t, ent.region, "公示异议受理窗口"), uscc=ent.uscc, application_id=a.id,
                  objection_id=oid, grounds=rng.choice(("实名反映：企业申报的研发人员数量与社保缴纳人数不符",
                                                         "实名反映：企业申报的知识产权存在权属纠纷",
                                                         "实名反映：企业上年度存在环保行政处罚未披露",
                                                         "实名反映：主导产品市场占有率数据来源不实")))
        if a.objections is None:
            a.objections = {}
        a.objections[oid] = "open"
        resolve = max(o + self.ri(3, 12), a.notice_until)  # type: ignore[type-var]
        if rng.random() < 0.3 * FAULT:
            # the approval is attempted while the objection is still open
            self.push(max(a.notice_until, o + 1), 19, ent, ("approve_objection_open", a))  # type: ignore[type-var, arg-type]
            resolve = max(resolve, a.notice_until + 2)  # type: ignore[operator]
        self.push(resolve, 8, ent, (a, oid, approve))

    def _h_resolve(self, o: int, ent: _Ent, arg: tuple[_App, str, int]) -> None:
        a, oid, approve = arg
        upheld = self.rng.random() < 0.3
        t = self.tier(self.prog_of(a.tier, o, ent.region), a.tier)
        assert t is not None
        actor = self.noticer(t, ent.region)
        self.emit(o, "resolve_objection", actor, uscc=ent.uscc, application_id=a.id, objection_id=oid,
                  upheld=upheld, document=self.doc(actor["authority"], self.year(o), f"objection{a.id}{ent.i}", "函")
                  + ("（异议核查属实）" if upheld else "（异议核查：反映不实）"))
        a.objections[oid] = "upheld" if upheld else "dismissed"  # type: ignore[index]
        if upheld:
            self.push(o + self.ri(1, 5), 5, ent, (a, "decider", "公示期异议经核查属实"))
        else:
            self.push(max(approve, o + 1), 4, ent, a)

    def _approval_doc(self, a: _App, region: str, o: int) -> str:
        code = self.level_code(_LEVEL[a.tier], region)
        what = ("key" if a.tier == "key_little_giant" else "") + a.rnd.key + (code if code != "000000" else "")
        return self.doc(code, self.year(o), what)

    def _h_approve(self, o: int, ent: _Ent, a: _App) -> None:
        prog = self.prog_of(a.tier, o, ent.region)
        t = self.tier(prog, a.tier)
        assert t is not None
        actor = self.decider(a.tier, ent.region)
        document = self._approval_doc(a, ent.region, o)
        code = self.check_approve(ent, a, t, actor["authority"], o, document)
        if code is not None:  # e.g. an objection upheld: rejected instead
            return
        self.emit(o, "approve", actor, uscc=ent.uscc, application_id=a.id, document=document)
        vf, vu = t.validity(date.fromordinal(o))
        a.status = "approved"
        a.approved_on = o
        a.valid_from, a.valid_until = vf.toordinal(), vu.toordinal()
        a.first_until = a.valid_until
        self.summary.designations_made[a.tier] += 1
        self.after_approval(o, ent, a)

    def after_approval(self, o: int, ent: _Ent, a: _App) -> None:
        rng = self.rng
        self.ensure_filing(ent, o)
        self.plan_term(o, ent, a)
        tier = a.tier
        if tier == "innovative":
            if ent.q >= Q_SPECIALIZED:
                self.plan_try(ent, "specialized", o + 30)
        elif tier == "specialized":
            if ent.q >= Q_LITTLE_GIANT:
                self.plan_try(ent, "little_giant", o + 60)
            self.plan_reward(ent, o + self.ri(45, 200), "zhejiang", "hz_specialized_first")
        elif tier == "little_giant":
            if ent.q >= Q_KEY and not ent.listed:
                self.plan_try(ent, "key_little_giant", o + 90)
            elif ent.q >= Q_KEY and ent.listed and rng.random() < 0.5 * FAULT:
                self.plan_try(ent, "key_little_giant", o + 90, fault="ladder.listed_excluded")
            if ent.q >= Q_CHAMPION:
                self.plan_try(ent, "single_champion", o + 200)
            self.plan_reward(ent, o + self.ri(45, 200), "zhejiang", "hz_little_giant_first")
            self.plan_reward(ent, o + self.ri(60, 240), "liaoning", "new_national_little_giant")
        elif tier == "key_little_giant":
            self.plan_reward(ent, o + self.ri(60, 120), "national", "key_little_giant_fund", tranche=1)
            self.plan_reward(ent, o + 730 + self.ri(0, 60), "national", "key_little_giant_fund", tranche=2)
        if rng.random() < 0.0006 * FAULT + 0.0004:
            self.push(o + self.ri(15, 40), 18, ent, a)

    def plan_term(self, o: int, ent: _Ent, a: _App) -> None:
        """What happens to the current validity period: a review (pass or fail), or a
        lapse with no event; now and then a revocation."""
        rng = self.rng
        vu = a.valid_until
        assert vu is not None
        tier = a.tier
        if rng.random() < REVOKE_P[tier]:
            last = vu - 20
            if last > o + 60:
                self.push(self.ri(o + 60, last), 10, ent, a)
        review_p, pass_p = REVIEW_P[tier]
        window = 180
        t = self.tier(self.reviewing(tier, vu - 30, ent.region), tier)
        if t is not None:
            window = t.review_window_days
        if rng.random() < review_p:
            self.summary.reviews_planned += vu <= self.end
            day = vu - self.ri(15, max(16, window - 10))
            if rng.random() < 0.01 * FAULT:
                self.push(max(o + 1, vu - window - self.ri(10, 90)), 19, ent, ("review_early", a))
            self.push(max(day, o + 1), 9, ent, (a, rng.random() < pass_p))
        else:
            self.summary.lapsed_without_review += vu <= self.end
            if rng.random() < 0.01 * FAULT:
                # asks for a new designation while the old one runs: renewal goes through review
                self.plan_try(ent, tier, vu - 330, fault="apply.already_designated")
            if rng.random() < REAPPLY_P[tier] and (tier != "key_little_giant" or not ent.listed):
                self.plan_try(ent, tier, vu)

    def _h_reject(self, o: int, ent: _Ent, arg: tuple[_App, str, str]) -> None:
        a, who, reason = arg
        if a.status not in OPEN:
            return
        rng = self.rng
        prog = self.prog_of(a.tier, o, ent.region)
        t = self.tier(prog, a.tier)
        assert t is not None
        if who == "recommender" and a.status in ("applied", "recommended") and t.recommend_levels:
            actor = self.actor(self.level_code(t.recommend_levels[0].value, ent.region))
        else:
            actor = self.decider(a.tier, ent.region)
        self.emit(o, "reject", actor, uscc=ent.uscc, application_id=a.id, reason=reason,
                  document=self.doc(actor["authority"], self.year(o), a.rnd.key + "reject", "函"))
        a.status = "rejected"
        if ent.pools and ent.pools.get(a.tier) and rng.random() < 0.15:
            self.push(o + self.ri(10, 60), 17, ent, a.tier)
        if rng.random() < RETRY_P[a.tier]:
            self.plan_try(ent, a.tier, o + 30, 1)

    def _h_withdraw(self, o: int, ent: _Ent, a: _App) -> None:
        if a.status not in OPEN:
            return
        self.emit(o, "withdraw", ent.self_actor(), uscc=ent.uscc, application_id=a.id,
                  reason=self.rng.choice(("财务数据待审计报告出具后再行申报",
                                          "研发费用归集口径需调整，企业主动撤回申报",
                                          "主导产品市场占有率数据待第三方核实")))
        a.status = "withdrawn"
        if self.rng.random() < RETRY_P[a.tier]:
            self.plan_try(ent, a.tier, o + 60, 1)

    # ------------------------------------------------------------------ review, yearly data
    def reviewing(self, tier: str, o: int, region: str | None = None) -> Programme | None:
        """The rule version that judges a review of ``tier`` on ``o`` for an enterprise in
        ``region`` (the ledger's PolicyBook.reviewing, overrides laid over it)."""
        if self.prog_of(tier, o, region) is None:
            return None
        return self.book.reviewing(PROGRAMME_OF[tier], tier, date.fromordinal(o), region)

    def _h_review(self, o: int, ent: _Ent, arg: tuple[_App, bool]) -> None:
        a, passed = arg
        prog = self.reviewing(a.tier, o, ent.region)
        t = self.tier(prog, a.tier)
        if t is None or prog is None:
            return
        code = self.check_review(ent, a, prog, t, o)
        actor = self.decider(a.tier, ent.region)
        data: dict[str, Any] = {}
        if code is None and t.reviewed_on_criteria:
            # the data the review is judged on; now and then a pass the data do not bear out
            good = passed and self.rng.random() >= 0.02 * FAULT
            last = prog.data_year_on(date.fromordinal(o))
            years = t.assessment.data_years(last, for_review=True)
            data = self._yearly_body(ent, t, good, last, years) or self._indicators(ent, a.tier, good)
            data.pop("components", None)
            data.pop("direct_pass", None)
            yearly = merge_yearly({}, _by_year(data.get("yearly_indicators")), data["indicators"], last, years)
            failures = t.assessment.judge(data.get("score"), {}, data["indicators"], [], yearly=yearly,
                                          last_year=last, for_review=True)
            if passed and failures:
                self.emit(o, "review", actor, "review.criteria_not_met", uscc=ent.uscc, application_id=a.id,
                          passed=True, document=self.doc(actor["authority"], self.year(o),
                                                         f"review{a.tier}{o // 30}", "函") + "（复核）", **data)
                if self.rng.random() < REAPPLY_P[a.tier]:
                    self.plan_try(ent, a.tier, a.valid_until)  # type: ignore[arg-type]
                return
        if code is not None:
            if code in ("review.yearly_data_missing", "review.yearly_data_late", "review.change_report_late"):
                # the authority tries; the ledger refuses and the designation lapses
                self.emit(o, "review", actor, code, uscc=ent.uscc, application_id=a.id, passed=passed,
                          document=self.doc(actor["authority"], self.year(o), f"review{a.tier}{o // 30}", "函")
                          + "（复核）")
                if self.rng.random() < REAPPLY_P[a.tier]:
                    self.plan_try(ent, a.tier, a.valid_until)  # type: ignore[arg-type]
            return
        self.emit(o, "review", actor, uscc=ent.uscc, application_id=a.id, passed=passed,
                  document=self.doc(actor["authority"], self.year(o), f"review{a.tier}{o // 30}", "函")
                  + ("（复核通过）" if passed else "（复核未通过）"), **data)
        a.reviews += 1
        a.reviewed_until = a.valid_until
        if passed:
            until = add_years(date.fromordinal(a.valid_until), t.validity_years).toordinal()  # type: ignore[arg-type]
            if t.renewal == "replace":  # a new designation from the old one's end (Liaoning's 细则)
                a = self.replace(ent, a, o, until)
            else:
                a.valid_until = until
            self.ensure_filing(ent, o)
            self.plan_term(o, ent, a)
            if a.tier == "little_giant" and self.rng.random() < 0.05 * FAULT:
                # a first-recognition reward asked for once the renewed period runs
                day = max(o, a.first_until) + self.ri(10, 60)  # type: ignore[type-var]
                self.plan_reward(ent, day, "zhejiang", "hz_little_giant_first", fault=True)
                self.plan_reward(ent, day, "liaoning", "new_national_little_giant", fault=True)
        else:
            a.review_failed = True
            if self.rng.random() < REAPPLY_P[a.tier] * 0.5:
                self.plan_try(ent, a.tier, a.valid_until + 200)  # type: ignore[operator]

    def replace(self, ent: _Ent, a: _App, o: int, until: int) -> _App:
        """The designation a passed review of ``a`` makes when the tier renews by replacing
        (the domain's ``Reviewed`` with ``new_application_id``): ``a`` runs to its end, the
        new one from there to ``until``, a renewal from its first day."""
        n = _App(f"{a.id}~r{a.reviews}", a.tier, o, a.rnd)
        n.status, n.passed, n.recs = "approved", True, a.recs
        n.valid_from, n.valid_until, n.first_until, n.approved_on = a.valid_until, until, a.valid_until, o
        a.replaced_by = n.id
        ent.apps[n.id] = n
        return n

    def ensure_filing(self, ent: _Ent, o: int) -> None:
        if ent.filing:
            return
        y = self.year(o) + 1
        day = date(y, 3, 1).toordinal() + (_crc(ent.i, y) % 50)
        if self.push(day, 11, ent, y):
            ent.filing = y

    def _valid_any(self, ent: _Ent, o: int) -> bool:
        return any(a.valid_on(o) for a in ent.apps.values())

    def _h_file(self, o: int, ent: _Ent, y: int) -> None:
        ent.filing = 0
        rng = self.rng
        year_end = date(y - 1, 12, 31).toordinal()
        if self._valid_any(ent, year_end) and self.nat(o, ent.region) is not None:
            r = rng.random()
            if r < SKIPPED_FILING_P:
                pass  # never filed: visible in the overdue lists, and a review will be refused
            elif r < SKIPPED_FILING_P + LATE_FILING_P:
                self.push(date(y, 6, 2).toordinal() + self.ri(0, 27), 20, ent, y)
            else:
                self.file(o, ent, y - 1)
        if self._rewards_year(ent, o, y):
            pass
        self._money_year(ent, o, y)
        this_end = date(y, 12, 31).toordinal()
        if any(a.status == "approved" and a.valid_until > this_end and a.revoked is None  # type: ignore[operator]
               and a.ended is None for a in ent.apps.values()):
            nxt = date(y + 1, 3, 1).toordinal() + (_crc(ent.i, y + 1) % 50)
            if self.push(nxt, 11, ent, y + 1):
                ent.filing = y + 1

    def _h_file_late(self, o: int, ent: _Ent, y: int) -> None:
        if self.nat(o, ent.region) is not None and not ent.has_filed(y - 1):
            # one in three that file late were put on the 经营异常名录 meanwhile (their 年报 was late
            # too: the scenario's assumption), and are taken off some weeks after filing
            on = date.fromordinal(o)
            if _crc("credit", ent.i, y) % 3 == 0 and not (ent.credit and credit_standing(
                    ent.credit.get("abnormal_operations", ()), on)):
                self.credit(o, ent, True)
                self.push(o + 20 + _crc("off", ent.i, y) % 60, 21, ent)
            self.file(o, ent, y - 1)

    def credit(self, o: int, ent: _Ent, listed: bool) -> None:
        city = ent.region[:4] + "00"
        self.emit(o, "record_credit_listing", self.actor(city, "（市场监督管理部门）"), uscc=ent.uscc,
                  credit_list="abnormal_operations", listed=listed, listed_on=self.iso(o),
                  document=f"{CITY_BY_CODE[city].name}市市场监督管理局{'列入' if listed else '移出'}经营异常名录决定书")
        if ent.credit is None:
            ent.credit = {}
        ent.credit.setdefault("abnormal_operations", []).append(CreditEntry(listed=listed,
                                                                            listed_on=date.fromordinal(o)))

    def _h_credit_off(self, o: int, ent: _Ent, _: Any) -> None:
        if ent.credit and credit_standing(ent.credit.get("abnormal_operations", ()), date.fromordinal(o)):
            self.credit(o, ent, False)

    def file(self, o: int, ent: _Ent, data_year: int) -> None:
        prog = self.nat(o, ent.region)
        assert prog is not None
        rng = self.rng
        revenue_fen = ent.revenue * 1_000_000 * (100 + self.ri(-8, 15)) // 100
        self.emit(o, "file_yearly_data", ent.self_actor(), uscc=ent.uscc, programme="national", data_year=data_year,
                  indicators={"revenue_fen": revenue_fen, "rd_expense_fen": revenue_fen * self.ri(3, 9) // 100,
                              "employees": 40 + ent.revenue // 120 + self.ri(0, 30),
                              "debt_ratio_bp": self.ri(2500, 6500)})
        ent.filed |= 1 << (data_year - 1990)
        if o > self.deadline(prog, data_year + 1):
            ent.late |= 1 << (data_year - 1990)
        if rng.random() < 0.003 * FAULT:
            self.push(o + self.ri(5, 30), 19, ent, ("file_again", data_year))

    # ------------------------------------------------------------------ revocation, annulment
    def _h_revoke(self, o: int, ent: _Ent, a: _App) -> None:
        if not a.valid_on(o) or a.valid_until - o < 2:  # type: ignore[operator]
            return
        rng = self.rng
        prog = self.prog_of(a.tier, o, ent.region)
        t = self.tier(prog, a.tier)
        assert t is not None
        r = rng.random()
        reason = "other"
        for name, share in REVOCATION_MIX:
            if r < share:
                reason = name
                break
            r -= share
        actor = self.decider(a.tier, ent.region)
        if rng.random() < 0.15 * FAULT:
            self.emit(o, "revoke", actor, "revoke.no_document", uscc=ent.uscc, application_id=a.id, reason=reason)
        self.emit(o, "revoke", actor, uscc=ent.uscc, application_id=a.id, reason=reason,
                  document=self.doc(actor["authority"], self.year(o), f"revoke{a.id}{ent.i}")
                  + f"（撤销：{REVOCATION_TEXT[reason]}）")
        years = t.cooling_off_years.get(reason)  # type: ignore[call-overload]
        eff: int = max(o, a.valid_from)  # type: ignore[type-var, assignment]
        barred = add_years(date.fromordinal(eff), years).toordinal() if years else None
        a.revoked = eff
        if ent.revs is None:
            ent.revs = []
        ent.revs.append((a.tier, reason, eff, barred))
        self.clawback_for(ent, a, o)
        if barred is not None and rng.random() < 0.25 * FAULT:
            self.plan_try(ent, a.tier, o + 30, fault="apply.cooling_off")
        if rng.random() < 0.3:
            start = barred if barred is not None else o + 365
            self.plan_try(ent, a.tier, max(start, self.bar_ends(ent, o)), 1)

    def clawback_for(self, ent: _Ent, a: _App, o: int) -> None:
        if not ent.rewards:
            return
        for r in ent.rewards.values():
            if r.basis == a.id and r.clawed < r.amount:
                if r.id.startswith("m-"):  # the money facts' own stream (see _money_year)
                    if self.money.random() < 0.7:
                        self.push(o + 15 + int(self.money.random() * 76), 15, ent, r)
                elif self.rng.random() < 0.7:
                    self.push(o + self.ri(15, 90), 15, ent, r)

    def _h_annul(self, o: int, ent: _Ent, a: _App) -> None:
        if a.status != "approved":
            return
        actor = self.decider(a.tier, ent.region)
        self.emit(o, "annul", actor, uscc=ent.uscc, application_id=a.id,
                  reason="经核查，企业申报期间存在未披露的行政处罚，认定有误",
                  document=self.doc(actor["authority"], self.year(o), f"annul{a.id}{ent.i}"))
        a.status, a.annulled = "annulled", o
        self.clawback_for(ent, a, o)

    # ------------------------------------------------------------------ change reports
    def _h_change(self, o: int, ent: _Ent, _: Any) -> None:
        rng = self.rng
        if self.nat(o, ent.region) is None:
            nxt = self.tier_start("specialized") or o + 365
            self.push(max(nxt, o + 1) + self.ri(30, 300), 12, ent)
            return
        r = rng.random()
        fields: dict[str, Any] = {}
        if r < 0.45:
            kind = "rename"
            if ent.suffix != "股份有限公司" and rng.random() < 0.5:
                ent.suffix = "股份有限公司"
            else:
                ent.brand = BRAND_CHARS[int(rng.random() * len(BRAND_CHARS))] + ent.brand[1]
            fields["new_name"] = f"{ent.place}{ent.brand}{ent.word}{ent.suffix}"
        elif r < 0.72:
            kind = "relocation"
            here = PROVINCE_BY_CODE[ent.region[:2] + "0000"]
            prov = here
            if rng.random() < 0.12:  # to another province (mostly a neighbour of weight)
                prov = PROVINCES[bisect_right(self._prov_cum, rng.random() * self._prov_cum[-1])]
            if prov is here and rng.random() < 0.6:
                city = CITY_BY_CODE[ent.region[:4] + "00"]
            else:
                cum = self._city_cum[prov.code]
                city = prov.cities[bisect_right(cum, rng.random() * cum[-1])]
            choices = [c for c in city.counties if c != ent.region]
            pick = rng.random()
            if choices:
                fields["new_region"] = choices[int(pick * len(choices))]
            else:  # a move inside a city without districts (东莞): no new region, reported as a reorganisation
                kind = "reorganisation"
        elif r < 0.84:
            kind = "reorganisation"
        elif r < 0.9:
            kind = "merger"
            fields["counterpart_uscc"] = self._recent[int(rng.random() * len(self._recent))]
            if fields["counterpart_uscc"] == ent.uscc:
                kind = "reorganisation"
                fields = {}
        elif ent.q > 0.85 and not ent.listed:
            kind = "listing"
        else:
            kind = "reorganisation"
        late = rng.random() < LATE_CHANGE_P
        changed = o - (self.ri(100, 400) if late else self.ri(5, 80))
        changed = max(changed, ent.reg)
        due = add_months(date.fromordinal(changed), 3).toordinal()
        late = o > due
        doc = (f"{CITY_BY_CODE[ent.region[:4] + '00'].name}市市场监督管理局变更登记通知书"
               + ("（逾期报告）" if late else ""))
        self.emit(o, "report_change", ent.self_actor(), uscc=ent.uscc, programme="national", kind=kind,
                  changed_on=self.iso(changed), document=doc, **fields)
        if kind == "merger" and ent.group != fields["counterpart_uscc"]:
            # merged with the counterpart: from now on in its group (the same_group bar)
            self.join_group(o, ent, fields["counterpart_uscc"])
        if ent.changes is None:
            ent.changes = []
        prog = self.nat(o)
        assert prog is not None
        ent.changes.append((o, late, kind, prog.change_forfeits_review(kind, late)))
        # rule 7: the designations the change puts under re-confirmation (Programme.reconfirms)
        for a in ent.apps.values():  # each designation by its own programme's rules (single_champion: champion)
            held = self.prog_of(a.tier, o, ent.region)
            if a.valid_on(o) and held is not None and held.reconfirms(
                    kind=kind, level=a.level, old_region=ent.region, new_region=fields.get("new_region")):
                a.reconf = kind
                self.push(o + self.ri(30, 120), 13, ent, a)
        if kind == "rename":
            ent.name = fields["new_name"]
        elif kind == "listing":
            ent.listed = True
        elif kind == "relocation":
            ent.region = fields["new_region"]
        self._next_change(o, ent)

    def join_group(self, o: int, ent: _Ent, parent: str) -> None:
        self.emit(o, "record_group", self.actor(ent.region[:4] + "00", "（市场监督管理部门）"), uscc=ent.uscc,
                  group_uscc=parent, document="企业集团登记（合并）")
        if ent.group is not None:
            spans = self._groups[ent.group][ent.uscc]
            spans[-1][1] = o
        self._groups.setdefault(parent, {}).setdefault(ent.uscc, []).append([o, None])
        ent.group = parent

    def _next_change(self, o: int, ent: _Ent) -> None:
        self.push(o + 30 + int(self.rng.expovariate(CHANGE_RATE) * 365), 12, ent)

    def _h_reconfirm(self, o: int, ent: _Ent, a: _App) -> None:
        actor = self.decider(a.tier, ent.region)
        if not a.reconf:
            return
        moved = a.reconf == "relocation"
        confirmed = self.rng.random() < (0.8 if moved else 0.95)  # 继续符合条件的, 有效期不变
        if moved:
            note = "（迁入企业资格确认）" if confirmed else "（迁入后不予确认）"
        else:
            note = "（重大变化后继续符合条件，有效期不变）" if confirmed else "（重大变化后不再符合条件，取消认定）"
        self.emit(o, "reconfirm", actor, uscc=ent.uscc, application_id=a.id, confirmed=confirmed,
                  document=self.doc(actor["authority"], self.year(o), f"reconfirm{a.id}{ent.i}", "函") + note)
        a.reconf = ""
        if not confirmed:
            a.ended = o
        if self.rng.random() < 0.1 * FAULT:
            self.push(o + self.ri(5, 40), 19, ent, ("reconfirm_again", a))

    # ------------------------------------------------------------------ pools
    def plan_admission(self, ent: _Ent, tier: str, now: int, apply_on: int) -> None:
        day = self.between(max(now + 1, apply_on - 150), apply_on - 10)
        if day < apply_on:
            self.push(day, 16, ent, tier)

    def _pool_actor(self, ent: _Ent, tier: str) -> dict[str, str]:
        level = "provincial" if _LEVEL[tier] == "national" else "municipal"
        return self.actor(self.level_code(level, ent.region))

    def _h_admit(self, o: int, ent: _Ent, tier: str) -> None:
        if self.tier(self.nat(o, ent.region), tier) is None:
            return
        actor = self._pool_actor(ent, tier)
        names = {"innovative": "创新型中小企业培育库", "specialized": "专精特新中小企业培育库",
                 "little_giant": "专精特新“小巨人”培育库"}
        document = self.doc(actor["authority"], self.year(o), f"pool{tier}") + f"（{names[tier]}）"
        if ent.pools and ent.pools.get(tier):
            if self.rng.random() < 0.3 * FAULT:
                self.emit(o, "admit_to_pool", actor, "pool.already_admitted", uscc=ent.uscc, programme="national",
                          tier=tier, document=document)
            return
        self.emit(o, "admit_to_pool", actor, uscc=ent.uscc, programme="national", tier=tier, document=document)
        if ent.pools is None:
            ent.pools = {}
        ent.pools[tier] = True

    def _h_remove(self, o: int, ent: _Ent, tier: str) -> None:
        if not ent.pools or not ent.pools.get(tier) or self.tier(self.nat(o, ent.region), tier) is None:
            return
        actor = self._pool_actor(ent, tier)
        self.emit(o, "remove_from_pool", actor, uscc=ent.uscc, programme="national", tier=tier,
                  reason="认定未通过且研发投入持续不足，移出培育库",
                  document=self.doc(actor["authority"], self.year(o), f"poolout{tier}"))
        ent.pools[tier] = False

    # ------------------------------------------------------------------ rewards
    def plan_reward(self, ent: _Ent, o: int, programme: str, scheme: str, *, tranche: int | None = None,
                    fault: bool = False) -> None:
        if programme == "zhejiang" and not ent.region.startswith("3301"):
            return
        if programme == "liaoning" and not ent.region.startswith("21"):
            return
        self.push(o, 14, ent, (programme, scheme, tranche, fault))

    _REWARD_DOC = {"zhejiang": "杭经信联", "liaoning": "辽财企", "national": "财建", "dalian": "大工信发"}

    def _h_grant(self, o: int, ent: _Ent, arg: tuple[str, str, int | None, bool]) -> None:
        programme, scheme_id, tranche, fault = arg
        rng = self.rng
        prog = self.programme(programme, o)
        if prog is None:
            return
        scheme = next((s for s in prog.schemes if s.id == scheme_id), None)
        if scheme is None:
            return
        y = self.year(o)
        loan = lpr = days = None
        if scheme.kind == "interest_subsidy":
            assert scheme.subsidy_ratio_bp is not None
            loan = self.ri(50, 200) * 10_000_000  # 5 to 20 million CNY
            lpr = rng.choice((345, 355, 365, 370, 385))
            days = self.ri(180, 365)
            amount = loan * lpr * scheme.subsidy_ratio_bp * days // (10000 * 10000 * 365)
        elif scheme.kind == "tranches":
            amount = scheme.cap_fen * scheme.tranches[(tranche or 1) - 1].share_bp // 10000
        elif scheme.kind == "per_item":
            amount = scheme.cap_fen * self.ri(30, 100) // 100
        else:
            amount = scheme.cap_fen if rng.random() < 0.8 else scheme.cap_fen * self.ri(50, 95) // 100
        doc_prefix = self._REWARD_DOC[programme]
        document = f"{doc_prefix}〔{y}〕{10 + _crc(scheme_id, y, o // 20) % 290}号"
        if tranche == 2:
            document = f"工信厅企业函〔{y}〕{10 + _crc('perf', y) % 290}号（绩效评价合格）"
        ent.n += 1
        rid = f"{scheme_id.replace('_', '-')}-{y}-{ent.n}"
        # Called for its effect only, as before: it fills the actors' cache (and fails on an unknown
        # granting authority) at this point of the run; the grant names its actor in _try_grant.
        self.actor(scheme.granted_by)
        fields: dict[str, Any] = {"uscc": ent.uscc, "reward_id": rid, "programme": programme, "scheme": scheme_id,
                                  "amount_fen": amount}
        if tranche is not None:
            fields["tranche"] = tranche
        if loan is not None:
            fields.update(loan_fen=loan, lpr_bp=lpr, days=days)
        if not fault:
            f = rng.random()
            tried = True
            if f < 0.02 * FAULT and scheme.kind != "interest_subsidy":
                over = {**fields, "reward_id": rid + "a", "amount_fen": amount + max(1, amount // 10) + (
                    scheme.cap_fen - amount)}
                self._try_grant(o, ent, prog, scheme, over, document, deliberate=True)
            elif f < 0.05 * FAULT and tranche == 2:
                self._try_grant(o, ent, prog, scheme, {**fields, "reward_id": rid + "a"}, "", deliberate=True)
            else:
                tried = False
            if tried:
                # The grant itself follows the next day.  On the same day, a second submission of
                # the file would judge the refused attempt on a state that holds the grant (the
                # tranche paid, the once-per-scheme reward granted) and refuse it with another code.
                self.push(o + 1, 19, ent, ("grant_after_refusal", (prog.id, scheme.id, fields, document)))
                return
        ok = self._try_grant(o, ent, prog, scheme, fields, document, deliberate=fault)
        if ok and not fault and scheme.kind in ("one_time", "tranches") and rng.random() < 0.02 * FAULT:
            again = dict(fields)
            ent.n += 1
            again["reward_id"] = f"{scheme_id.replace('_', '-')}-{y}-{ent.n}"
            self.push(o + self.ri(20, 120), 19, ent, ("grant_again", (prog.id, scheme.id, again, document)))

    def _try_grant(self, o: int, ent: _Ent, prog: Programme, scheme: Scheme, fields: dict[str, Any], document: str,
                   deliberate: bool, rng: random.Random | None = None) -> bool:
        code, basis = self.check_grant(ent, prog, scheme, o, fields["amount_fen"], fields.get("tranche"),
                                       fields.get("loan_fen"), fields.get("lpr_bp"), fields.get("days"), document,
                                       fields.get("product_id"), fields.get("loan_id"))
        actor = self.actor(scheme.granted_by)
        if code is not None:
            if code == "ambiguous":
                return False
            if deliberate or (code == "reward.over_budget" and (rng or self.rng).random() < 0.05 * FAULT):
                self.emit(o, "grant_reward", actor, code, document=document, **fields) if document else \
                    self.emit(o, "grant_reward", actor, code, **fields)
            return False
        self.emit(o, "grant_reward", actor, document=document, **fields)
        if ent.rewards is None:
            ent.rewards = {}
        amount = fields["amount_fen"]
        ent.rewards[fields["reward_id"]] = _Reward(fields["reward_id"], prog.id, scheme.id,
                                                   basis.id if basis else None, amount, o, fields.get("tranche"),
                                                   fields.get("loan_fen"))
        key = (prog.id, prog.budget_of(scheme)[0], self.year(o))
        self.budget[key] = self.budget.get(key, 0) + amount
        self.summary.rewards_fen[f"{prog.id}/{scheme.id}"] += amount
        return True

    def _rewards_year(self, ent: _Ent, o: int, y: int) -> bool:
        """Hangzhou's yearly schemes for designated enterprises: interest subsidies,
        service vouchers, smart factories and digital workshops."""
        if not ent.region.startswith("3301"):
            return False
        rng = self.rng
        if not self._valid_any(ent, o):
            if ent.apps and rng.random() < 0.05 * FAULT:  # the city grants to one whose designation lapsed
                self.plan_reward(ent, o + self.ri(20, 200), "zhejiang", "hz_digital_workshop", fault=True)
            return False
        if rng.random() < 0.06:
            self.plan_reward(ent, o + self.ri(20, 200), "zhejiang", "hz_loan_interest")
        if rng.random() < 0.05:
            self.plan_reward(ent, o + self.ri(20, 200), "zhejiang", "hz_service_purchase")
        if rng.random() < 0.01:
            self.plan_reward(ent, o + self.ri(20, 200), "zhejiang",
                             rng.choice(("hz_smart_factory", "hz_digital_workshop")))
        return True

    def _h_clawback(self, o: int, ent: _Ent, r: _Reward) -> None:
        left = r.amount - r.clawed
        if left <= 0:
            return
        prog = self.programme(r.programme, r.granted)
        assert prog is not None
        scheme = prog.scheme(r.scheme)
        actor = self.actor(scheme.granted_by)
        self.emit(o, "claw_back", actor, uscc=ent.uscc, reward_id=r.id, amount_fen=left,
                  reason="认定资格被撤销，追回奖补资金",
                  document=f"{self._REWARD_DOC[r.programme]}〔{self.year(o)}〕{10 + _crc('cb', r.id) % 290}号")
        r.clawed += left
        key = (r.programme, prog.budget_of(scheme)[0], self.year(r.granted))
        self.budget[key] = self.budget.get(key, 0) - left
        self.summary.rewards_fen[f"{r.programme}/{r.scheme}"] -= left

    # ------------------------------------------------------------------ deliberate refusals
    def _h_fault(self, o: int, ent: _Ent, arg: tuple[str, Any]) -> None:
        kind, x = arg
        prog = self.nat(o, ent.region)
        if kind == "register_again":
            self.emit(o, "register", self.actor(ent.region[:4] + "00", "（梯度培育服务平台）"), "register.exists",
                      uscc=ent.uscc, name=ent.name, region=ent.region, industry=ent.industry,
                      document="重复登记")
            return
        if kind == "unknown_tier":
            t = self.tier(prog, "innovative")
            if prog is not None and t is None:
                self.emit(o, "apply", ent.self_actor(), "policy.unknown_tier", uscc=ent.uscc,
                          application_id=ent.next_id("cxx", self.year(o)), programme="national", tier="innovative")
            return
        if kind == "file_again":
            if prog is not None and ent.has_filed(x) and x < self.year(o):
                self.emit(o, "file_yearly_data", ent.self_actor(), "yearly_data.duplicate", uscc=ent.uscc,
                          programme="national", data_year=x, indicators={"revenue_fen": ent.revenue * 1_000_000})
            return
        if kind in ("grant_again", "grant_after_refusal"):
            pid, sid, fields, document = x
            p = self.programme(pid, o)
            scheme = next((s for s in p.schemes if s.id == sid), None) if p else None
            if p is not None and scheme is not None:
                self._try_grant(o, ent, p, scheme, fields, document, deliberate=kind == "grant_again")
            return
        a: _App = x
        prog = self.prog_of(a.tier, o)
        t = self.tier(prog, a.tier)
        if t is None or prog is None:
            return
        if kind == "assess_early":
            if a.status == "applied" and t.recommend_levels:
                body = self._indicators(ent, a.tier, True)
                self.emit(o, "assess", self.assessor(t, ent.region), "assess.not_recommended", uscc=ent.uscc,
                          application_id=a.id, **body)
        elif kind == "county_recommends":
            # a county, or a district of a 计划单列市 (municipal there: no fault); a city without districts: none
            if a.status == "applied" and ent.region[4:] != "00":
                code = self.check_recommend(ent, a, t, self.authorities(o).authority_level(ent.region), o)
                if code:
                    self.emit(o, "recommend", self.actor(ent.region), code, uscc=ent.uscc, application_id=a.id)
        elif kind == "notice_failed":
            if a.status == "assessed" and a.passed is False:
                self.emit(o, "open_notice", self.noticer(t, ent.region), "notice.not_assessed", uscc=ent.uscc,
                          application_id=a.id, document=self.notice_title(a, t, ent.region))
        elif kind in ("approve_early", "approve_objection_open", "approve_wrong_level", "approve_not_covering",
                      "approve_no_document"):
            code = self.level_code(_LEVEL[a.tier], ent.region)
            document = self._approval_doc(a, ent.region, o)
            if kind == "approve_wrong_level":
                code = self.level_code("municipal" if code != "000000" else "provincial", ent.region)
            elif kind == "approve_not_covering":
                others = [p.code for p in PROVINCES if p.code != code]
                code = others[_crc(ent.i, a.id) % len(others)]
            elif kind == "approve_no_document":
                document = ""
            refusal = self.check_approve(ent, a, t, code, o, document)
            if refusal:
                fields = {"uscc": ent.uscc, "application_id": a.id}
                if document:
                    fields["document"] = document
                self.emit(o, "approve", self.actor(code), refusal, **fields)
        elif kind == "review_early":
            rp = self.reviewing(a.tier, o, ent.region)  # the version that judges the review (review_under)
            rt = self.tier(rp, a.tier)
            refusal = self.check_review(ent, a, rp, rt, o) if rp is not None and rt is not None else None
            if refusal == "review.outside_window":
                actor = self.decider(a.tier, ent.region)
                self.emit(o, "review", actor, refusal, uscc=ent.uscc, application_id=a.id, passed=True,
                          document=self.doc(actor["authority"], self.year(o), f"review{a.tier}{o // 30}", "函"))
        elif kind == "reconfirm_again":  # noqa: SIM102 (one branch per kind: the dispatch stays flat)
            if not a.reconf:
                actor = self.decider(a.tier, ent.region)
                self.emit(o, "reconfirm", actor, "reconfirm.not_pending", uscc=ent.uscc, application_id=a.id,
                          confirmed=True, document=self.doc(actor["authority"], self.year(o), f"reconfirm{a.id}", "函"))

    # ------------------------------------------------------------------ the run
    def run(self) -> Iterator[tuple[Cmd, str | None]]:
        s = self.summary
        regs = self.registration_days()
        handlers, out, days = self.handlers, self.out, self.days
        ri, nreg = 0, len(regs)
        for k in range(len(days)):
            o = self.last = self.start + k
            while ri < nreg and regs[ri] == o:  # the day's registrations come first
                self._register(o, ri)
                ri += 1
                if out:
                    s.commands += len(out)
                    yield from out
                    out.clear()
            steps = days[k]
            if steps is None:
                continue
            i = 0
            while i < len(steps):  # steps scheduled for today while running today join the end
                h, ent, arg = steps[i]
                i += 1
                handlers[h](o, ent, arg)
                if out:
                    s.commands += len(out)
                    yield from out
                    out.clear()
            days[k] = None
        s.first_day, s.last_day = self.iso(self.start), self.iso(self.end)
        s.valid_at_end = self.valid_on(self.end)
        as_of = self.as_of if self.as_of is not None else self.end
        s.as_of = date.fromordinal(as_of).isoformat()
        s.valid_on_as_of = self.valid_on(as_of)
        s.ever_designated, s.new_by_year = self.ever_designated(as_of)
        s.done = True

    def valid_on(self, o: int) -> dict[str, int]:
        counts = {t: 0 for t in TIERS}
        for e in self.ents:
            for a in e.apps.values():
                if a.stood_valid_on(o):
                    counts[a.tier] += 1
        return counts

    def ever_designated(self, o: int) -> tuple[dict[str, int], dict[str, dict[int, int]]]:
        """Distinct enterprises with a designation of each tier approved on or before day
        ``o`` (an approval annulled by then never was one; one annulled after still was on
        ``o``), and by the year of their first approval (the whole horizon: an annulled
        approval never was one)."""
        ever = {t: 0 for t in TIERS}
        new: dict[str, Counter[int]] = {t: Counter() for t in TIERS}
        for e in self.ents:
            first: dict[str, int] = {}  # first approval not annulled by ``o``, by tier
            first_kept: dict[str, int] = {}  # first approval never annulled, by tier
            for a in e.apps.values():
                day = a.approved_on
                if day is None:
                    continue
                if a.status_on(o) != "annulled" and day < first.get(a.tier, day + 1):
                    first[a.tier] = day
                if a.status != "annulled" and day < first_kept.get(a.tier, day + 1):
                    first_kept[a.tier] = day
            for tier, day in first.items():
                ever[tier] += day <= o
            for tier, day in first_kept.items():
                new[tier][self.year(day)] += 1
        return ever, {t: dict(sorted(ys.items())) for t, ys in new.items()}


# ============================================================================ the API
# The default size: the national ladder (README, "National totals"), ten years from 2016.
DEFAULT_ENTERPRISES, DEFAULT_YEARS, DEFAULT_START_YEAR = 360_000, 10, 2016
# The day of MIIT's national 累计培育 figures the default size is calibrated to.
NATIONAL_FIGURES_ON = date(2023, 7, 26)


def _book(policies: str | None) -> PolicyBook:
    from infra.policy_files import load_policy_book

    return load_policy_book(policies)


def generate(enterprises: int = DEFAULT_ENTERPRISES, years: int = DEFAULT_YEARS, seed: int = 1,
             start_year: int = DEFAULT_START_YEAR, *, summary: Summary | None = None, policies: str | None = None,
             as_of: date | None = None) -> Iterator[tuple[Cmd, str | None]]:
    """``(command, expected refusal code or None)`` in business-date order.  ``summary``,
    if given, is filled in as the stream is consumed (complete once it is exhausted), its
    national figures (ever designated, valid, newly designated) on ``as_of`` (default: the
    last day).  The dicts share their nested ``actor`` dicts: treat them as read-only."""
    s = summary if summary is not None else Summary()
    s.enterprises, s.years, s.seed, s.start_year = enterprises, years, seed, start_year
    engine = _Engine(enterprises, years, seed, start_year, _book(policies), s, as_of)
    return engine.run()


def generate_commands(enterprises: int = DEFAULT_ENTERPRISES, years: int = DEFAULT_YEARS, seed: int = 1,
                      start_year: int = DEFAULT_START_YEAR) -> Iterator[Cmd]:
    """JSON-shaped command dicts in business-date order (a stream: bounded memory, no list
    of all commands).  Every one decodes with :func:`services.commands.decode_command`."""
    for cmd, _ in generate(enterprises, years, seed, start_year):
        yield cmd


def expected_refusals(enterprises: int = DEFAULT_ENTERPRISES, years: int = DEFAULT_YEARS, seed: int = 1,
                      start_year: int = DEFAULT_START_YEAR) -> dict[str, str]:
    """The commands of that history *meant* to be refused: command id -> refusal code.
    Every other command must be accepted."""
    return {cmd["command_id"]: code for cmd, code in generate(enterprises, years, seed, start_year)
            if code is not None}
