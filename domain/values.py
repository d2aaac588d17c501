"""Value objects of the cultivation ledger: codes, regions, levels, actors, money.

Everything here is pure and immutable.  Identifiers follow the national standards
named in docs/domain.md.

The unified social credit code (统一社会信用代码, GB 32100-2015) carries a check
character; :func:`uscc_check_char` computes it and :func:`validate_uscc` refuses a
code whose check fails:

>>> uscc_check_char("91350100M000100Y4")
'3'
>>> validate_uscc("91350100M000100Y43")
'91350100M000100Y43'
>>> validate_uscc("91350100M000100Y44")
Traceback (most recent call last):
...
ValueError: check character is '4' but GB 32100-2015 gives '3'

Regions are 6-digit GB/T 2260 codes; the authority hierarchy follows them:

>>> Region("211402").level, Region("211402").city.code, Region("211402").province.code
('county', '211400', '210000')
>>> Region("210000").covers(Region("211402")), Region("370200").covers(Region("211402"))
(True, False)
"""

from __future__ import annotations

import calendar
import re
from datetime import date
from enum import StrEnum
from functools import lru_cache
from typing import Annotated

import msgspec

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
_USCC_WEIGHTS = [pow(3, i, 31) for i in range(17)]  # w_i = 3^(i-1) mod 31, i = 1..17

NATIONAL_REGION = "000000"


def uscc_check_char(first17: str) -> str:
    """The GB 32100-2015 check character for the first 17 characters of a USCC."""
    if len(first17) != 17:
        raise ValueError(f"needs 17 characters before the check character, got {len(first17)}")
    total = 0
    for i, c in enumerate(first17):
        if c not in _USCC_VALUE:
            raise ValueError(f"character {i + 1} {c!r} is not in the GB 32100-2015 alphabet")
        total += _USCC_VALUE[c] * _USCC_WEIGHTS[i]
    return USCC_ALPHABET[(31 - total % 31) % 31]


def validate_uscc(code: str, *, allow_bad_check: bool = False) -> str:
    """Return ``code`` if it is a well-formed USCC, else raise ``ValueError``.

    ``allow_bad_check`` admits an older code whose check character fails; the
    caller must record the override and the document that allows it.
    """
    if len(code) != 18:
        raise ValueError(f"must be 18 characters, got {len(code)}")
    for i, c in enumerate(code):
        if c not in _USCC_VALUE:
            raise ValueError(f"character {i + 1} {c!r} is not in the GB 32100-2015 alphabet "
                             f"(digits and capitals without I, O, S, V, Z)")
    expected = uscc_check_char(code[:17])
    if code[17] != expected and not allow_bad_check:
        raise ValueError(f"check character is {code[17]!r} but GB 32100-2015 gives {expected!r}")
    if not code[2:8].isdigit():
        raise ValueError(f"characters 3-8 {code[2:8]!r} must be a GB/T 2260 division code")
    return code


def make_uscc(first17: str) -> str:
    """Complete 17 characters with their check character (used by generators and tests)."""
    return first17 + uscc_check_char(first17)


def uscc_region(code: str) -> str:
    """The administrative division code inside a USCC (characters 3-8)."""
    return code[2:8]


class Level(StrEnum):
    """Level (级别) of an authority or a designation."""

    national = "national"
    provincial = "provincial"
    municipal = "municipal"
    county = "county"

    @property
    def rank(self) -> int:
        return _LEVEL_RANK[self]

    @property
    def label(self) -> str:
        return _LEVEL_LABEL[self]


_LEVEL_RANK = {Level.county: 0, Level.municipal: 1, Level.provincial: 2, Level.national: 3}
_LEVEL_LABEL = {Level.county: "县级", Level.municipal: "市级", Level.provincial: "省级", Level.national: "国家级"}


