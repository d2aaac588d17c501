"""The enterprise aggregate: one enterprise, every application and designation it holds.

All decisions about one enterprise go through this aggregate, so the rules that look
across its designations (the ladder, cooling-off, reward once per scheme) are checked
against one consistent version.  Each public method checks the rules, then triggers
one event; an event's body only changes state, so replaying the stored events rebuilds
the aggregate exactly without consulting any policy.

Public methods take the envelope every event carries: ``occurred_on`` (the business
date), ``actor`` and ``document``.  The policy version in force on ``occurred_on`` is
passed in by the service layer; the domain never reads files.

>>> from datetime import date
>>> from domain.values import Actor, make_uscc
>>> uscc = make_uscc("91211400MA0000001")
>>> e = Enterprise.register(uscc=uscc, name="葫芦岛某泵业有限公司", region="211402", industry="C3441",
...     listed=False, uscc_override=None, occurred_on=date(2020, 3, 1),
...     actor=Actor(authority="211400", person="city platform"), document="")
>>> e.uscc == uscc, e.region
(True, '211402')
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import msgspec
from eventsourcing.domain import Aggregate, event

from domain.errors import NotFound, RuleViolation
from domain.policy import (
    BARS,
    CHANGE_KINDS,
    CREDIT_LISTS,
    LISTING_BOARDS,
    REVOCATION_REASONS,
    Programme,
    Requirement,
    Scheme,
    Tier,
    Yearly,
    last_data_year,
    merge_yearly,
)
from domain.regions import region_problem
from domain.sme import SmeStandard
from domain.validity import valid_on
from domain.values import Actor, Level, Region, add_months, add_years, region_covers
from domain.workdays import notice_end

LEDGER_NAMESPACE = uuid5(NAMESPACE_URL, "https://cultivation-ledger/")


_NAMESPACE_BYTES = LEDGER_NAMESPACE.bytes


@lru_cache(maxsize=65536)
def enterprise_id(uscc: str) -> UUID:
    """The aggregate id of an enterprise: derived from its USCC, so it is found by code."""
    return uuid5(LEDGER_NAMESPACE, f"enterprise:{uscc}")


_EVENT_SHA1 = hashlib.sha1(_NAMESPACE_BYTES + b"event:")  # the name's common prefix, hashed once
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}  # RFC 4122 variant of a hex digit
# uuid5's bits: keep all but the version nibble and the variant's two bits, then set them (5, 0b10)
_UUID5_KEEP = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_UUID5_SET = (5 << 76) | (0x8000 << 48)


def event_id(originator_id: UUID, version: int) -> UUID:
    """The id of a stored event, derived from its position in its aggregate's sequence:
    ``uuid5(LEDGER_NAMESPACE, f"event:{originator_id}:{version}")``, from the name's common
    prefix hashed once (one is computed per event a command records).

    Deterministic, so the relay, the exports and corrections all name an event the
    same way without storing a second key.

    >>> oid = enterprise_id("91211400MA0000001C")
    >>> event_id(oid, 3) == uuid5(LEDGER_NAMESPACE, f"event:{oid}:3"), event_id(oid, 3).version
    (True, 5)
    """
    h = _EVENT_SHA1.copy()
    h.update(f"{originator_id}:{version}".encode())
    return UUID(int=(int.from_bytes(h.digest()[:16]) & _UUID5_KEEP) | _UUID5_SET)


def _require_recordable(region: str, field: str) -> None:
    """An enterprise is recorded only in a current GB/T 2260 division (README, "Region names":
    old events in an abolished or unknown code still load; only new commands are refused)."""
    problem = region_problem(region)
    if problem is not None:
        raise RuleViolation("identity", "region.unknown", problem, field=field)


def event_id_text(originator_key: str, version: int) -> str:
    """:func:`event_id` as text, computed without building UUID objects (for folds of
    millions of events); ``originator_key`` is the aggregate id as text.

    >>> oid = enterprise_id("91211400MA0000001C")
    >>> event_id_text(str(oid), 3) == str(event_id(oid, 3))
    True
    """
    h = _EVENT_SHA1.copy()
    h.update(f"{originator_key}:{version}".encode())
    x = h.hexdigest()  # uuid5: the SHA-1's first 16 bytes with the version nibble and the variant bits set
    return f"{x[:8]}-{x[8:12]}-5{x[13:16]}-{_VARIANT[x[16]]}{x[17:20]}-{x[20:32]}"


def _city_note(programme: Programme, authority: str, region: str) -> str:
    """Why a refusal of ``authority`` for ``region`` is the 计划单列市 rule, if it is
    (:meth:`~domain.policy.Programme.covers` decides; this only words it)."""
    city = programme.provincial_level_city(region)
    if city is None or city == authority or not region_covers(authority, city):
        return ""
    name = next((c.name for c in programme.provincial_level_cities if c.code == city), city)
    return (f": {region} lies in {name} ({city}), a 计划单列市 acting at provincial level in {programme.key}; "
            f"{city} decides and recommends to the nation for its enterprises, not {authority}")


TERMINAL = ("rejected", "withdrawn", "annulled")
DECIDED = ("approved",)


class Application(msgspec.Struct, kw_only=True):
    """State of one application; once approved it is a designation."""

    id: str
    programme: str
    tier: str
    level: str
    product_id: str | None
    product_name: str | None
    applied_on: date
    status: str = "applied"
    declared_revenue_fen: int | None = None
    employees: int | None = None  # 从业人员, as declared with the application (企业划型)
    assets_fen: int | None = None  # 资产总额, as declared with the application (企业划型)
    recommendations: dict[str, str] = {}  # level -> authority
    recommended_on: date | None = None  # the latest recommendation (rule 1: assessment follows it)
    assessed_on: date | None = None  # rule 1: the notice follows the assessment
    assessment_passed: bool | None = None
    notice_from: date | None = None
    notice_until: date | None = None
    objections: dict[str, str] = {}  # id -> open | upheld | dismissed
    valid_from: date | None = None
    valid_until: date | None = None
    revoked_on: date | None = None
    revocation_reason: str | None = None
    ended_on: date | None = None  # re-confirmation refused
    review_failed: bool = False
    reviews: int = 0
    reviewed_until: date | None = None  # valid_until of the period last reviewed
    first_until: date | None = None  # valid_until as first approved (later periods are renewals)
    renewal_of: str | None = None
    replaced_by: str | None = None
    under_reconfirmation: bool = False
    approved_event: UUID | None = None
    batch: int | None = None  # the approval's batch (第N批) of its programme and tier, when it names one
    recommend_batches: dict[str, int] = {}  # level -> the batch a recommendation at that level named

    def valid_on(self, d: date) -> bool:
        """Rule 4 (:func:`domain.validity.valid_on`) on this application."""
        return valid_on(d, status=self.status, valid_from=self.valid_from, valid_until=self.valid_until,
                        revoked_on=self.revoked_on, ended_on=self.ended_on)

    def is_renewal_on(self, d: date) -> bool:
        """True if on ``d`` this designation stands by a renewal rather than its first approval."""
        return self.renewal_of is not None or (self.first_until is not None and d >= self.first_until)

    @property
    def is_open(self) -> bool:
        return self.status not in TERMINAL and self.status not in DECIDED


class Revocation(msgspec.Struct, frozen=True, kw_only=True):
    application_id: str
    programme: str
    tier: str
    reason: str
    effective_on: date
    barred_until: date | None


class Reward(msgspec.Struct, kw_only=True):
    id: str
    programme: str
    scheme: str
    application_id: str | None
    amount_fen: int
    granted_on: date
    tranche: int | None
    event_id: UUID
    clawed_back_fen: int = 0
    loan_fen: int | None = None  # interest subsidies: the loan subsidised (counts against the yearly loan cap)
    loan_id: str | None = None  # guarantee-fee subsidies: the recorded loan it rests on
    product_id: str | None = None  # rewards resting on a product's recognition (首台套)


class ChangeReport(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    changed_on: date
    reported_on: date
    late: bool
    board: str | None = None  # a listing's board (domain.policy.LISTING_BOARDS)
    # whether the rule version in force on the report costs a review for it (rule 7; None: not recorded)
    forfeits_review: bool | None = None


class CreditEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of a credit list (经营异常名录, 严重失信主体名单): put on it (列入) or taken off
    (移出) on ``listed_on``, as the authority recorded it."""

    listed: bool
    listed_on: date


class GroupHolder(msgspec.Struct, frozen=True, kw_only=True):
    """A fact a recommendation judging ``same_group`` is given by the service layer: another
    enterprise of the applicant's group (集团) or under the same control, its industry, and
    its designation of the tier valid on the recommendation date."""

    uscc: str
    industry: str | None
    application_id: str
    valid_until: date


def credit_standing(entries: Iterable[CreditEntry], on: date) -> date | None:
    """The date an enterprise was put on a credit list if it stands on it on ``on``: its last
    entry dated on or before ``on`` puts it on (one home: the aggregate and the generator's twin).

    >>> es = [CreditEntry(listed=True, listed_on=date(2024, 1, 5)), CreditEntry(listed=False, listed_on=date(2024, 3, 1))]
    >>> credit_standing(es, date(2024, 1, 4)), credit_standing(es, date(2024, 1, 5)), credit_standing(es, date(2024, 3, 1))
    (None, datetime.date(2024, 1, 5), None)
    """
    standing: date | None = None
    for entry in entries:
        if entry.listed_on > on:
            break
        standing = entry.listed_on if entry.listed else None
    return standing


def similar_holder(industry: str | None, uscc: str, holders: Iterable[GroupHolder]) -> GroupHolder | None:
    """The first of ``holders`` (other enterprises of the group holding the tier) whose GB/T 4754
    class (four digits) is the class of ``industry``: a similar product (主导产品相似) read as
    the same class (assumption).  None without a class to compare.

    >>> h = GroupHolder(uscc="B", industry="C3441", application_id="x", valid_until=date(2027, 1, 1))
    >>> similar_holder("C3441", "A", [h]) is h, similar_holder("C3442", "A", [h]), similar_holder("C34", "A", [h])
    (True, None, None)
    """
    cls = (industry or "")[1:5]
    if len(cls) != 4:
        return None
    return next((h for h in holders if h.uscc != uscc and (h.industry or "")[1:5] == cls), None)


class Loan(msgspec.Struct, kw_only=True):
    """A guaranteed bank loan (担保贷款) as recorded: the facts a guarantee-fee subsidy is judged on."""

    id: str
    lender: str
    guarantor: str
    principal_fen: int
    drawn_on: date
    due_on: date
    guarantee_fee_fen: int
    guarantee_fee_rate_bp: int
    repaid_on: date | None = None
    on_time: bool | None = None


class ProductRecognition(msgspec.Struct, frozen=True, kw_only=True):
    """A product's recognition (首台套认定) at a level, by the recognising authority."""

    programme: str
    recognition: str
    product_id: str
    product_name: str
    level: str
    recognised_on: date
    recognised_by: str


# The aggregate attributes the library keeps with a leading underscore, as snapshot state names.
SNAPSHOT_RENAME = {"created_on": "_created_on", "modified_on": "_modified_on"}


