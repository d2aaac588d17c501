"""Commands: what backend services of authorities ask the ledger to do.

Every command is a frozen msgspec Struct, tagged by its ``command`` field, so one
JSON object (a NATS request, a line of a batch file) decodes to exactly one command
type, and a malformed one fails at the edge with the path of the bad field:

>>> decode_command(b'{"command": "recommend", "command_id": "c1", "uscc": "91211400MA0000001D",'
...   b' "application_id": "a", "occurred_on": "2023-13-01", "actor": {"authority": "210000", "person": "p"}}')
Traceback (most recent call last):
...
services.commands.InputError: $.occurred_on: Invalid RFC3339 encoded date

Every command carries the envelope of the events it produces: a client-chosen
``command_id`` (repeating it returns the first outcome and writes nothing), the
business date ``occurred_on``, the ``actor`` and the ``document`` (文号).
"""

from __future__ import annotations

import ast
import re
import types
import typing
from datetime import date
from functools import cache
from typing import Annotated, Any

import msgspec

from domain.policy import (
    CHANGE_KINDS,
    CREDIT_LISTS,
    LISTING_BOARDS,
    RECOGNITION_LEVELS,
    REVOCATION_REASONS,
    ChangeKind,
    CreditList,
    ListingBoard,
    RecognitionLevel,
    RevocationReason,
)
from domain.values import MAX_FEN, Actor, Fen, RegionCode, check_fields, validate_uscc

# Anchored with \A and \Z (see domain.values.RegionCode): "$" would let a final newline through.
_USCC_PATTERN = r"\A[0-9A-HJ-NP-RTUWXY]{18}\Z"
CommandId = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=r"\A[\x21-\x7e]+\Z")]
Uscc = Annotated[str, msgspec.Meta(pattern=_USCC_PATTERN,
                                   description="统一社会信用代码, GB 32100-2015")]
LocalId = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=r"\A[\x21-\x7e]+\Z")]
# Free text: no control characters (checked by Command.__post_init__, domain.values.check_fields).
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Text = Annotated[str, msgspec.Meta(max_length=2000)]
_IDENT_PATTERN = r"\A[a-z][a-z0-9_]*\Z"
Ident = Annotated[str, msgspec.Meta(pattern=_IDENT_PATTERN, max_length=64)]
Amount = Annotated[int, msgspec.Meta(gt=0, le=MAX_FEN, description="money in integer fen (分), positive")]
# An indicator (revenue in fen, a ratio in basis points, a count of years): bounded like money.
Indicator = Annotated[int, msgspec.Meta(ge=-MAX_FEN, le=MAX_FEN)]
# How many indicators, components or claims one command may carry.
MAX_ENTRIES = 100
Indicators = Annotated[dict[Ident, Indicator], msgspec.Meta(max_length=MAX_ENTRIES)]
# Indicators by data year (年度): the years before a decision that its multi-year criteria read.
# The year is a string key ("2024"): canonical bytes sort a command's keys, and JSON keys are strings.
DataYear = Annotated[str, msgspec.Meta(pattern=r"\A(20[0-9][0-9]|2100)\Z", description="a data year, 2000-2100")]
MAX_YEARS = 5
YearlyIndicators = Annotated[dict[DataYear, Indicators], msgspec.Meta(max_length=MAX_YEARS)]
# A batch (第N批) of a programme's tier: its number, counted from 1 (第五批 is 5).
BatchNumber = Annotated[int, msgspec.Meta(ge=1, le=999, description="第N批: the batch number, from 1")]


class InputError(ValueError):
    """Malformed input: names the field path and what is wrong with it.  Exit code 2."""

    exit_code = 2

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def as_dict(self) -> dict[str, str | None]:
        return {"code": "input.invalid", "rule": "input", "field": self.field, "message": self.message}


class Command(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="command"):
    command_id: CommandId
    occurred_on: date
    actor: Actor
    document: Text = ""

    def __post_init__(self) -> None:
        # Every text and date field, the actor's included: no control characters, business
        # dates in range.  (Here rather than in Actor, so events stored before this check
        # still decode.)
        check_fields(self)
        check_fields(self.actor, "actor.")


class EnterpriseCommand(Command, frozen=True, kw_only=True):
    uscc: Uscc