class Region:
    """A GB/T 2260 administrative division; ``000000`` stands for the whole country."""

    __slots__ = ("code",)

    def __init__(self, code: str):
        if len(code) != 6 or not code.isdigit():
            raise ValueError(f"region {code!r} must be a 6-digit GB/T 2260 code")
        if code != NATIONAL_REGION and code[:2] == "00":
            raise ValueError(f"region {code!r} has no province part")
        self.code = code

    def __repr__(self) -> str:
        return f"Region({self.code!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Region) and other.code == self.code

    def __hash__(self) -> int:
        return hash(self.code)

    @property
    def level(self) -> str:
        return _level_of(self.code)

    @property
    def province(self) -> Region:
        return Region(self.code[:2] + "0000") if self.code != NATIONAL_REGION else self

    @property
    def city(self) -> Region:
        if self.level in (Level.national.value, Level.provincial.value):
            return self
        return Region(self.code[:4] + "00")

    def covers(self, other: Region) -> bool:
        """True if ``other`` lies inside this region (a region covers itself)."""
        level = _level_of(self.code)
        if level == _NATIONAL:
            return True
        if level == _PROVINCIAL:
            return other.code[:2] == self.code[:2]
        if level == _MUNICIPAL:
            return other.code[:4] == self.code[:4]
        return other.code == self.code


# The levels as plain text (what Region.level returns): reading a StrEnum member's value
# goes through a descriptor, and every authority check of every command asks for a level.
_NATIONAL, _PROVINCIAL, _MUNICIPAL, _COUNTY = (Level.national.value, Level.provincial.value,
                                               Level.municipal.value, Level.county.value)


def _level_of(code: str) -> str:
    if code == NATIONAL_REGION:
        return _NATIONAL
    if code[2:] == "0000":
        return _PROVINCIAL
    if code[4:] == "00":
        return _MUNICIPAL
    return _COUNTY


@lru_cache(maxsize=65536)
def region_covers(outer: str, inner: str) -> bool:
    """``Region(outer).covers(Region(inner))`` on plain codes (a pure function of two codes,
    asked for by every authority check: remembered; a malformed code raises each time).

    >>> region_covers("210000", "211402"), region_covers("211400", "210102")
    (True, False)
    """
    return Region(outer).covers(Region(inner))


def region_prefix(code: str) -> str:
    """The code prefix shared by every region inside ``code`` (for queries)."""
    level = Region(code).level
    return {"national": "", "provincial": code[:2], "municipal": code[:4]}.get(level, code)


# --- structs used inside events and commands ------------------------------------------

# 000000 (the whole country) or a code with a province part: "001234" is refused at the edge,
# not by a ValueError from Region() deep inside the aggregate.
# Patterns are anchored with \A and \Z, never ^ and $: msgspec searches with Python's re, where
# "$" also matches before a final newline, so "211400\n" would pass a "^...$" pattern.
RegionCode = Annotated[str, msgspec.Meta(pattern=r"\A(000000|(0[1-9]|[1-9][0-9])[0-9]{4})\Z",
                                         description="GB/T 2260 code")]

# Money: integer fen, at most 10^15 fen (10 trillion yuan, above any enterprise's revenue),
# so every sum a projection or a read model keeps stays far inside a signed 64-bit column.
MAX_FEN = 10**15
Fen = Annotated[int, msgspec.Meta(ge=0, le=MAX_FEN, description="money in integer fen (分)")]

# Business dates a command may carry.  The ledger's earliest rule version is of 2018 and its
# documents may backdate; nothing it judges lies before 1990 or after 2099, and every period
# the policy adds to a date (validity, cooling-off, change-report months) then stays inside
# the calendar.
EARLIEST_BUSINESS_DATE = date(1990, 1, 1)
LATEST_BUSINESS_DATE = date(2099, 12, 31)