class EnterpriseState(msgspec.Struct, kw_only=True, rename=SNAPSHOT_RENAME):
    """The typed state of an :class:`Enterprise` in a snapshot (what ``vars()`` holds)."""

    created_on: datetime
    modified_on: datetime
    uscc: str
    name: str
    region: str
    industry: str | None
    listed: bool
    uscc_override: str | None
    registered_on: date
    pools: dict[str, date | None]
    applications: dict[str, Application]
    revocations: list[Revocation]
    rewards: dict[str, Reward]
    changes: list[ChangeReport]
    yearly_data: dict[int, bool]
    names: list[str]
    dated_to: date | None = None  # None in snapshots taken before it was kept: not known, read the events
    loans: dict[str, Loan] = {}
    recognitions: dict[str, ProductRecognition] = {}  # "programme/recognition/product_id" ->
    chains: dict[str, date | None] = {}  # "programme/chain" -> tagged since (None: untagged)
    board: str | None = None  # the board of a listing at registration (domain.policy.LISTING_BOARDS)
    group_uscc: str | None = None  # the group (集团) or controlling enterprise it belongs to
    credit_lists: dict[str, list[CreditEntry]] = {}  # domain.policy.CREDIT_LISTS -> entries, oldest first
    # data year -> the indicators filed for it; None in snapshots taken before it was kept (the
    # ledger then folds the enterprise from its events instead: services.ledger.Ledger.load_many)
    yearly_indicators: dict[int, dict[str, int]] | None = None