class Register(EnterpriseCommand, frozen=True, kw_only=True, tag="register"):
    """Register an enterprise.  ``uscc_override`` names the document that admits an
    older code whose check character fails; it stays in the audit trail."""

    name: Name
    region: RegionCode | None = None  # default: the division code inside the USCC
    industry: Annotated[str, msgspec.Meta(pattern=r"\A[A-T][0-9]{0,4}\Z")] | None = None  # GB/T 4754
    listed: bool = False
    uscc_override: Text | None = None
    # the board it is listed on (implies listed); ``listed`` without one: a board not known
    board: ListingBoard | None = None
    group_uscc: Uscc | None = None  # the group (集团) parent or controlling enterprise it belongs to

    def __post_init__(self) -> None:
        super().__post_init__()
        try:
            validate_uscc(self.uscc, allow_bad_check=bool(self.uscc_override))
        except ValueError as e:
            raise ValueError(f"uscc: {e}") from None
        _check_group(self.group_uscc)


def _check_group(group_uscc: str | None) -> None:
    if group_uscc is not None:
        try:
            validate_uscc(group_uscc)
        except ValueError as e:
            raise ValueError(f"group_uscc: {e}") from None


class AdmitToPool(EnterpriseCommand, frozen=True, kw_only=True, tag="admit_to_pool"):
    """Admit an enterprise to a programme tier's cultivation pool (入库)."""

    programme: Ident
    tier: Ident


class RemoveFromPool(EnterpriseCommand, frozen=True, kw_only=True, tag="remove_from_pool"):
    """Remove an enterprise from a cultivation pool (出库)."""

    programme: Ident
    tier: Ident
    reason: Text = ""


class Apply(EnterpriseCommand, frozen=True, kw_only=True, tag="apply"):
    """File an application (申报) for a tier; the ladder is checked on occurred_on."""

    application_id: LocalId
    programme: Ident
    tier: Ident
    product_id: LocalId | None = None
    product_name: Name | None = None
    declared_revenue_fen: Fen | None = None
    employees: Annotated[int, msgspec.Meta(ge=0, le=10_000_000)] | None = None  # 从业人员 (企业划型)
    assets_fen: Fen | None = None  # 资产总额 (企业划型)


class ApplicationCommand(EnterpriseCommand, frozen=True, kw_only=True):
    application_id: LocalId


class Recommend(ApplicationCommand, frozen=True, kw_only=True, tag="recommend"):
    """Recommend an application (推荐) at the acting authority's level; ``batch``: the batch
    (第N批) of the programme's tier it is recommended for, if the authority names one."""

    batch: BatchNumber | None = None



class Assess(ApplicationCommand, frozen=True, kw_only=True, tag="assess"):
    """Record the assessment (审核/专家评审): score, components, indicators, direct-pass claims."""

    score: Annotated[int, msgspec.Meta(ge=0, le=100)] | None = None
    components: Annotated[dict[Ident, Annotated[int, msgspec.Meta(ge=0, le=100)]],
                          msgspec.Meta(max_length=MAX_ENTRIES)] = {}
    indicators: Indicators = {}
    direct_pass: Annotated[list[Ident], msgspec.Meta(max_length=MAX_ENTRIES)] = []
    # data year -> indicators, overriding the yearly data filed (``indicators`` stand for the last year)
    yearly_indicators: YearlyIndicators | None = None


class OpenNotice(ApplicationCommand, frozen=True, kw_only=True, tag="open_notice"):
    """Open the public notice (公示) of an assessed application."""



class Object(ApplicationCommand, frozen=True, kw_only=True, tag="object"):
    """Lodge an objection during the notice period."""

    objection_id: LocalId
    grounds: Text


class ResolveObjection(ApplicationCommand, frozen=True, kw_only=True, tag="resolve_objection"):
    """Resolve an objection: upheld (the application can only be rejected) or dismissed."""

    objection_id: LocalId
    upheld: bool


class Approve(ApplicationCommand, frozen=True, kw_only=True, tag="approve"):
    """Approve (认定/公告) after the notice period; sets valid_from and valid_until by policy.
    ``batch``: the batch (第N批) of the programme's tier the approval announces, if named."""

    batch: BatchNumber | None = None



class Reject(ApplicationCommand, frozen=True, kw_only=True, tag="reject"):
    """Reject an open application."""

    reason: Text