# Characters no text of the ledger may hold: C0 and C1 controls (NUL among them, which
# PostgreSQL cannot store in text), DEL, surrogates (not encodable as UTF-8: they come from
# undecodable bytes in argv or files), line and paragraph separators, and the bidirectional
# embedding, override and isolate controls (they make a name display as another).
_FORBIDDEN_IN_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069"
                                "\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be ledger text, or None when it can.

    >>> text_problem("葫芦岛市连山区"), text_problem("a\\x00b")
    (None, 'contains the control character U+0000 at position 2; text may hold no control characters')
    """
    m = _FORBIDDEN_IN_TEXT.search(value)
    if m is None:
        return None
    kind = "surrogate" if "\ud800" <= m.group() <= "\udfff" else "control character"
    return (f"contains the {kind} U+{ord(m.group()):04X} at position {m.start() + 1}; "
            f"text may hold no control characters")


def date_problem(d: date) -> str | None:
    """Why ``d`` cannot be a business date, or None when it can.

    >>> date_problem(date(2023, 6, 30)), date_problem(date(9999, 12, 31))
    (None, '9999-12-31 is outside the business dates the ledger accepts (1990-01-01 to 2099-12-31)')
    """
    if EARLIEST_BUSINESS_DATE <= d <= LATEST_BUSINESS_DATE:
        return None
    return (f"{d.isoformat()} is outside the business dates the ledger accepts "
            f"({EARLIEST_BUSINESS_DATE.isoformat()} to {LATEST_BUSINESS_DATE.isoformat()})")


def check_fields(obj: msgspec.Struct, prefix: str = "") -> None:
    """Raise ``ValueError("<field>: <reason>")`` for the first text or date field of ``obj``
    that the ledger cannot hold (see :func:`text_problem`, :func:`date_problem`).  Called
    from ``__post_init__``, so msgspec reports it at the struct's path, and every way a
    command is made (JSON, CLI flags, Python) is checked the same way."""
    for name in obj.__struct_fields__:
        value = getattr(obj, name)
        if isinstance(value, str):
            problem = text_problem(value)
        elif isinstance(value, date):
            problem = date_problem(value)
        else:
            continue
        if problem is not None:
            raise ValueError(f"{prefix}{name}: {problem}")


class Actor(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Who acts: an authority, named by the region it governs, and the person or service.

    ``authority`` is the GB/T 2260 code of the governing region (``000000`` is MIIT), so
    its level follows from the code.  ``role`` distinguishes an enterprise acting for
    itself (self-assessment, filing yearly data) from a government authority.
    """

    authority: RegionCode
    person: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    role: str = "authority"

    def __post_init__(self) -> None:
        if self.role not in ("authority", "enterprise", "auditor"):
            raise ValueError("role: must be one of authority, enterprise, auditor")
        if self.authority != NATIONAL_REGION and self.authority[:2] == "00":
            raise ValueError(f"authority: {self.authority!r} has no province part")

    @property
    def level(self) -> str:
        return Region(self.authority).level


def days_between(a: date, b: date) -> int:
    return (b - a).days


class DateOutOfRange(ValueError):
    """A period added to a date leaves the calendar (years 1 to 9999)."""


def _in_calendar(d: date, year: int, what: str) -> None:
    if not 1 <= year <= 9999:
        raise DateOutOfRange(f"{d.isoformat()} plus {what} is outside the calendar (years 1 to 9999)")


def add_years(d: date, years: int) -> date:
    """``d`` plus whole years; 29 February falls back to 28 February.

    >>> add_years(date(2024, 2, 29), 3)
    datetime.date(2027, 2, 28)
    >>> add_years(date(9998, 1, 1), 3)
    Traceback (most recent call last):
    ...
    domain.values.DateOutOfRange: 9998-01-01 plus 3 years is outside the calendar (years 1 to 9999)
    """
    _in_calendar(d, d.year + years, f"{years} years")
    try:
        return d.replace(year=d.year + years)
    except ValueError:
        return d.replace(year=d.year + years, day=28)


def add_months(d: date, months: int) -> date:
    """``d`` plus whole months, on the last day of a shorter month.

    >>> add_months(date(2023, 11, 30), 3)
    datetime.date(2024, 2, 29)
    >>> add_months(date(9999, 12, 1), 3)
    Traceback (most recent call last):
    ...
    domain.values.DateOutOfRange: 9999-12-01 plus 3 months is outside the calendar (years 1 to 9999)
    """
    m = d.month - 1 + months
    y = d.year + m // 12
    m = m % 12 + 1
    _in_calendar(d, y, f"{months} months")
    return d.replace(year=y, month=m, day=min(d.day, calendar.monthrange(y, m)[1]))