class Enterprise(Aggregate):
    """An enterprise (企业) on the cultivation ladder."""

    SnapshotState = EnterpriseState  # how infra.mapper types a snapshot's state

    class Event(Aggregate.Event):
        """Every event of an enterprise.  Applying one raises ``dated_to``, the latest
        business date of the enterprise's events: a command dated before it is judged on
        :meth:`Enterprise.as_of` its own date (see the ledger's ``_decide``).  Derived state
        only, recomputed by every replay; the stored topics and payloads are unchanged."""

        def apply(self, aggregate: Any) -> None:
            on = getattr(self, "occurred_on", None)
            if on is not None and aggregate.dated_to is not None and on > aggregate.dated_to:
                aggregate.dated_to = on
            super().apply(aggregate)

    # Events that gained a field after stores were written declare their class, so the
    # field has its default (``infra.mapper`` decodes an old event without it).
    class Recommended(Event):
        application_id: str
        level: str
        occurred_on: date
        actor: Actor
        document: str
        batch: int | None = None  # the batch (第N批) the recommendation is sent in, if it names one

    class Approved(Event):
        application_id: str
        valid_from: date
        valid_until: date
        policy: str
        occurred_on: date
        actor: Actor
        document: str
        batch: int | None = None  # the batch (第N批) the approval announces, if it names one

    class ChangeReported(Event):
        kind: str
        changed_on: date
        due_on: date
        late: bool
        new_name: str | None
        new_region: str | None
        counterpart_uscc: str | None
        reconfirmation: list[str]
        occurred_on: date
        actor: Actor
        document: str
        board: str | None = None
        # rule 7: the version in force on the report says whether this late report costs a review
        forfeits_review: bool | None = None

    class Assessed(Event):
        application_id: str
        score: int | None
        components: dict[str, int]
        indicators: dict[str, int]
        direct_pass: list[str]
        passed: bool
        failures: list[str]
        policy: str
        occurred_on: date
        actor: Actor
        document: str
        # the yearly data the multi-year criteria were judged on (filed data and the command's)
        yearly_indicators: dict[int, dict[str, int]] | None = None

    class Reviewed(Event):
        application_id: str
        passed: bool
        valid_until: date | None
        new_application_id: str | None
        policy: str  # the rule version that judged the review (PolicyBook.reviewing)
        occurred_on: date
        actor: Actor
        document: str
        score: int | None = None
        indicators: dict[str, int] | None = None
        yearly_indicators: dict[int, dict[str, int]] | None = None
        failures: list[str] | None = None  # the criteria the data fail (reviewed_on_criteria)

    @staticmethod
    def create_id(uscc: str, **_: Any) -> UUID:
        return enterprise_id(uscc)

    # ------------------------------------------------------------------ registration
    @classmethod
    def register(cls, *, uscc: str, name: str, region: str, industry: str | None, listed: bool,
                 uscc_override: str | None, occurred_on: date, actor: Actor, document: str,
                 board: str | None = None, group_uscc: str | None = None) -> Enterprise:
        """Register an enterprise.  The USCC check was done at the edge; an override of a
        failing check character is carried as ``uscc_override`` (the document allowing it).
        ``board``: the board it is listed on (a board makes it listed; ``listed`` without a
        board is a listing whose board is not known).  ``group_uscc``: the group (集团) parent
        or controlling enterprise it belongs to (the ``same_group`` bar)."""
        Region(region)
        if board is not None and board not in LISTING_BOARDS:
            raise RuleViolation("change", "change.board_not_listing",
                                f"board must be one of {list(LISTING_BOARDS)}", field="board")
        if group_uscc is not None and group_uscc == uscc:
            raise RuleViolation("identity", "group.self", f"enterprise {uscc} cannot be its own group", field="group_uscc")
        _require_recordable(region, "region")
        if actor.role == "auditor" or not region_covers(actor.authority, region):
            raise RuleViolation("authority", "register.not_covering",
                                f"{actor.role} {actor.authority} does not cover region {region}",
                                field="actor.authority")
        return cls._create(cls.Registered, uscc=uscc, name=name, region=region, industry=industry,
                           listed=listed or board is not None, uscc_override=uscc_override, occurred_on=occurred_on,
                           actor=actor, document=document, board=board, group_uscc=group_uscc)

    @classmethod
    def register_new(cls, *, registered: bool, uscc: str, name: str, region: str, industry: str | None,
                     listed: bool, uscc_override: str | None, occurred_on: date, actor: Actor,
                     document: str, board: str | None = None, group_uscc: str | None = None) -> Enterprise:
        """:meth:`register`, unless an enterprise of this USCC is ``registered`` already
        (identity: one aggregate per code).  That is checked first, before the region and
        the actor's authority.

        >>> from datetime import date
        >>> from domain.values import Actor, make_uscc
        >>> Enterprise.register_new(registered=True, uscc=make_uscc("91211400MA0000003"), name="某厂",
        ...     region="211402", industry=None, listed=False, uscc_override=None, occurred_on=date(2020, 3, 1),
        ...     actor=Actor(authority="211400", person="city"), document="")
        Traceback (most recent call last):
        ...
        domain.errors.RuleViolation: register.exists [uscc]: enterprise 91211400MA0000003J is already registered (rule: Identity: enterprises, applications and products are named consistently)
        """
        if registered:
            raise RuleViolation("identity", "register.exists", f"enterprise {uscc} is already registered",
                                field="uscc")
        return cls.register(uscc=uscc, name=name, region=region, industry=industry, listed=listed,
                            uscc_override=uscc_override, occurred_on=occurred_on, actor=actor, document=document,
                            board=board, group_uscc=group_uscc)

    class Registered(Aggregate.Created):
        uscc: str
        name: str
        region: str
        industry: str | None
        listed: bool
        uscc_override: str | None
        occurred_on: date
        actor: Actor
        document: str
        board: str | None = None  # the board it is listed on, if named (added later: stored ones lack it)
        group_uscc: str | None = None  # the group it belongs to, if named (added later)

    def __init__(self, *, uscc: str, name: str, region: str, industry: str | None, listed: bool,
                 uscc_override: str | None, occurred_on: date, actor: Actor, document: str,
                 board: str | None = None, group_uscc: str | None = None):
        self.uscc = uscc
        self.name = name
        self.region = region
        self.industry = industry
        self.listed = listed
        self.uscc_override = uscc_override
        self.registered_on = occurred_on
        self.pools: dict[str, date | None] = {}  # "programme/tier" -> admitted on (None when removed)
        self.applications: dict[str, Application] = {}
        self.revocations: list[Revocation] = []
        self.rewards: dict[str, Reward] = {}
        self.changes: list[ChangeReport] = []
        self.yearly_data: dict[int, bool] = {}  # data year -> filed late?
        self.yearly_indicators: dict[int, dict[str, int]] | None = {}  # data year -> indicators filed
        self.names: list[str] = [name]
        self.dated_to: date | None = occurred_on  # raised by every later event (Enterprise.Event.apply)
        self.loans: dict[str, Loan] = {}
        self.recognitions: dict[str, ProductRecognition] = {}
        self.chains: dict[str, date | None] = {}
        self.board = board
        self.group_uscc = group_uscc
        self.credit_lists: dict[str, list[CreditEntry]] = {}

    # ------------------------------------------------------------------ business time
    @classmethod
    def as_of(cls, events: Iterable[Aggregate.Event], on: date) -> Enterprise | None:
        """The enterprise as it stood on business date ``on``: a fresh aggregate folded, in
        ledger (version) order, from those of its ``events`` whose ``occurred_on`` is on or
        before ``on``; None if it was not registered by then.  Versions skipped stay
        skipped, so an event id an event body derives from the version (``approved_event``,
        a reward's ``event_id``) names the stored event.

        >>> from datetime import date
        >>> from domain.values import Actor, make_uscc
        >>> city = Actor(authority="211400", person="city")
        >>> e = Enterprise.register(uscc=make_uscc("91211400MA0000002"), name="某阀门厂", region="211402",
        ...     industry=None, listed=False, uscc_override=None, occurred_on=date(2020, 3, 1), actor=city,
        ...     document="")
        >>> e._change_reported(kind="listing", changed_on=date(2021, 5, 1), due_on=date(2021, 8, 1), late=False,
        ...     new_name=None, new_region=None, counterpart_uscc=None, reconfirmation=[],
        ...     occurred_on=date(2021, 5, 10), actor=city, document="")   # the event bodies, without policy
        >>> e._yearly_data_filed(data_year=2019, indicators={}, deadline=date(2020, 4, 30), late=False,
        ...     occurred_on=date(2020, 4, 1), actor=city, document="")   # recorded after, dated before
        >>> events = e.collect_events()
        >>> e.dated_to, e.listed, e.yearly_data
        (datetime.date(2021, 5, 10), True, {2019: False})
        >>> then = Enterprise.as_of(events, date(2020, 12, 31))
        >>> then.listed, then.yearly_data, then.dated_to, then.version
        (False, {2019: False}, datetime.date(2020, 4, 1), 3)
        >>> Enterprise.as_of(events, date(2020, 2, 29)) is None
        True
        """
        agg: Enterprise | None = None
        for ev in events:
            if ev.occurred_on > on:  # type: ignore[attr-defined]
                continue
            if agg is None:
                if not isinstance(ev, cls.Registered):  # registration is dated after ``on``
                    return None
                agg = ev.mutate(None)
                continue
            agg.version = ev.originator_version - 1  # let the library's sequence check pass a skipped version
            ev.mutate(agg)
        return agg

    # ------------------------------------------------------------------ helpers
    def application(self, application_id: str) -> Application:
        try:
            return self.applications[application_id]
        except KeyError:
            raise NotFound("identity", "application.not_found",
                           f"enterprise {self.uscc} has no application {application_id!r}",
                           field="application_id") from None

    def designations(self) -> list[Application]:
        return [a for a in self.applications.values() if a.status == "approved"]

    def valid_designations(self, on: date) -> list[Application]:
        return [a for a in self.applications.values() if a.valid_on(on)]

    def _matching_valid(self, req: Requirement, on: date) -> list[Application]:
        return [a for a in self.valid_designations(on)
                if a.tier == req.tier
                and (req.level is None or a.level == req.level)
                and (req.programme is None or a.programme == req.programme)]

    def _require_decider(self, actor: Actor, programme: Programme, tier: Tier, field: str = "actor.authority",
                         *, at: str | None = None, act: str = "decided") -> None:
        """Rule 2: the authority acting at level ``at`` (default: the tier's deciding level)
        for this enterprise in this programme: at that level in the programme (a 计划单列市 at
        provincial level, its districts at municipal level), covering the enterprise, and
        inside the programme's jurisdiction.  ``act`` names the step in the refusal: the
        tier's ``assessed_at`` level assesses, its ``noticed_at`` level holds the notice."""
        if actor.role != "authority":
            raise RuleViolation("authority", "authority.not_an_authority",
                                f"a {actor.role} cannot act on {tier.id}", field="actor.role")
        wanted = tier.deciding_level if at is None else at
        level = programme.authority_level(actor.authority)  # a 计划单列市 acts at provincial level
        if level != wanted:
            raise RuleViolation("authority", "authority.wrong_level",
                                f"{tier.id} in {programme.key} is {act} at {wanted} level; "
                                f"authority {actor.authority} acts at {level} level", field=field)
        if not programme.covers(actor.authority, self.region) or not region_covers(programme.jurisdiction,
                                                                                    actor.authority):
            raise RuleViolation("authority", "authority.not_covering",
                                f"authority {actor.authority} does not cover enterprise region {self.region} "
                                f"within programme jurisdiction {programme.jurisdiction}"
                                f"{_city_note(programme, actor.authority, self.region)}", field=field)

    def _require_covering(self, actor: Actor, field: str = "actor.authority") -> None:
        if actor.role == "enterprise":
            if not region_covers(actor.authority, self.region):
                raise RuleViolation("authority", "authority.not_covering",
                                    f"enterprise actor's region {actor.authority} does not cover {self.region}",
                                    field=field)
            return
        if actor.role != "authority" or not region_covers(actor.authority, self.region):
            raise RuleViolation("authority", "authority.not_covering",
                                f"authority {actor.authority} ({actor.role}) does not cover enterprise region "
                                f"{self.region}", field=field)

    @staticmethod
    def _require_after(earlier: date | None, later: date, what: str, field: str = "occurred_on") -> None:
        if earlier is not None and later < earlier:
            raise RuleViolation("order", "order.backdated",
                                f"{field} {later} is before {what} {earlier}", field=field)

    # ------------------------------------------------------------------ pool (入库/出库)
    def admit_to_pool(self, *, programme: Programme, tier: str, occurred_on: date, actor: Actor, document: str) -> None:
        t = programme.tier(tier)
        self._require_covering(actor)
        key = f"{programme.id}/{t.id}"
        if self.pools.get(key) is not None:
            raise RuleViolation("order", "pool.already_admitted",
                                f"{self.uscc} is already in the {key} pool since {self.pools[key]}", field="tier")
        self._require_after(self.registered_on, occurred_on, "registration")
        self._admitted_to_pool(programme=programme.id, tier=t.id, occurred_on=occurred_on, actor=actor,
                               document=document)

    @event("AdmittedToPool")
    def _admitted_to_pool(self, programme: str, tier: str, occurred_on: date, actor: Actor, document: str) -> None:
        self.pools[f"{programme}/{tier}"] = occurred_on

    def remove_from_pool(self, *, programme: Programme, tier: str, reason: str, occurred_on: date, actor: Actor,
                         document: str) -> None:
        t = programme.tier(tier)
        self._require_covering(actor)
        key = f"{programme.id}/{t.id}"
        if self.pools.get(key) is None:
            raise RuleViolation("order", "pool.not_admitted", f"{self.uscc} is not in the {key} pool", field="tier")
        self._require_after(self.pools[key], occurred_on, "admission")
        self._removed_from_pool(programme=programme.id, tier=t.id, reason=reason, occurred_on=occurred_on,
                                actor=actor, document=document)

    @event("RemovedFromPool")
    def _removed_from_pool(self, programme: str, tier: str, reason: str, occurred_on: date, actor: Actor,
                           document: str) -> None:
        self.pools[f"{programme}/{tier}"] = None

    # ------------------------------------------------------------------ apply (申报)
    def apply(self, *, application_id: str, programme: Programme, tier: str, product_id: str | None,
              product_name: str | None, declared_revenue_fen: int | None, occurred_on: date, actor: Actor,
              document: str, employees: int | None = None, assets_fen: int | None = None) -> None:
        """File an application.  ``declared_revenue_fen``, ``employees`` and ``assets_fen``:
        the figures the enterprise declares with it (the ladder's revenue condition, the
        企业划型 test of the ``not_sme`` bar at recommendation)."""
        t = programme.tier(tier)
        self._require_covering(actor)
        self._require_after(self.registered_on, occurred_on, "registration")
        if application_id in self.applications:
            raise RuleViolation("identity", "apply.duplicate_id",
                                f"application {application_id!r} already exists", field="application_id")
        if t.subject == "product" and not product_id:
            raise RuleViolation("identity", "apply.product_required",
                                f"{t.id} designates a product or technology: product_id is required",
                                field="product_id")
        if t.subject == "enterprise" and product_id:
            raise RuleViolation("identity", "apply.product_not_allowed",
                                f"{t.id} designates the enterprise, not a product", field="product_id")
        for a in self.applications.values():
            if a.programme == programme.id and a.tier == t.id and a.product_id == product_id:
                if a.is_open:
                    raise RuleViolation("order", "apply.already_open",
                                        f"application {a.id!r} for {t.id} is still open ({a.status})",
                                        field="tier")
                # designated: valid now, or approved and not yet in force (Liaoning: from 1 January)
                pending = (a.valid_from is not None and occurred_on < a.valid_from and a.valid_on(a.valid_from))
                if a.valid_on(occurred_on) or pending:  # a replaced one still runs to its end
                    raise RuleViolation("ladder", "apply.already_designated",
                                        f"already designated {t.id} until {a.valid_until} ({a.id!r}); "
                                        f"renewal goes through review", field="tier")
        # Rule 6: cooling-off after a revocation of the same tier.
        for r in self.revocations:
            if r.programme == programme.id and r.tier == t.id and r.barred_until and occurred_on < r.barred_until:
                raise RuleViolation("revocation", "apply.cooling_off",
                                    f"{t.id} was revoked on {r.effective_on} ({REVOCATION_REASONS[r.reason]}); "
                                    f"no new application before {r.barred_until}", field="occurred_on")
        # Rule 3: the ladder.
        self._check_ladder(t, programme, occurred_on, declared_revenue_fen)
        self._applied(application_id=application_id, programme=programme.id, tier=t.id,
                      level=t.deciding_level.value, product_id=product_id, product_name=product_name,
                      declared_revenue_fen=declared_revenue_fen, policy=programme.key, occurred_on=occurred_on,
                      actor=actor, document=document, employees=employees, assets_fen=assets_fen)

    def _check_ladder(self, t: Tier, programme: Programme, on: date, revenue_fen: int | None) -> None:
        for req in t.requires:
            if req.when_revenue_below_fen is not None and revenue_fen is not None \
                    and revenue_fen >= req.when_revenue_below_fen:
                continue
            if not self._matching_valid(req, on):
                level = f"{req.level} " if req.level else ""
                cond = (f" (required below revenue {req.when_revenue_below_fen} fen)"
                        if req.when_revenue_below_fen is not None else "")
                raise RuleViolation("ladder", "ladder.prerequisite_missing",
                                    f"{t.id} in {programme.key} needs a valid {level}{req.tier} designation "
                                    f"on {on}{cond}", field="tier")
        for req in t.excludes:
            hit = self._matching_valid(req, on)
            if hit:
                raise RuleViolation("ladder", "ladder.excluded",
                                    f"{t.id} in {programme.key} excludes holders of {req.tier} "
                                    f"({hit[0].id!r} valid until {hit[0].valid_until})", field="tier")
        self._check_listing(t, programme, "tier")

    # ------------------------------------------------------------------ listing (上市/挂牌)
    def listing_board(self) -> tuple[bool, str | None]:
        """Whether the enterprise stands listed, and the board (None: not reported).  The
        board is its last listing report's (:meth:`listing`), else the one named at
        registration; a delisting ends the listing."""
        if not self.listed:
            return False, None
        last = self.listing()
        return True, (last.board if last is not None else self.board)

    def _check_listing(self, t: Tier, programme: Programme, field: str) -> None:
        """Rule 3: a tier that excludes listings on some boards (``Tier.excludes_listing``:
        重点"小巨人" excludes 主板, 科创板, 创业板 and 境外, not 新三板 or 北交所)."""
        listed, board = self.listing_board()
        if listed and t.excludes_listing(board):
            on = (f"on {board} ({LISTING_BOARDS[board]})" if board is not None else
                  "on a board not reported (read as excluded: only a listing reported on a board the tier does "
                  "not exclude stays eligible)")
            boards = ", ".join(t.excludes_boards) or "any board"
            raise RuleViolation("ladder", "ladder.listed_excluded",
                                f"{t.id} in {programme.key} excludes companies listed on {boards}; {self.uscc} "
                                f"is listed {on}", field=field)

    class Applied(Event):
        application_id: str
        programme: str
        tier: str
        level: str
        product_id: str | None
        product_name: str | None
        declared_revenue_fen: int | None
        policy: str
        occurred_on: date
        actor: Actor
        document: str
        employees: int | None = None  # added with the not_sme bar: stored events lack them
        assets_fen: int | None = None

    @event(Applied)
    def _applied(self, application_id: str, programme: str, tier: str, level: str, product_id: str | None,
                 product_name: str | None, declared_revenue_fen: int | None, policy: str, occurred_on: date,
                 actor: Actor, document: str, employees: int | None = None, assets_fen: int | None = None) -> None:
        self.applications[application_id] = Application(
            id=application_id, programme=programme, tier=tier, level=level, product_id=product_id,
            product_name=product_name, applied_on=occurred_on, declared_revenue_fen=declared_revenue_fen,
            employees=employees, assets_fen=assets_fen)

    # ------------------------------------------------------------------ recommend (推荐)
    def recommend(self, *, application_id: str, programme: Programme, occurred_on: date, actor: Actor,
                  document: str, batch: int | None = None, sme: SmeStandard | None = None,
                  group_holders: Iterable[GroupHolder] = ()) -> None:
        """Recommend (推荐) at the actor's level.  Besides order, authority and the revocation
        bar, the tier's listing exclusion and its ``bars`` (:meth:`_check_bars`) are judged
        on the facts dated up to ``occurred_on``: ``sme`` is the 企业划型 standard in force,
        ``group_holders`` the other enterprises of its group holding the tier that day
        (facts the service layer looks up: the aggregate reads no other aggregate)."""
        a = self.application(application_id)
        t = programme.tier(a.tier)
        # What the command alone decides comes first: a refusal keeps its code whatever the
        # enterprise's state became since (same-day facts recorded after it, a resubmission).
        level = programme.authority_level(actor.authority)  # a 计划单列市 recommends at provincial level
        if actor.role != "authority" or level not in t.recommend_levels:
            raise RuleViolation("authority", "recommend.wrong_level",
                                f"{t.id} is recommended at {[str(lv.value) for lv in t.recommend_levels] or 'no'} "
                                f"level; authority {actor.authority} acts at {level} level in {programme.key}",
                                field="actor.authority")
        if a.status not in ("applied", "recommended"):
            raise RuleViolation("order", "recommend.wrong_stage",
                                f"application {a.id!r} is {a.status}; recommendations come before assessment",
                                field="application_id")
        self._require_after(a.applied_on, occurred_on, "the application")
        if not programme.covers(actor.authority, self.region):
            raise RuleViolation("authority", "recommend.not_covering",
                                f"authority {actor.authority} does not cover enterprise region {self.region}"
                                f"{_city_note(programme, actor.authority, self.region)}", field="actor.authority")
        if level in a.recommendations:
            raise RuleViolation("order", "recommend.duplicate",
                                f"already recommended at {level} level by {a.recommendations[level]}",
                                field="actor.authority")
        bar_from = add_years(occurred_on, -t.recommend_bar_years)
        for r in self.revocations:
            if r.reason in t.recommend_bar_reasons and bar_from < r.effective_on <= occurred_on:
                raise RuleViolation("revocation", "recommend.barred",
                                    f"a designation was revoked on {r.effective_on} for "
                                    f"{REVOCATION_REASONS[r.reason]}; no recommendation within "
                                    f"{t.recommend_bar_years} years", field="application_id")
        for req in t.excludes:
            hit = self._matching_valid(req, occurred_on)
            if hit:
                raise RuleViolation("ladder", "ladder.excluded",
                                    f"{t.id} is not recommended for holders of {req.tier} ({hit[0].id!r})",
                                    field="application_id")
        self._check_listing(t, programme, "application_id")
        self._check_bars(a, t, programme, occurred_on, sme, group_holders)
        self._recommended(application_id=a.id, level=level, occurred_on=occurred_on, actor=actor,
                          document=document, batch=batch)

    def on_credit_list(self, credit_list: str, on: date) -> date | None:
        """The date the enterprise was put on ``credit_list`` if it stands on it on ``on``
        (its last entry dated on or before ``on`` puts it on), else None."""
        return credit_standing(self.credit_lists.get(credit_list, ()), on)

    def _check_bars(self, a: Application, t: Tier, programme: Programme, on: date, sme: SmeStandard | None,
                    group_holders: Iterable[GroupHolder]) -> None:
        """What bars a recommendation (the tier's ``bars``, domain.policy.BARS), each with its code."""
        rule = f"{t.id} in {programme.key} bars"
        for bar in t.bars:
            if bar in CREDIT_LISTS:
                since = self.on_credit_list(bar, on)
                if since is None:
                    continue
                why = (f"{rule} an enterprise {BARS[bar]}: {self.uscc} is on the {CREDIT_LISTS[bar]} since {since}, "
                       f"and not removed by {on}")
                if bar == "abnormal_operations":
                    raise RuleViolation("ladder", "recommend.abnormal_operations", why, field="application_id")
                raise RuleViolation("ladder", "recommend.seriously_dishonest", why, field="application_id")
            elif bar == "not_sme" and sme is not None:
                verdict = sme.judge(self.industry, a.employees, a.declared_revenue_fen, a.assets_fen)
                if verdict is not None and not verdict.sme:
                    raise RuleViolation("ladder", "recommend.not_sme",
                                        f"{rule} an enterprise {BARS[bar]} ({sme.document}): {verdict.why}",
                                        field="application_id")
            elif bar == "same_group":
                h = similar_holder(self.industry, self.uscc, group_holders)
                if h is not None:
                    raise RuleViolation("ladder", "recommend.same_group",
                                        f"{rule} an enterprise {BARS[bar]}: {h.uscc}, of the same group as "
                                        f"{self.uscc} (group {self.group_uscc or self.uscc}), holds {t.id} "
                                        f"({h.application_id!r}, valid until {h.valid_until}) in the same GB/T 4754 "
                                        f"class {h.industry} (a similar product read as the same class: assumption)",
                                        field="application_id")

    @event(Recommended)
    def _recommended(self, application_id: str, level: str, occurred_on: date, actor: Actor, document: str,
                     batch: int | None = None) -> None:
        a = self.applications[application_id]
        if batch is not None:
            a.recommend_batches = {**a.recommend_batches, level: batch}
        a.recommendations[level] = actor.authority
        a.recommended_on = max(a.recommended_on or occurred_on, occurred_on)
        a.status = "recommended"

    # ------------------------------------------------------------------ assess (审核/评审)
    def judged_yearly(self, given: Yearly | None, indicators: dict[str, int], last_year: int,
                      years: list[int]) -> Yearly:
        """The yearly data a decision reads (domain.policy.merge_yearly): the data filed,
        overridden by the command's yearly figures and, for the last year, its indicators."""
        return merge_yearly(self.yearly_indicators or {}, given, indicators, last_year, years)

    def assess(self, *, application_id: str, programme: Programme, score: int | None, components: dict[str, int],
               indicators: dict[str, int], direct_pass: list[str], occurred_on: date, actor: Actor,
               document: str, yearly_indicators: Yearly | None = None) -> None:
        a = self.application(application_id)
        t = programme.tier(a.tier)
        missing = [lv.value for lv in t.recommend_levels if lv.value not in a.recommendations]
        if a.status not in ("applied", "recommended") or missing:
            raise RuleViolation("order", "assess.not_recommended",
                                f"application {a.id!r} is {a.status}; assessment needs recommendations from "
                                f"{missing or 'no further'} level(s) first", field="application_id")
        self._require_after(a.applied_on, occurred_on, "the application")
        self._require_after(a.recommended_on, occurred_on, "the recommendation")
        self._require_decider(actor, programme, t, at=t.assessed_at, act="assessed")
        last = last_data_year(occurred_on)
        years = t.assessment.data_years(last)
        # judged on the years the criteria read; recorded with every year the command gives too
        yearly = self.judged_yearly(yearly_indicators, indicators, last,
                                    sorted({*years, *(yearly_indicators or {})}))
        failures = t.assessment.judge(score, components, indicators, direct_pass, yearly=yearly, last_year=last)
        self._assessed(application_id=a.id, score=score, components=components, indicators=indicators,
                       direct_pass=direct_pass, passed=not failures, failures=failures, policy=programme.key,
                       occurred_on=occurred_on, actor=actor, document=document,
                       yearly_indicators=yearly if len(years) > 1 or yearly_indicators else None)

    @event(Assessed)
    def _assessed(self, application_id: str, score: int | None, components: dict[str, int],
                  indicators: dict[str, int], direct_pass: list[str], passed: bool, failures: list[str],
                  policy: str, occurred_on: date, actor: Actor, document: str,
                  yearly_indicators: Yearly | None = None) -> None:
        a = self.applications[application_id]
        a.assessment_passed = passed
        a.assessed_on = occurred_on
        a.status = "assessed"

    # ------------------------------------------------------------------ notice (公示) and objections
    def open_notice(self, *, application_id: str, programme: Programme, occurred_on: date, actor: Actor,
                    document: str) -> None:
        a = self.application(application_id)
        t = programme.tier(a.tier)
        if a.status != "assessed" or not a.assessment_passed:
            raise RuleViolation("order", "notice.not_assessed",
                                f"application {a.id!r} is {a.status}"
                                f"{' with a failed assessment' if a.assessment_passed is False else ''}; "
                                f"a notice needs a passed assessment", field="application_id")
        self._require_after(a.assessed_on, occurred_on, "the assessment")
        self._require_decider(actor, programme, t, at=t.noticed_at, act="noticed")
        self._notice_opened(application_id=a.id, notice_until=notice_end(occurred_on, t.notice_days,
                                                                         t.notice_day_kind),
                            occurred_on=occurred_on, actor=actor, document=document)

    @event("NoticeOpened")
    def _notice_opened(self, application_id: str, notice_until: date, occurred_on: date, actor: Actor,
                       document: str) -> None:
        a = self.applications[application_id]
        a.notice_from = occurred_on
        a.notice_until = notice_until
        a.status = "noticed"

    def object(self, *, application_id: str, objection_id: str, grounds: str, occurred_on: date, actor: Actor,
               document: str) -> None:
        a = self.application(application_id)
        if a.status != "noticed" or a.notice_from is None or a.notice_until is None:
            raise RuleViolation("order", "object.no_notice", f"application {a.id!r} is not under notice",
                                field="application_id")
        if not (a.notice_from <= occurred_on < a.notice_until):
            raise RuleViolation("order", "object.outside_notice",
                                f"objections are taken from {a.notice_from} until before {a.notice_until}",
                                field="occurred_on")
        if objection_id in a.objections:
            raise RuleViolation("identity", "object.duplicate_id", f"objection {objection_id!r} exists",
                                field="objection_id")
        self._objected(application_id=a.id, objection_id=objection_id, grounds=grounds, occurred_on=occurred_on,
                       actor=actor, document=document)

    @event("Objected")
    def _objected(self, application_id: str, objection_id: str, grounds: str, occurred_on: date, actor: Actor,
                  document: str) -> None:
        self.applications[application_id].objections[objection_id] = "open"

    def resolve_objection(self, *, application_id: str, objection_id: str, upheld: bool, programme: Programme,
                          occurred_on: date, actor: Actor, document: str) -> None:
        a = self.application(application_id)
        if a.objections.get(objection_id) != "open":
            raise RuleViolation("order", "objection.not_open",
                                f"objection {objection_id!r} is {a.objections.get(objection_id, 'unknown')}",
                                field="objection_id")
        t = programme.tier(a.tier)
        self._require_decider(actor, programme, t, at=t.noticed_at, act="noticed")
        self._objection_resolved(application_id=a.id, objection_id=objection_id, upheld=upheld,
                                 occurred_on=occurred_on, actor=actor, document=document)

    @event("ObjectionResolved")
    def _objection_resolved(self, application_id: str, objection_id: str, upheld: bool, occurred_on: date,
                            actor: Actor, document: str) -> None:
        self.applications[application_id].objections[objection_id] = "upheld" if upheld else "dismissed"

    # ------------------------------------------------------------------ decide (认定/公告)
    def approve(self, *, application_id: str, programme: Programme, occurred_on: date, actor: Actor,
                document: str, batch: int | None = None) -> None:
        a = self.application(application_id)
        t = programme.tier(a.tier)
        if not document:  # the command alone: before any check on the state (see recommend)
            raise RuleViolation("order", "approve.no_document", "an approval needs its document (文号)",
                                field="document")
        self._require_decider(actor, programme, t)
        missing = [lv.value for lv in t.recommend_levels if lv.value not in a.recommendations]
        if missing:
            raise RuleViolation("order", "approve.not_recommended", f"no recommendation from {missing} level",
                                field="application_id")
        if a.status != "noticed" or not a.assessment_passed or a.notice_until is None:
            raise RuleViolation("order", "approve.no_notice",
                                f"application {a.id!r} is {a.status}; approval needs a passed assessment "
                                f"and a notice period", field="application_id")
        if occurred_on < a.notice_until:
            raise RuleViolation("order", "approve.notice_open",
                                f"the notice period runs until {a.notice_until}", field="occurred_on")
        unresolved = [o for o, s in a.objections.items() if s == "open"]
        if unresolved:
            raise RuleViolation("order", "approve.objection_open", f"unresolved objections {unresolved}",
                                field="application_id")
        upheld = [o for o, s in a.objections.items() if s == "upheld"]
        if upheld:
            raise RuleViolation("order", "approve.objection_upheld",
                                f"objections {upheld} were upheld; the application can only be rejected",
                                field="application_id")
        valid_from, valid_until = t.validity(occurred_on)
        self._approved(application_id=a.id, valid_from=valid_from, valid_until=valid_until, policy=programme.key,
                       occurred_on=occurred_on, actor=actor, document=document, batch=batch)

    @event(Approved)
    def _approved(self, application_id: str, valid_from: date, valid_until: date, policy: str, occurred_on: date,
                  actor: Actor, document: str, batch: int | None = None) -> None:
        a = self.applications[application_id]
        a.batch = batch
        a.status = "approved"
        a.valid_from = valid_from
        a.valid_until = valid_until
        a.first_until = valid_until
        a.approved_event = event_id(self.id, self.version + 1)

    def reject(self, *, application_id: str, programme: Programme, reason: str, occurred_on: date, actor: Actor,
               document: str) -> None:
        a = self.application(application_id)
        if not a.is_open:
            raise RuleViolation("order", "reject.closed", f"application {a.id!r} is already {a.status}",
                                field="application_id")
        t = programme.tier(a.tier)
        # The deciding authority rejects; a recommending authority may turn an application
        # down before it is recommended upwards.
        if not (actor.role == "authority" and programme.authority_level(actor.authority) in t.recommend_levels
                and programme.covers(actor.authority, self.region) and a.status in ("applied", "recommended")):
            self._require_decider(actor, programme, t)
        self._rejected(application_id=a.id, reason=reason, occurred_on=occurred_on, actor=actor, document=document)

    @event("Rejected")
    def _rejected(self, application_id: str, reason: str, occurred_on: date, actor: Actor, document: str) -> None:
        self.applications[application_id].status = "rejected"

    def withdraw(self, *, application_id: str, reason: str, occurred_on: date, actor: Actor, document: str) -> None:
        a = self.application(application_id)
        if not a.is_open:
            raise RuleViolation("order", "withdraw.closed", f"application {a.id!r} is already {a.status}",
                                field="application_id")
        self._require_covering(actor)
        self._withdrawn(application_id=a.id, reason=reason, occurred_on=occurred_on, actor=actor, document=document)

    @event("Withdrawn")
    def _withdrawn(self, application_id: str, reason: str, occurred_on: date, actor: Actor, document: str) -> None:
        self.applications[application_id].status = "withdrawn"

    # ------------------------------------------------------------------ yearly data, review (复核)
    def file_yearly_data(self, *, programme: Programme, data_year: int, indicators: dict[str, int],
                         occurred_on: date, actor: Actor, document: str) -> None:
        self._require_covering(actor)
        if data_year >= occurred_on.year:
            raise RuleViolation("review", "yearly_data.future_year",
                                f"data for {data_year} cannot be filed on {occurred_on}", field="data_year")
        if data_year in self.yearly_data:
            raise RuleViolation("immutability", "yearly_data.duplicate",
                                f"data for {data_year} is already filed", field="data_year")
        deadline = programme.yearly_deadline(data_year)
        self._yearly_data_filed(data_year=data_year, indicators=indicators, deadline=deadline,
                                late=occurred_on > deadline, occurred_on=occurred_on, actor=actor, document=document)

    @event("YearlyDataFiled")
    def _yearly_data_filed(self, data_year: int, indicators: dict[str, int], deadline: date, late: bool,
                           occurred_on: date, actor: Actor, document: str) -> None:
        self.yearly_data[data_year] = late
        if self.yearly_indicators is not None:  # (None: restored from a snapshot older than it)
            self.yearly_indicators[data_year] = dict(indicators)

    def review(self, *, application_id: str, programme: Programme, passed: bool, occurred_on: date, actor: Actor,
               document: str, score: int | None = None, indicators: dict[str, int] | None = None,
               yearly_indicators: Yearly | None = None) -> None:
        """Review (复核) a designation.  ``programme`` is the version that judges it
        (``PolicyBook.reviewing``: the one in force, or the one its tier names).  Under a tier
        ``reviewed_on_criteria`` a pass needs the data to meet the criteria marked
        ``for_review`` and the score: the yearly data filed, the command's ``yearly_indicators``
        and ``indicators`` (the last data year's) overriding them."""
        a = self.application(application_id)
        t = programme.tier(a.tier)
        self._require_decider(actor, programme, t)
        if a.status != "approved" or a.valid_until is None or a.replaced_by is not None:
            raise RuleViolation("review", "review.not_designated",
                                f"application {a.id!r} is not a current designation", field="application_id")
        if not a.valid_on(occurred_on):
            raise RuleViolation("review", "review.not_valid",
                                f"designation {a.id!r} is not valid on {occurred_on}", field="occurred_on")
        window_opens = a.valid_until - timedelta(days=t.review_window_days)
        if occurred_on < window_opens:
            raise RuleViolation("review", "review.outside_window",
                                f"the review window opens {window_opens} ({t.review_window_days} days before "
                                f"{a.valid_until})", field="occurred_on")
        if a.review_failed or a.reviewed_until == a.valid_until:
            raise RuleViolation("review", "review.duplicate",
                                f"designation {a.id!r} was already reviewed for the period ending {a.valid_until}",
                                field="application_id")
        data_year = programme.data_year_on(occurred_on)
        if data_year not in self.yearly_data:
            raise RuleViolation("review", "review.yearly_data_missing",
                                f"yearly data for {data_year} is not filed (due {programme.yearly_deadline(data_year)})",
                                field="application_id")
        # The current validity period: an extended designation's began where the last one ended.
        period_start = a.reviewed_until if a.reviews and a.reviewed_until else a.valid_from
        assert period_start is not None
        # Rule 5: yearly data of this validity filed late costs the review where the version says so.
        late_years = programme.late_years_forfeiting([y for y, late in self.yearly_data.items() if late],
                                                     period_start, occurred_on)
        if late_years:
            raise RuleViolation("review", "review.yearly_data_late",
                                f"yearly data for {', '.join(map(str, late_years))} was filed after its deadline "
                                f"in this validity (from {period_start}); {programme.key} forfeits the review",
                                field="application_id")
        # Rule 7: a major change of this validity reported late costs the review where the version says so.
        late_changes = [c for c in self.changes if c.reported_on >= period_start
                        and programme.change_forfeits_review(c.kind, c.late, c.forfeits_review)]
        if late_changes:
            c = late_changes[0]
            raise RuleViolation("review", "review.change_report_late",
                                f"a {c.kind} of {c.changed_on} was reported on {c.reported_on}, after "
                                f"{programme.change_report_months} months, during this validity; {programme.key} "
                                f"forfeits the review", field="application_id")
        failures: list[str] | None = None
        yearly = yearly_indicators
        if t.reviewed_on_criteria:
            years = t.assessment.data_years(data_year, for_review=True)
            yearly = self.judged_yearly(yearly_indicators, indicators or {}, data_year,
                                        sorted({*years, *(yearly_indicators or {})}))
            failures = t.assessment.judge(score, {}, indicators or {}, [], yearly=yearly, last_year=data_year,
                                          for_review=True)
            if passed and failures:
                raise RuleViolation("review", "review.criteria_not_met",
                                    f"{programme.key} reviews {t.id} on its criteria; the data of "
                                    f"{years[0]}–{years[-1]} fail: {'; '.join(failures)}", field="passed")
        renewed_until = add_years(a.valid_until, t.validity_years) if passed else None
        new_id = f"{a.id}~r{a.reviews + 1}" if passed and t.renewal == "replace" else None
        self._reviewed(application_id=a.id, passed=passed, valid_until=renewed_until, new_application_id=new_id,
                       policy=programme.key, occurred_on=occurred_on, actor=actor, document=document, score=score,
                       indicators=indicators, yearly_indicators=yearly or None, failures=failures)

    @event(Reviewed)
    def _reviewed(self, application_id: str, passed: bool, valid_until: date | None, new_application_id: str | None,
                  policy: str, occurred_on: date, actor: Actor, document: str, score: int | None = None,
                  indicators: dict[str, int] | None = None, yearly_indicators: Yearly | None = None,
                  failures: list[str] | None = None) -> None:
        a = self.applications[application_id]
        a.reviews += 1
        a.reviewed_until = a.valid_until
        if not passed:
            a.review_failed = True
            return
        assert valid_until is not None and a.valid_until is not None
        if new_application_id is None:
            a.valid_until = valid_until
            return
        self.applications[new_application_id] = Application(
            id=new_application_id, programme=a.programme, tier=a.tier, level=a.level, product_id=a.product_id,
            product_name=a.product_name, applied_on=occurred_on, status="approved", valid_from=a.valid_until,
            valid_until=valid_until, renewal_of=a.id, assessment_passed=True,
            approved_event=event_id(self.id, self.version + 1))
        a.replaced_by = new_application_id

    # ------------------------------------------------------------------ revoke (取消)
    def revoke(self, *, application_id: str, programme: Programme, reason: str, effective_on: date,
               occurred_on: date, actor: Actor, document: str) -> None:
        a = self.application(application_id)
        t = programme.tier(a.tier)
        self._require_decider(actor, programme, t)
        if reason not in REVOCATION_REASONS:
            raise RuleViolation("revocation", "revoke.unknown_reason",
                                f"reason must be one of {list(REVOCATION_REASONS)}", field="reason")
        if not document:
            raise RuleViolation("revocation", "revoke.no_document", "a revocation needs its document (文号)",
                                field="document")
        if a.status != "approved" or a.valid_from is None or a.valid_until is None:
            raise RuleViolation("revocation", "revoke.not_designated",
                                f"application {a.id!r} is {a.status}, not a designation", field="application_id")
        if a.revoked_on is not None:
            raise RuleViolation("revocation", "revoke.already",
                                f"designation {a.id!r} was revoked on {a.revoked_on}", field="application_id")
        if effective_on >= a.valid_until:
            raise RuleViolation("revocation", "revoke.after_expiry",
                                f"designation {a.id!r} expires {a.valid_until}; effective_on {effective_on} "
                                f"is after", field="effective_on")
        years = t.cooling_off_years.get(reason)  # type: ignore[call-overload]
        effective_on = max(effective_on, a.valid_from)
        barred_until = add_years(effective_on, years) if years else None
        self._revoked(application_id=a.id, reason=reason, effective_on=effective_on,
                      barred_until=barred_until, occurred_on=occurred_on, actor=actor, document=document)

    @event("Revoked")
    def _revoked(self, application_id: str, reason: str, effective_on: date, barred_until: date | None,
                 occurred_on: date, actor: Actor, document: str) -> None:
        a = self.applications[application_id]
        a.revoked_on = effective_on
        a.revocation_reason = reason
        self.revocations.append(Revocation(application_id=a.id, programme=a.programme, tier=a.tier, reason=reason,
                                           effective_on=effective_on, barred_until=barred_until))

    # ------------------------------------------------------------------ change reports (变更)
    CHANGE_KINDS = tuple(CHANGE_KINDS)

    def report_change(self, *, programme: Programme, kind: str, changed_on: date, new_name: str | None,
                      new_region: str | None, counterpart_uscc: str | None, occurred_on: date, actor: Actor,
                      document: str, board: str | None = None,
                      programmes: Mapping[str, Programme] | None = None) -> None:
        """Rule 7.  A change of a kind its programme lists in ``reconfirm_after`` (national
        2022/2026: rename, merger, split, reorganisation, overseas branch) puts the enterprise's
        valid designations of that programme under re-confirmation, national ones included; so
        does a relocation that changes the provincial-level authority of a designation's
        programme (another province, or into or out of a 计划单列市 of that programme), for the
        non-national designations (:meth:`~domain.policy.Programme.reconfirms`).  ``programmes``:
        the rule versions in force of the programmes the enterprise holds designations of
        (without one, a designation of another programme than ``programme`` is judged by
        the province alone)."""
        self._require_covering(actor)
        if kind not in self.CHANGE_KINDS:
            raise RuleViolation("change", "change.unknown_kind", f"kind must be one of {list(self.CHANGE_KINDS)}",
                                field="kind")
        if changed_on > occurred_on:
            raise RuleViolation("change", "change.future", f"changed_on {changed_on} is after the report date",
                                field="changed_on")
        if kind == "rename" and not new_name:
            raise RuleViolation("change", "change.name_required", "a rename needs new_name", field="new_name")
        if kind == "relocation":
            if not new_region:
                raise RuleViolation("change", "change.region_required", "a relocation needs new_region",
                                    field="new_region")
            Region(new_region)
            _require_recordable(new_region, "new_region")
            if new_region == self.region:
                raise RuleViolation("change", "change.same_region", f"already in {new_region}", field="new_region")
        if kind in ("merger", "split") and not counterpart_uscc:
            raise RuleViolation("change", "change.counterpart_required", f"a {kind} names the other enterprise",
                                field="counterpart_uscc")
        if board is not None and kind != "listing":
            raise RuleViolation("change", "change.board_not_listing", f"a {kind} names no board; a listing does",
                                field="board")
        if board is not None and board not in LISTING_BOARDS:
            raise RuleViolation("change", "change.board_not_listing",
                                f"board must be one of {list(LISTING_BOARDS)}", field="board")
        due = add_months(changed_on, programme.change_report_months)
        versions = programmes or {}

        def reconfirms(a: Application) -> bool:
            p = versions.get(a.programme) or (programme if a.programme == programme.id else None)
            if p is None:  # a programme whose version is not known here: the province alone says
                return (kind == "relocation" and new_region is not None and a.level != Level.national.value
                        and new_region[:2] != self.region[:2])
            return p.reconfirms(kind=kind, level=a.level, old_region=self.region, new_region=new_region)

        reconfirm = [a.id for a in self.valid_designations(occurred_on) if reconfirms(a)]
        late = occurred_on > due
        self._change_reported(kind=kind, changed_on=changed_on, due_on=due, late=late,
                              new_name=new_name, new_region=new_region, counterpart_uscc=counterpart_uscc,
                              reconfirmation=reconfirm, occurred_on=occurred_on, actor=actor, document=document,
                              board=board, forfeits_review=programme.change_forfeits_review(kind, late))

    @event(ChangeReported)
    def _change_reported(self, kind: str, changed_on: date, due_on: date, late: bool, new_name: str | None,
                         new_region: str | None, counterpart_uscc: str | None, reconfirmation: list[str],
                         occurred_on: date, actor: Actor, document: str, board: str | None = None,
                         forfeits_review: bool | None = None) -> None:
        self.changes.append(ChangeReport(kind=kind, changed_on=changed_on, reported_on=occurred_on, late=late,
                                         board=board, forfeits_review=forfeits_review))
        if new_name:
            self.name = new_name
            self.names.append(new_name)
        if kind == "relocation" and new_region:
            self.region = new_region
        if kind == "listing":
            self.listed = True
        if kind == "delisting":
            self.listed = False
        for app_id in reconfirmation:
            self.applications[app_id].under_reconfirmation = True

    def reconfirm(self, *, application_id: str, programme: Programme, confirmed: bool, occurred_on: date,
                  actor: Actor, document: str) -> None:
        """After a change its programme re-confirms (``reconfirm_after``), the tier's deciding
        authority (MIIT for a national little giant) confirms the designation — 继续符合条件的,
        有效期不变: valid_until stays — or ends it from ``occurred_on``.  After a move to another
        province (or into or out of a 计划单列市), the new provincial-level deciding authority
        confirms a provincial designation or ends it.  When the programme is the old
        province's own (Liaoning's provincial little giant), the new province has no say:
        the programme's own authority decides, and a confirmation it gives keeps the
        designation to its term."""
        a = self.application(application_id)
        t = programme.tier(a.tier)
        # who may decide first (see recommend): a refusal of the wrong authority keeps its code
        # once the designation is no longer pending (a resubmission, a second run of the demo)
        if region_covers(programme.jurisdiction, self.region):
            self._require_decider(actor, programme, t)
        elif actor.role != "authority" or actor.authority != programme.jurisdiction:
            raise RuleViolation("authority", "reconfirm.wrong_authority",
                                f"the enterprise left {programme.key}'s jurisdiction {programme.jurisdiction}; "
                                f"only authority {programme.jurisdiction} re-confirms or ends {a.id!r}",
                                field="actor.authority")
        if not a.under_reconfirmation:
            raise RuleViolation("change", "reconfirm.not_pending",
                                f"designation {a.id!r} is not under re-confirmation", field="application_id")
        self._reconfirmed(application_id=a.id, confirmed=confirmed, occurred_on=occurred_on, actor=actor,
                          document=document)

    @event("Reconfirmed")
    def _reconfirmed(self, application_id: str, confirmed: bool, occurred_on: date, actor: Actor,
                     document: str) -> None:
        a = self.applications[application_id]
        a.under_reconfirmation = False
        if not confirmed:
            a.ended_on = occurred_on

    # ------------------------------------------------------------------ facts rewards rest on
    def record_loan(self, *, loan_id: str, lender: str, guarantor: str, principal_fen: int, drawn_on: date,
                    due_on: date, guarantee_fee_fen: int, guarantee_fee_rate_bp: int, occurred_on: date,
                    actor: Actor, document: str) -> None:
        """Record a guaranteed loan (担保贷款): lender, guarantor, principal, term, the guarantee
        fee paid and its rate.  A guarantee-fee subsidy is judged on these facts later."""
        self._require_covering(actor)
        if actor.role != "authority":
            raise RuleViolation("authority", "authority.not_an_authority",
                                f"a {actor.role} cannot record a loan", field="actor.role")
        self._require_after(self.registered_on, occurred_on, "registration")
        if loan_id in self.loans:
            raise RuleViolation("identity", "loan.duplicate_id", f"loan {loan_id!r} is already recorded",
                                field="loan_id")
        if drawn_on > occurred_on:
            raise RuleViolation("reward", "loan.future", f"a loan drawn on {drawn_on} is recorded on {occurred_on}, "
                                                         f"before it was drawn", field="drawn_on")
        self._loan_recorded(loan_id=loan_id, lender=lender, guarantor=guarantor, principal_fen=principal_fen,
                            drawn_on=drawn_on, due_on=due_on, guarantee_fee_fen=guarantee_fee_fen,
                            guarantee_fee_rate_bp=guarantee_fee_rate_bp, occurred_on=occurred_on, actor=actor,
                            document=document)

    @event("LoanRecorded")
    def _loan_recorded(self, loan_id: str, lender: str, guarantor: str, principal_fen: int, drawn_on: date,
                       due_on: date, guarantee_fee_fen: int, guarantee_fee_rate_bp: int, occurred_on: date,
                       actor: Actor, document: str) -> None:
        self.loans[loan_id] = Loan(id=loan_id, lender=lender, guarantor=guarantor, principal_fen=principal_fen,
                                   drawn_on=drawn_on, due_on=due_on, guarantee_fee_fen=guarantee_fee_fen,
                                   guarantee_fee_rate_bp=guarantee_fee_rate_bp)

    def loan(self, loan_id: str) -> Loan:
        try:
            return self.loans[loan_id]
        except KeyError:
            raise NotFound("identity", "loan.not_found", f"enterprise {self.uscc} has no recorded loan {loan_id!r}",
                           field="loan_id") from None

    def record_repayment(self, *, loan_id: str, repaid_on: date, occurred_on: date, actor: Actor,
                         document: str) -> None:
        """Record that a loan was repaid in full on ``repaid_on``: on time when on or before its due date."""
        loan = self.loan(loan_id)
        self._require_covering(actor)
        if actor.role != "authority":
            raise RuleViolation("authority", "authority.not_an_authority",
                                f"a {actor.role} cannot record a repayment", field="actor.role")
        if loan.repaid_on is not None:
            raise RuleViolation("reward", "loan.already_repaid", f"loan {loan_id!r} was repaid on {loan.repaid_on}",
                                field="loan_id")
        if repaid_on < loan.drawn_on:
            raise RuleViolation("order", "order.backdated",
                                f"repaid_on {repaid_on} is before the loan was drawn on {loan.drawn_on}",
                                field="repaid_on")
        if repaid_on > occurred_on:
            raise RuleViolation("reward", "loan.future", f"a repayment of {repaid_on} is recorded on {occurred_on}, "
                                                         f"before it happened", field="repaid_on")
        self._loan_repaid(loan_id=loan_id, repaid_on=repaid_on, on_time=repaid_on <= loan.due_on,
                          occurred_on=occurred_on, actor=actor, document=document)

    @event("LoanRepaid")
    def _loan_repaid(self, loan_id: str, repaid_on: date, on_time: bool, occurred_on: date, actor: Actor,
                     document: str) -> None:
        loan = self.loans[loan_id]
        loan.repaid_on = repaid_on
        loan.on_time = on_time

    def recognise_product(self, *, programme: Programme, recognition: str, product_id: str, product_name: str,
                          level: str, occurred_on: date, actor: Actor, document: str) -> None:
        """Record a product's recognition (首台套认定) at a level, by one of the authorities the
        programme's recognition names."""
        r = programme.recognition(recognition)
        if actor.role != "authority" or actor.authority not in r.recognised_by:
            raise RuleViolation("authority", "recognition.wrong_authority",
                                f"{r.id} in {programme.key} is recognised by {r.recognised_by}, not "
                                f"{actor.role} {actor.authority}", field="actor.authority")
        if not document:
            raise RuleViolation("reward", "recognition.no_document", "a recognition needs its document (文号)",
                                field="document")
        self._require_covering(actor)
        self._require_after(self.registered_on, occurred_on, "registration")
        if level not in r.levels:
            raise RuleViolation("reward", "recognition.unknown_level",
                                f"{r.id} in {programme.key} recognises at {list(r.levels)}, not {level!r}",
                                field="level")
        key = f"{programme.id}/{r.id}/{product_id}"
        if key in self.recognitions:
            had = self.recognitions[key]
            raise RuleViolation("reward", "recognition.duplicate",
                                f"product {product_id!r} was recognised {had.level} ({r.id}) on {had.recognised_on}",
                                field="product_id")
        self._product_recognised(programme=programme.id, recognition=r.id, product_id=product_id,
                                 product_name=product_name, level=level, policy=programme.key,
                                 occurred_on=occurred_on, actor=actor, document=document)

    @event("ProductRecognised")
    def _product_recognised(self, programme: str, recognition: str, product_id: str, product_name: str, level: str,
                            policy: str, occurred_on: date, actor: Actor, document: str) -> None:
        self.recognitions[f"{programme}/{recognition}/{product_id}"] = ProductRecognition(
            programme=programme, recognition=recognition, product_id=product_id, product_name=product_name,
            level=level, recognised_on=occurred_on, recognised_by=actor.authority)

    def tag_chain(self, *, programme: Programme, chain: str, tagged: bool, occurred_on: date, actor: Actor,
                  document: str) -> None:
        """Tag the enterprise on an industrial chain of the programme (一链一策一批), or untag it,
        by an authority covering the enterprise inside the programme's jurisdiction."""
        ch = programme.chain(chain)
        if actor.role != "authority":
            raise RuleViolation("authority", "authority.not_an_authority", f"a {actor.role} cannot tag chains",
                                field="actor.role")
        if not region_covers(actor.authority, self.region) or not region_covers(programme.jurisdiction,
                                                                                 actor.authority):
            raise RuleViolation("authority", "authority.not_covering",
                                f"authority {actor.authority} does not cover enterprise region {self.region} "
                                f"within programme jurisdiction {programme.jurisdiction}", field="actor.authority")
        self._require_after(self.registered_on, occurred_on, "registration")
        key = f"{programme.id}/{ch.id}"
        since = self.chains.get(key)
        if tagged and since is not None:
            raise RuleViolation("order", "chain.already_tagged", f"{self.uscc} is on chain {key} since {since}",
                                field="chain")
        if not tagged and since is None:
            raise RuleViolation("order", "chain.not_tagged", f"{self.uscc} is not on chain {key}", field="chain")
        self._require_after(since, occurred_on, "the tagging")
        self._chain_tagged(programme=programme.id, chain=ch.id, tagged=tagged, occurred_on=occurred_on, actor=actor,
                           document=document)

    @event("ChainTagged")
    def _chain_tagged(self, programme: str, chain: str, tagged: bool, occurred_on: date, actor: Actor,
                      document: str) -> None:
        self.chains[f"{programme}/{chain}"] = occurred_on if tagged else None

    def record_credit_listing(self, *, credit_list: str, listed: bool, listed_on: date, occurred_on: date,
                              actor: Actor, document: str) -> None:
        """Record that the enterprise was put on (列入, ``listed``) or taken off (移出) a credit
        list (domain.policy.CREDIT_LISTS: 经营异常名录, 严重失信主体名单) on ``listed_on``, by an
        authority covering it.  Entries of one list follow each other in time; a
        recommendation is judged on the entries dated up to its date (:meth:`on_credit_list`)."""
        if credit_list not in CREDIT_LISTS:
            raise RuleViolation("change", "credit.unknown_list", f"credit_list must be one of {list(CREDIT_LISTS)}",
                                field="credit_list")
        if actor.role != "authority":
            raise RuleViolation("authority", "authority.not_an_authority",
                                f"a {actor.role} cannot record a credit listing", field="actor.role")
        self._require_covering(actor)
        if listed_on > occurred_on:
            raise RuleViolation("change", "credit.future",
                                f"listed_on {listed_on} is after the record date {occurred_on}", field="listed_on")
        entries = self.credit_lists.get(credit_list, [])
        last = entries[-1] if entries else None
        name = CREDIT_LISTS[credit_list]
        if last is not None:
            self._require_after(last.listed_on, listed_on, f"the last {name} entry", field="listed_on")
        if listed and last is not None and last.listed:
            raise RuleViolation("order", "credit.already_listed",
                                f"{self.uscc} is on the {name} since {last.listed_on}", field="listed")
        if not listed and (last is None or not last.listed):
            raise RuleViolation("order", "credit.not_listed", f"{self.uscc} is not on the {name}", field="listed")
        self._credit_listing_recorded(credit_list=credit_list, listed=listed, listed_on=listed_on,
                                      occurred_on=occurred_on, actor=actor, document=document)

    @event("CreditListingRecorded")
    def _credit_listing_recorded(self, credit_list: str, listed: bool, listed_on: date, occurred_on: date,
                                 actor: Actor, document: str) -> None:
        self.credit_lists = {**self.credit_lists, credit_list: [*self.credit_lists.get(credit_list, ()),
                                                               CreditEntry(listed=listed, listed_on=listed_on)]}

    def record_group(self, *, group_uscc: str | None, occurred_on: date, actor: Actor, document: str) -> str | None:
        """Record the group (集团) parent or controlling enterprise the enterprise belongs to
        from ``occurred_on`` (None: none any more), by an authority covering it; returns the
        group it left, if any (the service layer keeps each group's members)."""
        if actor.role != "authority":
            raise RuleViolation("authority", "authority.not_an_authority",
                                f"a {actor.role} cannot record a group", field="actor.role")
        self._require_covering(actor)
        self._require_after(self.registered_on, occurred_on, "registration")
        if group_uscc == self.uscc:
            raise RuleViolation("identity", "group.self", f"enterprise {self.uscc} cannot be its own group",
                                field="group_uscc")
        if group_uscc == self.group_uscc:
            raise RuleViolation("order", "group.unchanged",
                                f"{self.uscc} already belongs to {group_uscc or 'no group'}", field="group_uscc")
        left = self.group_uscc
        self._group_recorded(group_uscc=group_uscc, left=left, occurred_on=occurred_on, actor=actor,
                             document=document)
        return left

    @event("GroupRecorded")
    def _group_recorded(self, group_uscc: str | None, left: str | None, occurred_on: date, actor: Actor,
                        document: str) -> None:
        self.group_uscc = group_uscc

    def listing(self) -> ChangeReport | None:
        """The listing the enterprise stands listed by (its last listing report, unless a
        delisting followed), or None."""
        for ch in reversed(self.changes):
            if ch.kind in ("listing", "delisting"):
                return ch if ch.kind == "listing" else None
        return None

    def _check_facts(self, programme: Programme, scheme: Scheme, loan_id: str | None, product_id: str | None,
                     loan_fen: int | None, amount_fen: int, occurred_on: date) -> None:
        """Rule 8, the facts a scheme's reward rests on: a listing, a product's recognition,
        a loan repaid on time (and the amount within the formula on that loan).  What the
        facts alone decide comes before what other rewards decide (once per product, per
        loan), so a refusal keeps its code when the command is sent again."""
        takes_loan = scheme.kind == "guarantee_fee_subsidy"
        if (loan_id is not None and not takes_loan) or (product_id is not None and scheme.recognition is None) \
                or (loan_fen is not None and scheme.kind != "interest_subsidy"):
            what = "loan_id" if loan_id is not None and not takes_loan else (
                "product_id" if product_id is not None and scheme.recognition is None else "loan_fen")
            raise RuleViolation("reward", "reward.not_applicable",
                                f"scheme {scheme.id} ({scheme.kind}) does not rest on a {what.removesuffix('_id')}",
                                field=what)
        if scheme.listing_boards:
            listing = self.listing()
            if listing is None:
                raise RuleViolation("reward", "reward.listing_required",
                                    f"scheme {scheme.id} pays a listed enterprise; no listing of {self.uscc} is "
                                    f"reported standing on {occurred_on}", field="scheme")
            if listing.board not in scheme.listing_boards:
                board = LISTING_BOARDS.get(listing.board or "", "board not reported")
                raise RuleViolation("reward", "reward.listing_board",
                                    f"scheme {scheme.id} pays listings on {list(scheme.listing_boards)}; the listing "
                                    f"of {listing.changed_on} is on {listing.board} ({board})", field="scheme")
        if scheme.recognition is not None:
            if product_id is None:
                raise RuleViolation("reward", "reward.product_required",
                                    f"scheme {scheme.id} rewards a recognised product: name its product_id",
                                    field="product_id")
            rec = self.recognitions.get(f"{programme.id}/{scheme.recognition}/{product_id}")
            if rec is None:
                raise RuleViolation("reward", "reward.not_recognised",
                                    f"product {product_id!r} of {self.uscc} has no {scheme.recognition} recognition "
                                    f"recorded by {occurred_on}", field="product_id")
            if rec.level != scheme.recognition_level:
                raise RuleViolation("reward", "reward.recognition_level",
                                    f"scheme {scheme.id} rewards a {scheme.recognition_level} recognition; product "
                                    f"{product_id!r} is recognised {rec.level}", field="product_id")
            paid = [r for r in self.rewards.values() if r.product_id == product_id and r.scheme == scheme.id
                    and r.programme == programme.id and r.clawed_back_fen < r.amount_fen]
            if paid:
                raise RuleViolation("reward", "reward.product_paid",
                                    f"scheme {scheme.id} paid product {product_id!r} as {paid[0].id!r} on "
                                    f"{paid[0].granted_on}", field="product_id")
        if takes_loan:
            if loan_id is None:
                raise RuleViolation("reward", "reward.loan_required",
                                    "a guarantee-fee subsidy names its recorded loan (loan_id)", field="loan_id")
            loan = self.loan(loan_id)
            if loan.repaid_on is None:
                raise RuleViolation("reward", "reward.loan_not_repaid",
                                    f"loan {loan_id!r} (due {loan.due_on}) is not recorded as repaid by "
                                    f"{occurred_on}", field="loan_id")
            if not loan.on_time:
                raise RuleViolation("reward", "reward.repaid_late",
                                    f"loan {loan_id!r} was due {loan.due_on} and repaid {loan.repaid_on}: scheme "
                                    f"{scheme.id} pays for loans repaid on time", field="loan_id")
            days_guaranteed = (loan.repaid_on - loan.drawn_on).days
            formula = scheme.guarantee_fee_formula(principal_fen=loan.principal_fen, fee_fen=loan.guarantee_fee_fen,
                                                   days=days_guaranteed)
            if amount_fen > formula:
                raise RuleViolation("reward", "reward.over_formula",
                                    f"{amount_fen} fen is over the formula of scheme {scheme.id}: min(fee paid "
                                    f"{loan.guarantee_fee_fen}, principal {loan.principal_fen} × "
                                    f"{scheme.subsidised_rate_bp} bp × {days_guaranteed} days / 365) = {formula} fen",
                                    field="amount_fen")
            paid = [r for r in self.rewards.values() if r.loan_id == loan_id and r.clawed_back_fen < r.amount_fen]
            if paid:
                raise RuleViolation("reward", "reward.loan_subsidised",
                                    f"loan {loan_id!r} was subsidised as {paid[0].id!r} on {paid[0].granted_on}",
                                    field="loan_id")

    # ------------------------------------------------------------------ rewards (奖补)
    def grant_reward(self, *, reward_id: str, programme: Programme, scheme: Scheme, amount_fen: int,
                     tranche: int | None, loan_fen: int | None, lpr_bp: int | None, days: int | None,
                     occurred_on: date, actor: Actor, document: str, loan_id: str | None = None,
                     product_id: str | None = None) -> str | None:
        """Check rule 8 on this enterprise; returns the designation the reward rests on.
        The yearly budget is the :class:`~domain.budget.SchemeBudget`'s to check."""
        if actor.role != "authority" or actor.authority != scheme.granted_by:
            raise RuleViolation("authority", "reward.wrong_authority",
                                f"scheme {scheme.id} is granted by {scheme.granted_by}, not {actor.authority}",
                                field="actor.authority")
        regions = scheme.regions or [scheme.granted_by]
        if not any(region_covers(r, self.region) for r in regions):
            raise RuleViolation("reward", "reward.outside_region",
                                f"scheme {scheme.id} covers {regions}; enterprise is in {self.region}",
                                field="scheme")
        if reward_id in self.rewards:
            raise RuleViolation("identity", "reward.duplicate_id", f"reward {reward_id!r} exists", field="reward_id")
        basis: Application | None = None
        if scheme.requires:
            for req in scheme.requires:
                found = self._matching_valid(req, occurred_on)
                if found:
                    basis = found[0]
                    break
            if basis is None:
                wanted = [f"{r.level or ''} {r.tier}".strip() for r in scheme.requires]
                raise RuleViolation("reward", "reward.no_valid_designation",
                                    f"scheme {scheme.id} needs a designation valid on {occurred_on}: one of {wanted}",
                                    field="scheme")
            if not scheme.pays_for_renewal and basis.is_renewal_on(occurred_on):
                raise RuleViolation("reward", "reward.renewal_not_paid",
                                    f"scheme {scheme.id} does not pay again for a renewed designation",
                                    field="scheme")
        self._check_facts(programme, scheme, loan_id, product_id, loan_fen, amount_fen, occurred_on)
        earlier = [r for r in self.rewards.values()
                   if r.programme == programme.id and r.scheme == scheme.id and r.clawed_back_fen < r.amount_fen]
        cap = scheme.cap_for(self.region)
        if scheme.kind == "tranches":
            if tranche is None or not 1 <= tranche <= len(scheme.tranches):
                raise RuleViolation("reward", "reward.tranche_required",
                                    f"scheme {scheme.id} pays in tranches 1..{len(scheme.tranches)}", field="tranche")
            paid = {r.tranche for r in earlier}
            if tranche in paid:
                raise RuleViolation("reward", "reward.tranche_paid", f"tranche {tranche} is paid", field="tranche")
            if tranche > 1 and tranche - 1 not in paid:
                raise RuleViolation("reward", "reward.tranche_order", f"tranche {tranche - 1} is not paid yet",
                                    field="tranche")
            if scheme.tranches[tranche - 1].after_review and not document:
                raise RuleViolation("reward", "reward.review_document",
                                    f"tranche {tranche} follows a performance review: name its document",
                                    field="document")
            cap = cap * scheme.tranches[tranche - 1].share_bp // 10000
        elif tranche is not None:
            raise RuleViolation("reward", "reward.no_tranches", f"scheme {scheme.id} has no tranches",
                                field="tranche")
        if scheme.kind == "interest_subsidy":
            if loan_fen is None or lpr_bp is None or days is None:
                raise RuleViolation("reward", "reward.loan_required",
                                    "an interest subsidy needs loan_fen, lpr_bp and days", field="loan_fen")
            assert scheme.loan_cap_fen is not None and scheme.subsidy_ratio_bp is not None
            # the loan cap is per enterprise per year ("loans up to 20,000,000 CNY a year"), not per loan
            loans_this_year = sum(r.loan_fen or 0 for r in earlier if r.granted_on.year == occurred_on.year)
            loan_left = scheme.loan_cap_fen - loans_this_year
            if loan_left <= 0:
                raise RuleViolation("reward", "reward.loan_cap_reached",
                                    f"loans of {loans_this_year} fen were subsidised in {occurred_on.year}; "
                                    f"scheme {scheme.id} subsidises at most {scheme.loan_cap_fen} fen a year",
                                    field="loan_fen")
            formula = (min(loan_fen, loan_left) * lpr_bp * scheme.subsidy_ratio_bp * min(days, 366)
                       // (10000 * 10000 * 365))
            cap = min(cap, formula) if cap else formula
            year_paid = sum(r.amount_fen - r.clawed_back_fen for r in earlier if r.granted_on.year == occurred_on.year)
            if year_paid + amount_fen > (scheme.cap_fen or amount_fen):
                raise RuleViolation("reward", "reward.over_cap",
                                    f"interest subsidies this year would reach {year_paid + amount_fen} fen, "
                                    f"over the yearly cap {scheme.cap_fen}", field="amount_fen")
        elif scheme.kind == "guarantee_fee_subsidy":
            if scheme.enterprise_yearly_cap_fen is not None:
                year_paid = sum(r.amount_fen - r.clawed_back_fen for r in earlier
                                if r.granted_on.year == occurred_on.year)
                if year_paid + amount_fen > scheme.enterprise_yearly_cap_fen:
                    raise RuleViolation("reward", "reward.over_cap",
                                        f"guarantee-fee subsidies of {self.uscc} in {occurred_on.year} would reach "
                                        f"{year_paid + amount_fen} fen, over the yearly cap "
                                        f"{scheme.enterprise_yearly_cap_fen} per enterprise", field="amount_fen")
        elif scheme.once_per_enterprise and scheme.kind in ("one_time", "per_item") and earlier:
            raise RuleViolation("reward", "reward.once_per_scheme",
                                f"scheme {scheme.id} pays once per enterprise; paid as {earlier[0].id!r} on "
                                f"{earlier[0].granted_on}", field="scheme")
        if amount_fen <= 0:
            raise RuleViolation("reward", "reward.not_positive", "amount must be positive", field="amount_fen")
        if amount_fen > cap:
            raise RuleViolation("reward", "reward.over_cap",
                                f"{amount_fen} fen is over the cap of {cap} fen for scheme {scheme.id} "
                                f"in region {self.region}", field="amount_fen")
        self._reward_granted(reward_id=reward_id, programme=programme.id, scheme=scheme.id,
                             application_id=basis.id if basis else None, amount_fen=amount_fen, tranche=tranche,
                             policy=programme.key, occurred_on=occurred_on, actor=actor, document=document,
                             loan_fen=loan_fen if scheme.kind == "interest_subsidy" else None,
                             loan_id=loan_id, product_id=product_id)
        return basis.id if basis else None

    @event("RewardGranted")
    def _reward_granted(self, reward_id: str, programme: str, scheme: str, application_id: str | None,
                        amount_fen: int, tranche: int | None, policy: str, occurred_on: date, actor: Actor,
                        document: str, loan_fen: int | None = None, loan_id: str | None = None,
                        product_id: str | None = None) -> None:
        self.rewards[reward_id] = Reward(id=reward_id, programme=programme, scheme=scheme,
                                         application_id=application_id, amount_fen=amount_fen, granted_on=occurred_on,
                                         tranche=tranche, event_id=event_id(self.id, self.version + 1),
                                         loan_fen=loan_fen, loan_id=loan_id, product_id=product_id)

    def claw_back(self, *, reward_id: str, scheme: Scheme, amount_fen: int, reason: str, occurred_on: date,
                  actor: Actor, document: str) -> Reward:
        r = self.rewards.get(reward_id)
        if r is None:
            raise NotFound("identity", "reward.not_found", f"no reward {reward_id!r}", field="reward_id")
        if actor.role != "authority" or actor.authority != scheme.granted_by:
            raise RuleViolation("authority", "reward.wrong_authority",
                                f"scheme {scheme.id} is granted by {scheme.granted_by}, not {actor.authority}",
                                field="actor.authority")
        if not document:
            raise RuleViolation("immutability", "claw_back.no_document", "a claw-back needs its document",
                                field="document")
        left = r.amount_fen - r.clawed_back_fen
        if not 0 < amount_fen <= left:
            raise RuleViolation("reward", "claw_back.amount",
                                f"amount must be between 1 and the {left} fen not yet clawed back",
                                field="amount_fen")
        if occurred_on < r.granted_on:
            raise RuleViolation("order", "order.backdated", f"the reward was granted on {r.granted_on}",
                                field="occurred_on")
        self._reward_clawed_back(reward_id=r.id, amount_fen=amount_fen, reason=reason, corrects=r.event_id,
                                 occurred_on=occurred_on, actor=actor, document=document)
        return r

    @event("RewardClawedBack")
    def _reward_clawed_back(self, reward_id: str, amount_fen: int, reason: str, corrects: UUID, occurred_on: date,
                            actor: Actor, document: str) -> None:
        self.rewards[reward_id].clawed_back_fen += amount_fen

    # ------------------------------------------------------------------ corrections (rule 9)
    def annul(self, *, application_id: str, programme: Programme, reason: str, occurred_on: date, actor: Actor,
              document: str) -> None:
        """Annul an approval made in error: the designation is treated as never valid; the
        approval event stays in the log and the annulment names it."""
        a = self.application(application_id)
        self._require_decider(actor, programme, programme.tier(a.tier))
        if a.status != "approved" or a.approved_event is None:
            raise RuleViolation("immutability", "annul.not_approved", f"application {a.id!r} is {a.status}",
                                field="application_id")
        if not document:
            raise RuleViolation("immutability", "annul.no_document", "an annulment needs its document",
                                field="document")
        self._annulled(application_id=a.id, reason=reason, corrects=a.approved_event, occurred_on=occurred_on,
                       actor=actor, document=document)

    @event("Annulled")
    def _annulled(self, application_id: str, reason: str, corrects: UUID, occurred_on: date, actor: Actor,
                  document: str) -> None:
        self.applications[application_id].status = "annulled"