class Withdraw(ApplicationCommand, frozen=True, kw_only=True, tag="withdraw"):
    """Withdraw an open application."""

    reason: Text = ""


class FileYearlyData(EnterpriseCommand, frozen=True, kw_only=True, tag="file_yearly_data"):
    """File the enterprise's yearly data (年度数据更新), needed for a review."""

    programme: Ident = "national"
    data_year: Annotated[int, msgspec.Meta(ge=2000, le=2100)]
    indicators: Indicators = {}


class Review(ApplicationCommand, frozen=True, kw_only=True, tag="review"):
    """Review (复核) a designation inside its review window: a pass renews it, a fail lapses it.
    ``score``, ``indicators`` (the last data year's) and ``yearly_indicators`` are recorded; where
    the judging version reviews on criteria, a pass needs them (with the yearly data filed) to
    meet them."""

    passed: bool
    score: Annotated[int, msgspec.Meta(ge=0, le=100)] | None = None
    indicators: Indicators | None = None
    yearly_indicators: YearlyIndicators | None = None


class Revoke(ApplicationCommand, frozen=True, kw_only=True, tag="revoke"):
    """Revoke (取消) a designation with a reason class and a document."""

    reason: RevocationReason
    effective_on: date | None = None  # default: occurred_on


class ReportChange(EnterpriseCommand, frozen=True, kw_only=True, tag="report_change"):
    """Report a change (domain.policy.CHANGE_KINDS: rename, merger, split, reorganisation,
    relocation, overseas_branch, listing, delisting)."""

    programme: Ident = "national"
    kind: ChangeKind
    changed_on: date
    new_name: Name | None = None
    new_region: RegionCode | None = None
    counterpart_uscc: Uscc | None = None
    board: ListingBoard | None = None  # a listing's board: main, star, chinext, bse, neeq, overseas


class Reconfirm(ApplicationCommand, frozen=True, kw_only=True, tag="reconfirm"):
    """Re-confirm (继续符合条件的, 有效期不变), or end, a designation under re-confirmation: after a change
    its programme lists in reconfirm_after (rename, merger, split, reorganisation, overseas_branch), by the
    tier's deciding authority; after a move to another province, by the new provincial-level authority."""

    confirmed: bool


class GrantReward(EnterpriseCommand, frozen=True, kw_only=True, tag="grant_reward"):
    """Grant a reward (奖补) under a scheme: cap, once per scheme, yearly budget."""

    reward_id: LocalId
    programme: Ident
    scheme: Ident
    amount_fen: Amount
    tranche: Annotated[int, msgspec.Meta(ge=1, le=10)] | None = None
    loan_fen: Amount | None = None
    lpr_bp: Annotated[int, msgspec.Meta(gt=0, le=2000)] | None = None
    days: Annotated[int, msgspec.Meta(gt=0, le=366)] | None = None
    loan_id: LocalId | None = None  # a guarantee-fee subsidy: the recorded loan
    product_id: LocalId | None = None  # a reward resting on a product's recognition (首台套)


class RecordLoan(EnterpriseCommand, frozen=True, kw_only=True, tag="record_loan"):
    """Record a guaranteed bank loan (担保贷款): the facts a guarantee-fee subsidy is judged on."""

    loan_id: LocalId
    lender: Name  # the lending bank
    guarantor: Name  # the guarantee institution (担保机构)
    principal_fen: Amount
    drawn_on: date
    due_on: date
    guarantee_fee_fen: Amount  # the guarantee fee paid
    guarantee_fee_rate_bp: Annotated[int, msgspec.Meta(gt=0, le=10000)]  # its rate, per year of the principal

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.due_on <= self.drawn_on:
            raise ValueError(f"due_on: {self.due_on} must be after drawn_on {self.drawn_on}")


class RecordCreditListing(EnterpriseCommand, frozen=True, kw_only=True, tag="record_credit_listing"):
    """Record that the enterprise was put on (``listed``: 列入) or taken off (移出) a credit list
    (abnormal_operations: 经营异常名录, serious_dishonesty: 严重失信主体名单) on ``listed_on``."""

    credit_list: CreditList
    listed: bool
    listed_on: date


class RecordGroup(EnterpriseCommand, frozen=True, kw_only=True, tag="record_group"):
    """Record the group (集团) parent or controlling enterprise the enterprise belongs to from
    ``occurred_on``; ``group_uscc`` left out: it belongs to none any more."""

    group_uscc: Uscc | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_group(self.group_uscc)


