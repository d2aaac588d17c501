"""The 企业划型 test: whether an enterprise is a small or medium-sized enterprise (中小企业,
medium, small and micro together) under 《中小企业划型标准规定》 (工信部联企业〔2011〕300号).

The thresholds are data (``policies/standards/sme-2011.toml``, one row per industry, each row
citing its article), decoded here into :class:`SmeStandard`; ``infra.policy_files`` reads the
file.  One rule, one home: :meth:`SmeStandard.is_sme` (and :meth:`SmeStandard.judge`, which
says why) is what the ``not_sme`` bar at recommendation calls, and what any twin must call.

An industry's row lists upper bounds (``employees_below``, ``revenue_below_fen``,
``assets_below_fen``): the enterprise is an SME when any one of its figures is below its
bound (300号: "从业人员1000人以下或营业收入40000万元以下的为中小微型企业"); it is not one
only when every bound of its row is known to be reached.  Without the figures that decide
it, the answer is None: no facts, no verdict (and no bar).

>>> std = SmeStandard(document="D", rows=[SmeRow(industry="工业", codes=["B", "C", "D"], employees_below=1000,
...     revenue_below_fen=40_000_000_000, source="D 第四条 (二)")])
>>> std.is_sme("C3441", 999, None, None), std.is_sme("C3441", 1000, 40_000_000_000, None)
(True, False)
>>> std.is_sme("C3441", 1000, None, None) is None, std.is_sme(None, 10, 10, 10) is None
(True, True)
>>> std.judge("C3441", 1000, 40_000_000_000, None).why
'工业 (C3441): 从业人员 1000 >= 1000 人 and 营业收入 40000000000 >= 40000000000 fen: not an SME (D 第四条 (二))'
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import msgspec

Fen = Annotated[int, msgspec.Meta(ge=0)]
Code = Annotated[str, msgspec.Meta(pattern=r"\A[A-T][0-9]{0,4}\Z")]  # GB/T 4754: section letter, then digits


class Struct(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class SmeRow(Struct, frozen=True, kw_only=True):
    """One industry of the standard: the GB/T 4754 codes it covers (a section letter, a
    division ``C13``, a class ``K7010``: prefixes of an enterprise's code; none: every
    industry no other row covers, 其他未列明行业) and its upper bounds for an SME."""

    industry: str
    codes: list[Code] = []
    employees_below: int | None = None
    revenue_below_fen: Fen | None = None
    assets_below_fen: Fen | None = None
    source: str
    assumption: str = ""

    def __post_init__(self) -> None:
        if self.employees_below is None and self.revenue_below_fen is None and self.assets_below_fen is None:
            raise ValueError(f"row {self.industry}: an SME row needs at least one bound")


class Verdict(Struct, frozen=True, kw_only=True):
    sme: bool
    why: str


class SmeStandard(Struct, frozen=True, kw_only=True):
    """A 企业划型 standard: its document and one row per industry."""

    document: str
    name: str = ""
    effective_from: date | None = None
    source: str = ""
    assumption: str = ""
    rows: list[SmeRow]

    def row_for(self, industry: str | None) -> SmeRow | None:
        """The row of ``industry`` (the longest code that is a prefix of it); None when the
        industry is not known, or not known finely enough to choose a row (a section ``F``
        whose rows are divisions ``F51``, ``F52``)."""
        if not industry:
            return None
        best: tuple[int, SmeRow] | None = None
        for row in self.rows:
            for code in row.codes:
                if industry.startswith(code) and (best is None or len(code) > best[0]):
                    best = (len(code), row)
        if best is not None:
            finer = [c for r in self.rows for c in r.codes if len(c) > len(industry) and c.startswith(industry)]
            if finer and best[0] < len(industry):
                return None
            return best[1]
        if any(c.startswith(industry) for r in self.rows for c in r.codes):
            return None  # coarser than the rows that would decide it
        return next((r for r in self.rows if not r.codes), None)

    def judge(self, industry: str | None, employees: int | None, revenue_fen: int | None,
              assets_fen: int | None) -> Verdict | None:
        """Whether the enterprise is an SME, and why; None without the facts that decide it."""
        row = self.row_for(industry)
        if row is None:
            return None
        figures = [("从业人员", employees, row.employees_below, "人"),
                   ("营业收入", revenue_fen, row.revenue_below_fen, "fen"),
                   ("资产总额", assets_fen, row.assets_below_fen, "fen")]
        reached, unknown = [], False
        for label, value, bound, unit in figures:
            if bound is None:
                continue
            if value is None:
                unknown = True
                continue
            if value < bound:
                return Verdict(sme=True, why=f"{row.industry} ({industry}): {label} {value} < {bound} {unit}: an SME "
                                             f"({row.source})")
            reached.append(f"{label} {value} >= {bound} {unit}")
        if unknown:
            return None
        return Verdict(sme=False,
                       why=f"{row.industry} ({industry}): {' and '.join(reached)}: not an SME ({row.source})")

    def is_sme(self, industry: str | None, employees: int | None, revenue_fen: int | None,
               assets_fen: int | None) -> bool | None:
        """True: an SME; False: not one; None: not enough facts to say."""
        verdict = self.judge(industry, employees, revenue_fen, assets_fen)
        return None if verdict is None else verdict.sme


def decode_sme_standard(data: bytes | str) -> SmeStandard:
    """Decode a 企业划型 standard from TOML."""
    return msgspec.toml.decode(data, type=SmeStandard)