class RecordRepayment(EnterpriseCommand, frozen=True, kw_only=True, tag="record_repayment"):
    """Record that a recorded loan was repaid in full (on time when on or before its due date)."""

    loan_id: LocalId
    repaid_on: date


class RecogniseProduct(EnterpriseCommand, frozen=True, kw_only=True, tag="recognise_product"):
    """Record a product's recognition (首台套认定) at a level, by the recognising authority."""

    programme: Ident
    recognition: Ident
    product_id: LocalId
    product_name: Name
    level: RecognitionLevel  # international (国际), national (国内), provincial (省内)


class TagChain(EnterpriseCommand, frozen=True, kw_only=True, tag="tag_chain"):
    """Tag an enterprise on an industrial chain of a programme (一链一策一批), or untag it."""

    programme: Ident
    chain: Ident
    tagged: bool = True


class ClawBack(EnterpriseCommand, frozen=True, kw_only=True, tag="claw_back"):
    """Claw back (part of) a reward; the correction names the grant it corrects."""

    reward_id: LocalId
    amount_fen: Amount
    reason: Text


class Annul(ApplicationCommand, frozen=True, kw_only=True, tag="annul"):
    """Annul an approval made in error; the annulment names the approval it corrects."""

    reason: Text


# What each field of a command means, for people: the CLI's flag help (``--help`` of every
# command subcommand) is generated from this table and the field's type, never written per flag.
# A key "field" holds for every command with that field, "command.field" for that command only.
# (The closed sets -- kinds, boards, reasons, ... -- and the policy's names are listed beside
# these by the CLI; they are not repeated here.)
FIELD_HELP: dict[str, str] = {
    "command_id": "client-chosen id of the command; repeating it returns the first outcome and writes nothing",
    "occurred_on": "business date (YYYY-MM-DD) the act took effect; may be backdated",
    "document": "the document (文号) the act rests on",
    "uscc": "the enterprise's unified social credit code (统一社会信用代码, 18 characters, GB 32100-2015)",
    "name": "the enterprise's registered name (企业名称)",
    "region": "where the enterprise is registered (default: the division code inside the USCC)",
    "industry": "its industry, a GB/T 4754 code (a letter and up to 4 digits: C3451)",
    "listed": "whether it is listed on a stock exchange (上市)",
    "uscc_override": "the document that admits an older USCC whose check character fails",
    "board": "the board it is listed on (implies listed)",
    "group_uscc": "the USCC of the group (集团) parent or controlling enterprise it belongs to",
    "programme": "the programme (培育体系) the act belongs to",
    "tier": "the tier (梯度) of the programme",
    "reason": "why, in words (kept in the trail)",
    "revoke.reason": "the reason class of the revocation (取消原因)",
    "application_id": "the enterprise's own id of the application (申报) it names",
    "product_id": "the enterprise's own id of the product (a 单项冠军 product, a 首台套 recognition)",
    "product_name": "the product's name",
    "declared_revenue_fen": "the revenue declared in the application, in fen (分; 1 元 = 100 fen)",
    "employees": "the number of employees (从业人员), for the SME classification (企业划型)",
    "assets_fen": "total assets (资产总额) in fen, for the SME classification (企业划型)",
    "batch": "the batch (第N批) of the programme's tier, counted from 1",
    "score": "the score the assessment or review gives (评分), 0-100",
    "components": "a component score of the assessment, 0-100",
    "indicators": "an indicator of the last data year: money in fen (*_fen), ratios in basis points (*_bp, "
                  "1% = 100), counts as they are",
    "direct_pass": "a direct-pass claim (直通条件) of the tier's assessment",
    "yearly_indicators": "an indicator of one earlier data year (money in fen, ratios in basis points)",
    "objection_id": "the id of the objection (异议)",
    "grounds": "the grounds of the objection",
    "upheld": "whether the objection is upheld (the application can then only be rejected)",
    "data_year": "the data year (年度) the figures are for",
    "passed": "whether the review (复核) passed: a pass renews the designation, a fail lapses it",
    "effective_on": "the date the revocation takes effect (default: the business date)",
    "kind": "the kind of change (变更类型)",
    "changed_on": "the date the change took place",
    "new_name": "the enterprise's name after a rename",
    "new_region": "the region after a relocation",
    "counterpart_uscc": "the USCC of the other enterprise of a merger or split",
    "confirmed": "whether the designation is re-confirmed (继续符合条件) or ended",
    "reward_id": "the id of the reward grant (奖补)",
    "scheme": "the reward scheme (奖补项目) of the programme",
    "amount_fen": "the amount in fen (分; 1 元 = 100 fen), positive",
    "tranche": "the tranche (第N笔) of a reward paid in parts, 1-10",
    "loan_fen": "the loan principal an interest subsidy is computed on, in fen",
    "lpr_bp": "the loan prime rate (LPR) in basis points per year (1% = 100)",
    "days": "the days of interest subsidised, 1-366",
    "loan_id": "the id of the recorded guaranteed loan (担保贷款)",
    "lender": "the lending bank",
    "guarantor": "the guarantee institution (担保机构)",
    "principal_fen": "the loan principal in fen",
    "drawn_on": "the date the loan was drawn",
    "due_on": "the date the loan is due (after drawn_on)",
    "guarantee_fee_fen": "the guarantee fee paid, in fen",
    "guarantee_fee_rate_bp": "the guarantee fee rate in basis points per year of the principal (1% = 100)",
    "repaid_on": "the date the loan was repaid in full",
    "recognition": "the product recognition (首台套) of the programme",
    "level": "the reach of the product's recognition",
    "chain": "the industrial chain (产业链) of the programme",
    "tagged": "tag (true) or untag (false) the enterprise on the chain",
    "credit_list": "the credit list",
    "record_credit_listing.listed": "put on the list (true, 列入) or taken off it (false, 移出)",
    "listed_on": "the date it was put on or taken off the list",
}


def field_help(command: str, field: str) -> str:
    """What ``field`` of the command tagged ``command`` means (:data:`FIELD_HELP`).

    >>> field_help("revoke", "reason"), field_help("reject", "reason")
    ('the reason class of the revocation (取消原因)', 'why, in words (kept in the trail)')
    """
    found = FIELD_HELP.get(f"{command}.{field}") or FIELD_HELP.get(field)
    if found is None:  # tests/unit/test_field_help.py finds it first
        raise LookupError(f"{command}.{field} has no description: add it to services.commands.FIELD_HELP")
    return found


AnyCommand = (
    Register | AdmitToPool | RemoveFromPool | Apply | Recommend | Assess | OpenNotice | Object | ResolveObjection
    | Approve | Reject | Withdraw | FileYearlyData | Review | Revoke | ReportChange | Reconfirm | GrantReward
    | ClawBack | Annul | RecordLoan | RecordRepayment | RecogniseProduct | TagChain | RecordCreditListing
    | RecordGroup
)
COMMAND_TYPES: dict[str, type[Command]] = {
    t.__struct_config__.tag: t for t in AnyCommand.__args__  # type: ignore[attr-defined]
}

# The closed sets a command field takes (domain.policy), each with its Chinese labels.
CLOSED_SETS: list[tuple[Any, dict[str, str]]] = [
    (ChangeKind, CHANGE_KINDS), (ListingBoard, LISTING_BOARDS), (RevocationReason, REVOCATION_REASONS),
    (CreditList, CREDIT_LISTS), (RecognitionLevel, RECOGNITION_LEVELS)]


def closed_set(tp: Any) -> dict[str, str] | None:
    """The labels of the closed set a field is typed by (optional or not), or None.

    >>> closed_set(ChangeKind | None)["rename"], closed_set(str)
    ('更名', None)
    """
    options = [a for a in typing.get_args(tp) if a is not type(None)] if typing.get_origin(tp) in (
        typing.Union, types.UnionType) else [tp]
    return next((labels for t, labels in CLOSED_SETS if options == [t]), None)


def _field_choices() -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for t in COMMAND_TYPES.values():
        for f in msgspec.structs.fields(t):
            labels = closed_set(f.type)
            if labels is not None:
                assert found.setdefault(f.name, labels) is labels, f"{f.name} takes two closed sets"
    return found


# field name -> the values it takes with their labels (one closed set per name across the commands)
FIELD_CHOICES = _field_choices()


def choices_text(labels: dict[str, str]) -> str:
    """A closed set as people read it: each identifier with its Chinese label.

    >>> choices_text({"rename": "更名", "merger": "合并"})
    'rename (更名), merger (合并)'
    """
    return ", ".join(f"{k} ({v})" if v else k for k, v in labels.items())


def unknown_choice(value: object, labels: dict[str, str], what: str = "value") -> str:
    """Why ``value`` is none of ``labels``, listing the valid ones (identifiers and labels);
    a Chinese label, or a part of one, is answered with its identifier.

    >>> kinds = {"rename": "更名", "merger": "合并"}
    >>> unknown_choice("fraud", kinds, "kind")
    "unknown kind 'fraud'; valid: rename (更名), merger (合并)"
    >>> unknown_choice("更名", kinds, "kind")
    "'更名' is the label of rename: give the identifier rename (valid: rename (更名), merger (合并))"
    >>> print(unknown_choice("小巨人", {"little_giant": "小巨人企业", "specialized": "专精特新"}, "tier"))
    unknown tier '小巨人': did you mean little_giant? (valid: little_giant (小巨人企业), specialized (专精特新))
    """
    valid = choices_text(labels)
    text = value.strip() if isinstance(value, str) else None
    exact = [k for k, v in labels.items() if text and text in v.split(" / ")]
    if exact:
        return f"{value!r} is the label of {exact[0]}: give the identifier {exact[0]} (valid: {valid})"
    near = [k for k, v in labels.items() if text and (text in v or text.lower() in k)]
    if near:
        return f"unknown {what} {value!r}: did you mean {' or '.join(near)}? (valid: {valid})"
    return f"unknown {what} {value!r}; valid: {valid}"


_decoder = msgspec.json.Decoder(AnyCommand)
_encoder = msgspec.json.Encoder(order="deterministic")
# (a bad dict key: "... - at `key` in `$.field`")
_PATH = re.compile(r"^(?P<msg>.*?)(?: - at (?:`key` in )?`(?P<path>[^`]*)`)?$", re.S)


def input_error(e: msgspec.ValidationError | msgspec.DecodeError) -> InputError:
    m = _PATH.match(str(e))
    assert m is not None
    path, msg = m.group("path") or "$", m.group("msg")
    # A __post_init__ check names its field as "field: reason".
    inner = re.match(r"^([a-z_.]+): (.*)$", msg, re.S)
    if inner:
        path, msg = f"{path}.{inner.group(1)}", inner.group(2)
    if msg == f"Expected `str` matching regex {_IDENT_PATTERN!r}":  # a programme, tier, scheme, ... id
        msg = ("must be an identifier of the policy (lower-case letters, digits and _, from a letter: little_giant), "
               "not a display name; `cultivation policy` lists them with their Chinese names")
    if msg == f"Expected `str` matching regex {_USCC_PATTERN!r}":
        msg = ("must be a USCC (统一社会信用代码, GB 32100-2015): 18 characters, digits and capital letters but I, O, "
               "S, V and Z")
    enum = re.match(r"^Invalid enum value (?P<value>.*)$", msg, re.S)
    labels = FIELD_CHOICES.get(path.rsplit(".", 1)[-1]) if enum else None
    if enum and labels is not None:  # a closed set: say which values there are (JSON lines, NATS, CLI alike)
        value: object = enum.group("value")
        try:
            value = ast.literal_eval(str(value))
        except (ValueError, SyntaxError):
            pass
        msg = unknown_choice(value, labels, path.rsplit(".", 1)[-1].replace("_", " "))
    return InputError(path, msg)


_decoders: dict[str, msgspec.json.Decoder] = {tag: msgspec.json.Decoder(t) for tag, t in COMMAND_TYPES.items()}


def decode_command(data: bytes | str, command: str | None = None) -> AnyCommand:
    """Decode one JSON command; raise :class:`InputError` naming the bad field.

    ``command`` names the type when the request's subject names it (the ``command``
    field may then be left out).  Bytes that are not UTF-8 are malformed input too:

    >>> decode_command(b'{"command": "register", "name": "\\xff"}')
    Traceback (most recent call last):
    ...
    services.commands.InputError: $: not valid UTF-8 (byte 0xff at offset 33): JSON text must be UTF-8
    """
    try:
        return (_decoder if command is None else _decoders[command]).decode(data)
    except msgspec.ValidationError as e:
        raise input_error(e) from None
    except msgspec.DecodeError as e:  # bytes that are not UTF-8 outside a string land here
        raise (_utf8_error(data) or input_error(e)) from None
    except UnicodeDecodeError:  # and inside a string msgspec lets this through
        raise (_utf8_error(data) or InputError("$", "not valid UTF-8: JSON text must be UTF-8")) from None


def _utf8_error(data: bytes | str) -> InputError | None:
    """Where ``data`` stops being UTF-8, or None if it is (msgspec's own error counts from
    the string it was in)."""
    if isinstance(data, str):
        return None
    try:
        bytes(data).decode("utf-8")
    except UnicodeDecodeError as e:
        return InputError("$", f"not valid UTF-8 (byte 0x{e.object[e.start]:02x} at offset {e.start}): "
                               f"JSON text must be UTF-8")
    return None


def convert_command(obj: dict[str, object]) -> AnyCommand:
    """Build a command from Python values (the CLI's flags), validated like JSON."""
    try:
        return msgspec.convert(obj, AnyCommand)
    except msgspec.ValidationError as e:
        raise input_error(e) from None


# Fields a command type gained after ledgers were written.  While one holds its default
# (None) it is left out of the canonical bytes, so a command sent before the field existed
# has the digest it was journaled with, and sending it again is still the same command.
# An entry "field" holds for every command type, "command.field" for that type only (``score``
# and ``indicators`` of an assessment are old fields, and keep their bytes; ``ReportChange.board``
# was there from the start: its digests hold "board":null).
ADDED_FIELDS = ("batch", "register.board", "register.group_uscc", "employees", "assets_fen",
                "assess.yearly_indicators", "review.score", "review.indicators", "review.yearly_indicators")


def encode_command(cmd: Command) -> bytes:
    """Canonical bytes of a command (sorted keys): what its digest is taken over.

    A field of :data:`ADDED_FIELDS` left unset is left out, so a command sent before the
    field existed keeps the bytes, and the digest, it was journalled with.

    >>> cmd = convert_command({"command": "approve", "command_id": "c1", "uscc": "91211400MA0000001D",
    ...     "application_id": "a", "occurred_on": "2023-01-01", "actor": {"authority": "210000", "person": "p"}})
    >>> b"batch" in encode_command(cmd), b'"batch":5' in encode_command(msgspec.structs.replace(cmd, batch=5))
    (False, True)
    """
    kind = type(cmd)
    unset = tuple(i for i in _added_of(kind) if getattr(cmd, kind.__struct_fields__[i]) is None)
    if not unset:
        return _encoder.encode(cmd)
    # The same bytes as before the field existed: the command as a struct of the other
    # fields, in the same order under the same tag (a dict of them cost 4 µs of a command's
    # 130 in a batch: issue 17; tests/unit/test_commands.py holds the two equal).
    legacy, keep = _legacy_struct(kind, unset)
    values = msgspec.structs.astuple(cmd)
    return _encoder.encode(legacy(*[values[i] for i in keep]))


@cache
def _added_of(kind: type) -> tuple[int, ...]:
    """The positions of a command type's fields that are :data:`ADDED_FIELDS`."""
    tag = kind.__struct_config__.tag  # type: ignore[attr-defined]
    return tuple(i for i, f in enumerate(kind.__struct_fields__)  # type: ignore[attr-defined]
                 if f in ADDED_FIELDS or f"{tag}.{f}" in ADDED_FIELDS)


@cache
def _legacy_struct(kind: type, unset: tuple[int, ...]) -> tuple[type, tuple[int, ...]]:
    """A struct of ``kind``'s fields but those at ``unset``, tagged as ``kind``, and the
    positions of the fields it keeps (what :func:`encode_command` encodes)."""
    config = kind.__struct_config__  # type: ignore[attr-defined]
    fields = kind.__struct_fields__  # type: ignore[attr-defined]
    keep = tuple(i for i in range(len(fields)) if i not in unset)
    legacy = msgspec.defstruct(kind.__name__, [(fields[i], Any) for i in keep], tag=config.tag,
                               tag_field=config.tag_field,
                               rename=dict(zip(fields, kind.__struct_encode_fields__)))  # type: ignore[attr-defined]
    return legacy, keep


def command_name(cmd: Command) -> str:
    return type(cmd).__struct_config__.tag  # type: ignore[return-value]
