"""The refusal catalogue: every rule a refusal names and every code it carries, in one place.

A refusal (``domain.errors``) names a rule (:data:`Rule`), a code (:data:`Code`) and a
field.  Both are typed: ``LedgerError`` and its subclasses take a ``Rule`` and a ``Code``,
so mypy checks every raise site against this catalogue, and ``tests/unit/test_codes.py``
scans the source for every code raised and checks the catalogue holds each of them and
nothing else.  The codes raised outside the domain are here too: the service's
(``conflict``, ``command_id.reused``, ``order.contradicts_later``, ``internal.error``), the
edge's (``input.invalid``, ``query.too_large``, ``store.unavailable``) and the command
line's (``store.invalid``, ``output.refused``, ``internal``).

Each entry gives the rule, the CLI's exit code (1 refused by a rule, 2 malformed input,
3 internal or an unanswering store), the NATS service's error status (``-`` where the code
never travels over NATS), one line of meaning, the field(s) its refusals name (:data:`FIELDS`,
kept equal to the raise sites by the test) and whether a retry can help (:data:`Retry`:
by its rule, :data:`RETRY_BY_RULE`, unless :data:`RETRY_BY_CODE` lists it, each with
why).  Every refusal body carries that ``retry`` (``LedgerError.as_dict``, and
:func:`with_retry` at the NATS and CLI edges for the rest).  ``python -m domain.codes``
prints the table the README shows ("The rules and their refusals"); a test keeps the two
equal; ``cultivation codes`` prints the catalogue for people and clients.

>>> CATALOGUE["approve.notice_open"]
Entry(rule='order', exit=1, status=422, meaning='approved before the notice period (公示) ended', \
fields=('occurred_on',), retry='after_facts')
>>> sorted(RULES)[:3]
['authority', 'change', 'cli']
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple, get_args

# The rules a refusal names: the nine of docs/domain.md, then the categories of the
# refusals that are not about the business (names, policy, input, the CLI, the machinery).
Rule = Literal["order", "authority", "ladder", "validity", "review", "revocation", "change", "reward",
               "immutability", "identity", "policy", "input", "query", "internal", "cli"]

RULES: dict[Rule, str] = {
    "order": "1. Order: recommendation, assessment and a closed notice period precede approval",
    "authority": "2. Authority: only the deciding authority decides; only a covering recommender recommends",
    "ladder": "3. Ladder: prerequisites valid on the application date, no excluding designation",
    "validity": "4. Validity: valid_from <= d < valid_until and not revoked on or before d",
    "review": "5. Review: inside the review window, yearly data filed",
    "revocation": "6. Revocation: reason class, document, cooling-off period",
    "change": "7. Change reports: due within the policy's months; relocation triggers re-confirmation",
    "reward": "8. Rewards: valid designation, once per scheme, cap, yearly budget",
    "immutability": "9. Nothing is updated or deleted: corrections name what they correct",
    "identity": "Identity: enterprises, applications and products are named consistently",
    "policy": "Policy: the programme, tier and scheme must exist in the rule version in force",
    "input": "Input: a command, query or argument that is malformed",
    "query": "Query: a pool query the service cannot answer as asked",
    "internal": "Internal: the ledger or its store failed; nothing was written",
    "cli": "Command line: a failure of the command line's own",
}

Code = Literal[
    # 1 order
    "order.backdated", "order.contradicts_later", "conflict", "pool.already_admitted", "pool.not_admitted",
    "apply.already_open", "recommend.wrong_stage", "recommend.duplicate", "assess.not_recommended",
    "notice.not_assessed", "notice.outside_calendar", "object.no_notice", "object.outside_notice",
    "objection.not_open",
    "approve.no_document", "approve.not_recommended", "approve.no_notice", "approve.notice_open",
    "approve.objection_open", "approve.objection_upheld", "reject.closed", "withdraw.closed",
    "chain.already_tagged", "chain.not_tagged", "credit.already_listed", "credit.not_listed", "group.unchanged",
    # 2 authority
    "authority.not_an_authority", "authority.wrong_level", "authority.not_covering", "authority.subject_mismatch",
    "register.not_covering", "recommend.wrong_level", "recommend.not_covering", "reconfirm.wrong_authority",
    "reward.wrong_authority", "recognition.wrong_authority",
    # 3 ladder
    "ladder.prerequisite_missing", "ladder.excluded", "ladder.listed_excluded", "apply.already_designated",
    "recommend.abnormal_operations", "recommend.seriously_dishonest", "recommend.not_sme", "recommend.same_group",
    # 5 review
    "review.not_designated", "review.not_valid", "review.outside_window", "review.duplicate",
    "review.yearly_data_missing", "review.yearly_data_late", "review.change_report_late", "review.criteria_not_met",
    "yearly_data.future_year",
    # 6 revocation
    "revoke.unknown_reason", "revoke.no_document", "revoke.not_designated", "revoke.already", "revoke.after_expiry",
    "apply.cooling_off", "recommend.barred",
    # 7 change reports
    "change.unknown_kind", "change.future", "change.name_required", "change.region_required", "change.same_region",
    "change.counterpart_required", "change.board_not_listing", "reconfirm.not_pending", "credit.unknown_list",
    "credit.future",
    # 8 rewards
    "reward.outside_region", "reward.no_valid_designation", "reward.renewal_not_paid", "reward.tranche_required",
    "reward.tranche_paid", "reward.tranche_order", "reward.review_document", "reward.no_tranches",
    "reward.loan_required", "reward.loan_cap_reached", "reward.once_per_scheme", "reward.not_positive",
    "reward.over_cap", "reward.wrong_budget_year", "reward.over_budget", "claw_back.amount",
    "reward.not_applicable", "reward.listing_required", "reward.listing_board", "reward.product_required",
    "reward.not_recognised", "reward.recognition_level", "reward.product_paid", "reward.loan_not_repaid",
    "reward.repaid_late", "reward.loan_subsidised", "reward.over_formula", "loan.future", "loan.already_repaid",
    "recognition.no_document", "recognition.unknown_level", "recognition.duplicate",
    # 9 immutability
    "yearly_data.duplicate", "claw_back.no_document", "annul.not_approved", "annul.no_document",
    # identity
    "enterprise.not_found", "register.exists", "region.unknown", "application.not_found", "apply.duplicate_id",
    "apply.product_required", "apply.product_not_allowed", "object.duplicate_id", "reward.duplicate_id",
    "reward.not_found", "command_id.reused", "loan.duplicate_id", "loan.not_found", "group.self",
    # policy
    "policy.unknown_programme", "policy.not_in_force", "policy.unknown_tier", "policy.unknown_scheme",
    "policy.unknown_chain", "policy.unknown_recognition",
    # input, query, internal (the edge, the service, the command line)
    "input.invalid", "output.refused", "store.invalid", "query.too_large", "internal.error", "store.unavailable",
    "internal",
]


# Whether sending the refused command again can help (README, "The refusal catalogue"):
#   yes          transient: nothing about the command is wrong; send the same command, same
#                command_id, as it is (conflict, an unanswering store);
#   after_facts  a rule refuses it on the record as it stands on its date: it can pass only
#                once other facts are recorded (the recommendation it waits for, a removal
#                from a list) or when sent again on a later business date (a window opens,
#                a period ends); as it is, now, it is refused again;
#   never        the command itself is at fault (malformed, no document, the wrong actor, an
#                id or fact that already exists and is never changed, a policy it does not
#                match): nothing recorded later changes the answer; correct it instead.
Retry = Literal["yes", "after_facts", "never"]

RETRIES: dict[Retry, str] = {
    "yes": "可重试: transient; send the same command (same command_id) again as it is",
    "after_facts": "待新事实: only after new facts are recorded or on a later date; as it is, refused again",
    "never": "勿重试: the command itself is at fault; correct it, nothing recorded later helps",
}


class Entry(NamedTuple):
    """What a code means: its rule, the CLI's exit code, the NATS status (None: not over NATS),
    one line of meaning, the field(s) its refusals name (None: none, ``*``: the malformed one,
    whichever it is) and whether a retry can help (:data:`Retry`)."""

    rule: Rule
    exit: int
    status: int | None
    meaning: str
    fields: tuple[str | None, ...] = ()
    retry: Retry = "never"


# Refusals of the domain and the service: exit 1; over NATS 422 (a rule), 404 (not found),
# 409 (conflict).  Malformed input: exit 2, 400.  Internal failures: exit 3, 500.
_R, _N = 422, 404
_MEANINGS: dict[Code, Entry] = {
    # 1 order
    "order.backdated": Entry("order", 1, _R, "dated before the fact it follows (registration, admission, "
                                             "application, recommendation, assessment, grant)"),
    "order.contradicts_later": Entry("order", 1, _R, "a backdated command accepted on its date that facts dated "
                                                     "after it contradict (README, \"The time rule\")"),
    "conflict": Entry("order", 1, 409, "other writers kept changing the same enterprise or budget; retried five "
                                       "times, nothing written"),
    "pool.already_admitted": Entry("order", 1, _R, "the enterprise is already in that pool (培育库)"),
    "pool.not_admitted": Entry("order", 1, _R, "removal from a pool the enterprise is not in"),
    "apply.already_open": Entry("order", 1, _R, "an application for the same tier (and product) is still open"),
    "recommend.wrong_stage": Entry("order", 1, _R, "recommendation after the application was assessed or closed"),
    "recommend.duplicate": Entry("order", 1, _R, "the application is already recommended at that level"),
    "assess.not_recommended": Entry("order", 1, _R, "assessment before every recommendation the tier needs"),
    "notice.not_assessed": Entry("order", 1, _R, "notice (公示) without a passed assessment"),
    "notice.outside_calendar": Entry("order", 1, _R, "a notice in working days dated outside the years the "
                                                      "working-day calendar covers"),
    "object.no_notice": Entry("order", 1, _R, "objection to an application that is not under notice"),
    "object.outside_notice": Entry("order", 1, _R, "objection dated outside the notice period"),
    "objection.not_open": Entry("order", 1, _R, "resolution of an objection that is not open"),
    "approve.no_document": Entry("order", 1, _R, "approval without its document (文号)"),
    "approve.not_recommended": Entry("order", 1, _R, "approval without a recommendation the tier needs"),
    "approve.no_notice": Entry("order", 1, _R, "approval without a passed assessment and a notice period"),
    "approve.notice_open": Entry("order", 1, _R, "approved before the notice period (公示) ended"),
    "approve.objection_open": Entry("order", 1, _R, "approval while an objection is unresolved"),
    "approve.objection_upheld": Entry("order", 1, _R, "approval after an objection was upheld (only rejection "
                                                      "is left)"),
    "reject.closed": Entry("order", 1, _R, "rejection of an application already decided or closed"),
    "withdraw.closed": Entry("order", 1, _R, "withdrawal of an application already decided or closed"),
    "chain.already_tagged": Entry("order", 1, _R, "the enterprise is already tagged on that industrial chain"),
    "chain.not_tagged": Entry("order", 1, _R, "untagging an enterprise that is not on that industrial chain"),
    "credit.already_listed": Entry("order", 1, _R, "putting an enterprise on a credit list it is already on"),
    "credit.not_listed": Entry("order", 1, _R, "taking an enterprise off a credit list it is not on"),
    "group.unchanged": Entry("order", 1, _R, "recording the group an enterprise already belongs to"),
    # 2 authority
    "authority.not_an_authority": Entry("authority", 1, _R, "a decision by an actor whose role is not authority"),
    "authority.wrong_level": Entry("authority", 1, _R, "a decision, assessment or notice by another level than "
                                                       "the tier's deciding, assessing or notice level"),
    "authority.not_covering": Entry("authority", 1, _R, "the actor does not cover the enterprise's region, or acts "
                                                        "outside the programme's jurisdiction"),
    "authority.subject_mismatch": Entry("authority", 1, _R, "over NATS, a body acting for another authority than "
                                                            "the subject's code"),
    "register.not_covering": Entry("authority", 1, _R, "registration by an authority that does not cover the "
                                                       "region"),
    "recommend.wrong_level": Entry("authority", 1, _R, "recommendation by a level the tier is not recommended at"),
    "recommend.not_covering": Entry("authority", 1, _R, "recommendation by an authority that does not cover the "
                                                        "enterprise"),
    "reconfirm.wrong_authority": Entry("authority", 1, _R, "re-confirmation of a designation the enterprise took out "
                                                           "of the programme's jurisdiction, by another authority"),
    "reward.wrong_authority": Entry("authority", 1, _R, "a reward or claw-back by another authority than the "
                                                        "scheme's granting one"),
    "recognition.wrong_authority": Entry("authority", 1, _R, "a product's recognition (首台套) by an authority the "
                                                             "programme's recognition does not name"),
    # 3 ladder
    "ladder.prerequisite_missing": Entry("ladder", 1, _R, "no valid designation of a tier the applied tier requires "
                                                          "(a little giant needs a provincial 专精特新)"),
    "ladder.excluded": Entry("ladder", 1, _R, "holds a valid designation that excludes the tier"),
    "ladder.listed_excluded": Entry("ladder", 1, _R, "applied for or recommended while listed on a board the tier "
                                                     "excludes (重点\"小巨人\": 主板, 科创板, 创业板, 境外; a listing "
                                                     "whose board is not reported counts)"),
    "recommend.abnormal_operations": Entry("ladder", 1, _R, "recommendation of an enterprise on the 经营异常名录 on "
                                                            "the recommendation date"),
    "recommend.seriously_dishonest": Entry("ladder", 1, _R, "recommendation of an enterprise on the 严重失信主体名单 "
                                                            "on the recommendation date"),
    "recommend.not_sme": Entry("ladder", 1, _R, "recommendation of an enterprise its declared figures show is no "
                                                "SME (《中小企业划型标准规定》; without the figures, no bar)"),
    "recommend.same_group": Entry("ladder", 1, _R, "recommendation of an enterprise of the same group (or control) "
                                                   "as a holder of the tier in the same GB/T 4754 class"),
    "apply.already_designated": Entry("ladder", 1, _R, "already designated for that tier (renewal goes through "
                                                       "review)"),
    # 5 review
    "review.not_designated": Entry("review", 1, _R, "review of an application that is not a current designation"),
    "review.not_valid": Entry("review", 1, _R, "review of a designation not valid on the review date (rule 4)"),
    "review.outside_window": Entry("review", 1, _R, "review before the window before valid_until opens"),
    "review.duplicate": Entry("review", 1, _R, "the designation was already reviewed for this period"),
    "review.yearly_data_missing": Entry("review", 1, _R, "the yearly data the review rests on is not filed"),
    "review.yearly_data_late": Entry("review", 1, _R, "the yearly data was filed late and the policy forfeits the "
                                                      "review"),
    "review.change_report_late": Entry("review", 1, _R, "a change was reported late in this validity and the policy "
                                                        "forfeits the review"),
    "review.criteria_not_met": Entry("review", 1, _R, "a pass whose data fail the criteria the judging version "
                                                      "reviews on (reviewed_on_criteria)"),
    "yearly_data.future_year": Entry("review", 1, _R, "yearly data for a year not yet over"),
    # 6 revocation
    "revoke.unknown_reason": Entry("revocation", 1, _R, "a revocation reason that is not one of the four classes"),
    "revoke.no_document": Entry("revocation", 1, _R, "revocation without its document (文号)"),
    "revoke.not_designated": Entry("revocation", 1, _R, "revocation of an application that is not a designation"),
    "revoke.already": Entry("revocation", 1, _R, "the designation is already revoked"),
    "revoke.after_expiry": Entry("revocation", 1, _R, "a revocation effective after the designation expires"),
    "apply.cooling_off": Entry("revocation", 1, _R, "application inside the cooling-off period after a "
                                                    "revocation of the same tier"),
    "recommend.barred": Entry("revocation", 1, _R, "recommendation within the bar after a revocation for a "
                                                   "barring reason"),
    # 7 change reports
    "change.unknown_kind": Entry("change", 1, _R, "a change kind that is not known"),
    "change.future": Entry("change", 1, _R, "a change dated after its report"),
    "change.name_required": Entry("change", 1, _R, "a rename without the new name"),
    "change.region_required": Entry("change", 1, _R, "a relocation without the new region"),
    "change.same_region": Entry("change", 1, _R, "a relocation into the region the enterprise is in"),
    "change.counterpart_required": Entry("change", 1, _R, "a merger or split without the other enterprise"),
    "change.board_not_listing": Entry("change", 1, _R, "a board named for a change that is not a listing, or a "
                                                       "board that is not known"),
    "reconfirm.not_pending": Entry("change", 1, _R, "re-confirmation of a designation not under re-confirmation"),
    "credit.unknown_list": Entry("change", 1, _R, "a credit list that is not 经营异常名录 or 严重失信主体名单"),
    "credit.future": Entry("change", 1, _R, "a credit listing dated after the day it is recorded"),
    # 8 rewards
    "reward.outside_region": Entry("reward", 1, _R, "the enterprise is outside the scheme's regions"),
    "reward.no_valid_designation": Entry("reward", 1, _R, "no designation the scheme requires is valid on the "
                                                          "reward date"),
    "reward.renewal_not_paid": Entry("reward", 1, _R, "the scheme does not pay again for a renewed designation"),
    "reward.tranche_required": Entry("reward", 1, _R, "a tranche scheme's reward without a tranche in range"),
    "reward.tranche_paid": Entry("reward", 1, _R, "that tranche is already paid"),
    "reward.tranche_order": Entry("reward", 1, _R, "a tranche before the one it follows"),
    "reward.review_document": Entry("reward", 1, _R, "a tranche after a performance review without its document"),
    "reward.no_tranches": Entry("reward", 1, _R, "a tranche named for a scheme without tranches"),
    "reward.loan_required": Entry("reward", 1, _R, "an interest subsidy without loan, LPR and days, or a "
                                                   "guarantee-fee subsidy without its recorded loan"),
    "reward.loan_cap_reached": Entry("reward", 1, _R, "the year's subsidised loans already reach the scheme's cap"),
    "reward.once_per_scheme": Entry("reward", 1, _R, "the scheme pays once per enterprise and has paid"),
    "reward.not_positive": Entry("reward", 1, _R, "an amount that is not positive"),
    "reward.over_cap": Entry("reward", 1, _R, "over the scheme's cap for the region (or the yearly subsidy cap)"),
    "reward.wrong_budget_year": Entry("reward", 1, _R, "a grant charged to another year's budget"),
    "reward.over_budget": Entry("reward", 1, _R, "beyond what is left of the scheme's budget for the year"),
    "claw_back.amount": Entry("reward", 1, _R, "a claw-back not between 1 fen and what is not yet clawed back"),
    "reward.not_applicable": Entry("reward", 1, _R, "a loan or product named for a scheme that does not rest on "
                                                    "one"),
    "reward.listing_required": Entry("reward", 1, _R, "a listing reward without a listing reported and standing "
                                                      "on the reward date"),
    "reward.listing_board": Entry("reward", 1, _R, "a listing reward for a listing on a board the scheme does not "
                                                   "pay for"),
    "reward.product_required": Entry("reward", 1, _R, "a reward resting on a product's recognition without "
                                                      "product_id"),
    "reward.not_recognised": Entry("reward", 1, _R, "the product has no recognition (首台套) recorded by the reward "
                                                    "date"),
    "reward.recognition_level": Entry("reward", 1, _R, "the product is recognised at another level than the "
                                                       "scheme rewards"),
    "reward.product_paid": Entry("reward", 1, _R, "the scheme has paid for that product"),
    "reward.loan_not_repaid": Entry("reward", 1, _R, "a guarantee-fee subsidy on a loan not recorded as repaid"),
    "reward.repaid_late": Entry("reward", 1, _R, "a guarantee-fee subsidy on a loan repaid after its due date"),
    "reward.loan_subsidised": Entry("reward", 1, _R, "the loan's guarantee fee is already subsidised"),
    "reward.over_formula": Entry("reward", 1, _R, "over what the scheme's formula gives for the loan (fee paid, "
                                                  "principal × rate × days)"),
    "loan.future": Entry("reward", 1, _R, "a loan or repayment recorded before it happened"),
    "loan.already_repaid": Entry("reward", 1, _R, "a repayment of a loan recorded as repaid"),
    "recognition.no_document": Entry("reward", 1, _R, "a product's recognition without its document"),
    "recognition.unknown_level": Entry("reward", 1, _R, "a recognition level the programme's recognition does not "
                                                        "have"),
    "recognition.duplicate": Entry("reward", 1, _R, "the product is already recognised"),
    # 9 immutability
    "yearly_data.duplicate": Entry("immutability", 1, _R, "yearly data already filed for that year"),
    "claw_back.no_document": Entry("immutability", 1, _R, "a claw-back without its document"),
    "annul.not_approved": Entry("immutability", 1, _R, "annulment of an application that is not approved"),
    "annul.no_document": Entry("immutability", 1, _R, "annulment without its document"),
    # identity
    "enterprise.not_found": Entry("identity", 1, _N, "no enterprise with that USCC is registered (on the "
                                                     "command's date)"),
    "register.exists": Entry("identity", 1, _R, "the enterprise is already registered"),
    "region.unknown": Entry("identity", 1, _R, "a region to record an enterprise in (registration, relocation) that "
                                               "is no current GB/T 2260 division: unknown, or abolished (the message "
                                               "names its successor)"),
    "application.not_found": Entry("identity", 1, _N, "the enterprise has no application with that id (on the "
                                                      "command's date)"),
    "apply.duplicate_id": Entry("identity", 1, _R, "an application with that id exists"),
    "apply.product_required": Entry("identity", 1, _R, "a product tier's application without product_id"),
    "apply.product_not_allowed": Entry("identity", 1, _R, "an enterprise tier's application naming a product"),
    "object.duplicate_id": Entry("identity", 1, _R, "an objection with that id exists"),
    "reward.duplicate_id": Entry("identity", 1, _R, "a reward with that id exists"),
    "reward.not_found": Entry("identity", 1, _N, "the enterprise has no reward with that id"),
    "command_id.reused": Entry("identity", 1, _R, "a command id already used for a different command"),
    "loan.duplicate_id": Entry("identity", 1, _R, "a loan with that id is recorded"),
    "loan.not_found": Entry("identity", 1, _N, "the enterprise has no recorded loan with that id (on the command's "
                                               "date)"),
    "group.self": Entry("identity", 1, _R, "an enterprise named as its own group"),
    # policy
    "policy.unknown_programme": Entry("policy", 1, _R, "no programme of that id"),
    "policy.not_in_force": Entry("policy", 1, _R, "no rule version of the programme in force on the date"),
    "policy.unknown_tier": Entry("policy", 1, _R, "the rule version in force has no tier of that id"),
    "policy.unknown_scheme": Entry("policy", 1, _R, "the rule version in force has no scheme of that id"),
    "policy.unknown_chain": Entry("policy", 1, _R, "the rule version in force has no industrial chain of that id"),
    "policy.unknown_recognition": Entry("policy", 1, _R, "the rule version in force has no recognition of that "
                                                         "id"),
    # input, query, internal
    "input.invalid": Entry("input", 2, 400, "malformed input: the field and what is wrong with it"),
    "output.refused": Entry("input", 2, None, "the CLI will not write the output file or folder as named (it "
                                              "exists without --force, is a link, the ledger's own file ...)"),
    "store.invalid": Entry("input", 2, None, "--db names no usable store (a bad URL, a directory, no ledger "
                                             "where one is read)"),
    "query.too_large": Entry("query", 2, 400, "a query whose answer exceeds a NATS message (ask for fewer items a "
                                              "page: limit)"),
    "internal.error": Entry("internal", 3, 500, "this command could not be decided (a defect); nothing written, "
                                                "the cause logged"),
    "store.unavailable": Entry("internal", 3, 500, "the store did not answer; nothing written"),
    "internal": Entry("internal", 3, None, "the CLI failed on something that is no refusal (--debug shows it)"),
}


# The field(s) each code's refusals name, as their raise sites give them (a test reads the
# sites, following a field passed down as a parameter, and keeps this table equal to them).
FIELDS: dict[Code, tuple[str | None, ...]] = {
    "order.backdated": ("listed_on", "occurred_on", "repaid_on"), "order.contradicts_later": ("occurred_on",),
    "conflict": ("uscc",), "pool.already_admitted": ("tier",), "pool.not_admitted": ("tier",),
    "apply.already_open": ("tier",), "recommend.wrong_stage": ("application_id",),
    "recommend.duplicate": ("actor.authority",), "assess.not_recommended": ("application_id",),
    "notice.not_assessed": ("application_id",), "notice.outside_calendar": ("occurred_on",),
    "object.no_notice": ("application_id",), "object.outside_notice": ("occurred_on",),
    "objection.not_open": ("objection_id",), "approve.no_document": ("document",),
    "approve.not_recommended": ("application_id",), "approve.no_notice": ("application_id",),
    "approve.notice_open": ("occurred_on",), "approve.objection_open": ("application_id",),
    "approve.objection_upheld": ("application_id",), "reject.closed": ("application_id",),
    "withdraw.closed": ("application_id",), "chain.already_tagged": ("chain",), "chain.not_tagged": ("chain",),
    "credit.already_listed": ("listed",), "credit.not_listed": ("listed",), "group.unchanged": ("group_uscc",),
    "authority.not_an_authority": ("actor.role",), "authority.wrong_level": ("actor.authority",),
    "authority.not_covering": ("actor.authority",), "authority.subject_mismatch": ("actor.authority",),
    "register.not_covering": ("actor.authority",), "recommend.wrong_level": ("actor.authority",),
    "recommend.not_covering": ("actor.authority",), "reconfirm.wrong_authority": ("actor.authority",),
    "reward.wrong_authority": ("actor.authority",), "recognition.wrong_authority": ("actor.authority",),
    "ladder.prerequisite_missing": ("tier",), "ladder.excluded": ("application_id", "tier"),
    "ladder.listed_excluded": ("application_id", "tier"), "recommend.abnormal_operations": ("application_id",),
    "recommend.seriously_dishonest": ("application_id",), "recommend.not_sme": ("application_id",),
    "recommend.same_group": ("application_id",), "apply.already_designated": ("tier",),
    "review.not_designated": ("application_id",), "review.not_valid": ("occurred_on",),
    "review.outside_window": ("occurred_on",), "review.duplicate": ("application_id",),
    "review.yearly_data_missing": ("application_id",), "review.yearly_data_late": ("application_id",),
    "review.change_report_late": ("application_id",), "review.criteria_not_met": ("passed",),
    "yearly_data.future_year": ("data_year",), "revoke.unknown_reason": ("reason",),
    "revoke.no_document": ("document",), "revoke.not_designated": ("application_id",),
    "revoke.already": ("application_id",), "revoke.after_expiry": ("effective_on",),
    "apply.cooling_off": ("occurred_on",), "recommend.barred": ("application_id",), "change.unknown_kind": ("kind",),
    "change.future": ("changed_on",), "change.name_required": ("new_name",),
    "change.region_required": ("new_region",), "change.same_region": ("new_region",),
    "change.counterpart_required": ("counterpart_uscc",), "change.board_not_listing": ("board",),
    "reconfirm.not_pending": ("application_id",), "credit.unknown_list": ("credit_list",),
    "credit.future": ("listed_on",), "reward.outside_region": ("scheme",),
    "reward.no_valid_designation": ("scheme",), "reward.renewal_not_paid": ("scheme",),
    "reward.tranche_required": ("tranche",), "reward.tranche_paid": ("tranche",),
    "reward.tranche_order": ("tranche",), "reward.review_document": ("document",),
    "reward.no_tranches": ("tranche",), "reward.loan_required": ("loan_fen", "loan_id"),
    "reward.loan_cap_reached": ("loan_fen",), "reward.once_per_scheme": ("scheme",),
    "reward.not_positive": ("amount_fen",), "reward.over_cap": ("amount_fen",),
    "reward.wrong_budget_year": ("occurred_on",), "reward.over_budget": ("amount_fen",),
    "claw_back.amount": ("amount_fen",), "reward.not_applicable": ("loan_fen", "loan_id", "product_id"),
    "reward.listing_required": ("scheme",), "reward.listing_board": ("scheme",),
    "reward.product_required": ("product_id",), "reward.not_recognised": ("product_id",),
    "reward.recognition_level": ("product_id",), "reward.product_paid": ("product_id",),
    "reward.loan_not_repaid": ("loan_id",), "reward.repaid_late": ("loan_id",),
    "reward.loan_subsidised": ("loan_id",), "reward.over_formula": ("amount_fen",),
    "loan.future": ("drawn_on", "repaid_on"), "loan.already_repaid": ("loan_id",),
    "recognition.no_document": ("document",), "recognition.unknown_level": ("level",),
    "recognition.duplicate": ("product_id",), "yearly_data.duplicate": ("data_year",),
    "claw_back.no_document": ("document",), "annul.not_approved": ("application_id",),
    "annul.no_document": ("document",), "enterprise.not_found": ("uscc",), "register.exists": ("uscc",),
    "region.unknown": ("new_region", "region"), "application.not_found": ("application_id",),
    "apply.duplicate_id": ("application_id",), "apply.product_required": ("product_id",),
    "apply.product_not_allowed": ("product_id",), "object.duplicate_id": ("objection_id",),
    "reward.duplicate_id": ("reward_id",), "reward.not_found": ("reward_id",), "command_id.reused": ("command_id",),
    "loan.duplicate_id": ("loan_id",), "loan.not_found": ("loan_id",), "group.self": ("group_uscc",),
    "policy.unknown_programme": ("programme",), "policy.not_in_force": ("programme",),
    "policy.unknown_tier": ("tier",), "policy.unknown_scheme": ("scheme",), "policy.unknown_chain": ("chain",),
    "policy.unknown_recognition": ("recognition",), "input.invalid": ("*",),
    "output.refused": ("--out", "--expected"), "store.invalid": ("--db",), "query.too_large": ("$.limit", "$"),
    "internal.error": (None,), "store.unavailable": ("--db", None), "internal": (None,),
}

# Retry follows from the rule where the rule decides it; the codes whose class differs from
# their rule's, or whose reason is their own, are listed below it, each with why.
RETRY_BY_RULE: dict[Rule, tuple[Retry, str]] = {
    "order": ("after_facts", "waits for a fact that must come first (or for its period to pass): recorded, or "
                             "dated later, the same command can pass"),
    "authority": ("never", "the actor cannot take this decision: facts about the enterprise do not change who "
                           "decides; the authority that does must send it"),
    "ladder": ("after_facts", "judged on the designations, listings and credit lists of its date: another "
                              "designation, one ending, a delisting or a removal from a list can change it"),
    "validity": ("after_facts", "judged on the validity on its date"),
    "review": ("after_facts", "judged on the designation and the yearly data on its date: filed, or in the "
                              "window, the same review can pass"),
    "revocation": ("after_facts", "judged on the designation and the revocations on its date: once it is a "
                                  "designation, or the bar has run out, it can pass"),
    "change": ("never", "the change report itself is incomplete or names what is not known: correct it"),
    "reward": ("after_facts", "judged on the scheme's conditions on its date: the designation, listing, "
                              "recognition or repayment it rests on, once recorded, can make it pass"),
    "immutability": ("never", "what it would record exists, or it lacks the document a correction needs; "
                              "recorded facts are not changed"),
    "identity": ("never", "an id that is taken, or a subject that does not fit: ids and recorded facts are not "
                          "changed"),
    "policy": ("never", "the rule versions are the policy files, not facts: refused the same until they change"),
    "input": ("never", "malformed input: refused the same until corrected"),
    "query": ("never", "the query as asked cannot be answered: narrow it"),
    "internal": ("never", "a defect: the same command fails the same way until the ledger is fixed"),
    "cli": ("never", "a failure of the command line's own: correct the invocation"),
}

RETRY_BY_CODE: dict[Code, tuple[Retry, str]] = {
    # order
    "order.backdated": ("after_facts", "dated before the fact it follows: dated on or after it, it can pass"),
    "order.contradicts_later": ("never", "the facts dated after it that contradict it are recorded and stay; "
                                         "dated as of now it is another decision, on the record as it stands"),
    "conflict": ("yes", "other writers changed the same enterprise or budget meanwhile; nothing was written and "
                        "nothing is wrong with the command: send it again, same command_id"),
    "recommend.wrong_stage": ("never", "the application was assessed or closed; that is not undone"),
    "recommend.duplicate": ("never", "the recommendation at that level is recorded and stays"),
    "notice.outside_calendar": ("never", "no fact helps: only a release of the working-day calendar covering "
                                         "the year"),
    "object.outside_notice": ("never", "the notice period is recorded; a date outside it stays outside"),
    "objection.not_open": ("never", "the objection is resolved (or unknown); a resolution is not undone"),
    "approve.no_document": ("never", "the command lacks its document (文号)"),
    "approve.objection_upheld": ("never", "an upheld objection leaves only rejection"),
    "reject.closed": ("never", "the application is decided or closed; that is not undone"),
    "withdraw.closed": ("never", "the application is decided or closed; that is not undone"),
    # authority
    "authority.subject_mismatch": ("never", "the body acts for another authority than the subject names: send "
                                            "it on its own authority's subject"),
    # ladder
    "recommend.not_sme": ("never", "judged on the figures the application declared, which are recorded with it"),
    # review
    "review.not_valid": ("after_facts", "a designation not in force yet (from 1 January) can be reviewed later; "
                                        "an expired or revoked one cannot"),
    "review.duplicate": ("never", "the review of this period is recorded and stays"),
    "review.yearly_data_late": ("never", "the late filing is recorded; the policy forfeits this review"),
    "review.change_report_late": ("never", "the late change report is recorded; the policy forfeits this review"),
    "review.criteria_not_met": ("never", "the yearly data it is judged on are filed once and not changed; record "
                                         "the review as failed"),
    # revocation
    "revoke.after_expiry": ("after_facts", "a passed review that extends the designation can bring the date "
                                           "inside it"),
    "revoke.unknown_reason": ("never", "the reason is none of the four classes: correct it"),
    "revoke.no_document": ("never", "the command lacks its document (文号)"),
    "revoke.already": ("never", "the revocation is recorded and stays"),
    # change
    "change.future": ("after_facts", "the change has not happened on the report's date: reported once it has"),
    "change.same_region": ("after_facts", "the enterprise is in that region now: after another relocation it "
                                          "can pass"),
    "reconfirm.not_pending": ("after_facts", "nothing awaits re-confirmation yet: a relocation out of the "
                                             "jurisdiction starts it"),
    "credit.future": ("after_facts", "the listing lies after the day it is recorded: recorded once it happened"),
    # reward
    "reward.outside_region": ("after_facts", "after a relocation into the scheme's regions it can pass"),
    "reward.renewal_not_paid": ("never", "the designation is a renewal, and stays one"),
    "reward.tranche_required": ("never", "the command lacks a tranche in range"),
    "reward.tranche_paid": ("never", "that tranche is paid and stays paid"),
    "reward.review_document": ("never", "the command lacks the performance review's document"),
    "reward.no_tranches": ("never", "the scheme has no tranches: the command names one"),
    "reward.loan_required": ("never", "the command lacks the loan it rests on (loan_id, or loan_fen, lpr_bp, "
                                      "days)"),
    "reward.loan_cap_reached": ("never", "the year's subsidised loans are recorded and stay"),
    "reward.once_per_scheme": ("never", "the scheme has paid; that payment stays"),
    "reward.not_positive": ("never", "the amount is not positive: correct it"),
    "reward.over_cap": ("never", "the amount is over the cap: correct it"),
    "reward.wrong_budget_year": ("never", "its date and its budget year differ: correct one"),
    "reward.over_budget": ("never", "what is left of the year's budget only shrinks: ask for less"),
    "claw_back.amount": ("never", "the amount is outside what can be clawed back: correct it"),
    "reward.not_applicable": ("never", "the scheme does not rest on the loan or product the command names"),
    "reward.listing_board": ("never", "the listing's board is recorded; the scheme does not pay for it"),
    "reward.product_required": ("never", "the command lacks product_id"),
    "reward.recognition_level": ("never", "the product's recognition is recorded once, at another level"),
    "reward.product_paid": ("never", "the scheme has paid for that product; that payment stays"),
    "reward.repaid_late": ("never", "the late repayment is recorded and stays"),
    "reward.loan_subsidised": ("never", "the loan's fee is subsidised; that stays"),
    "reward.over_formula": ("never", "the amount is over what the formula gives: correct it"),
    "loan.already_repaid": ("never", "the repayment is recorded and stays"),
    "recognition.no_document": ("never", "the command lacks its document"),
    "recognition.unknown_level": ("never", "the level is not one the recognition has: correct it"),
    "recognition.duplicate": ("never", "the recognition is recorded and stays"),
    # immutability
    "annul.not_approved": ("after_facts", "nothing approved to annul yet: once the application is approved it can "
                                          "be annulled"),
    # identity
    "region.unknown": ("never", "the region is no current GB/T 2260 division: name its successor (the message "
                                "says it) or a known one"),
    "group.self": ("never", "an enterprise cannot be its own group"),
    "command_id.reused": ("never", "the id was used for another command: another command needs another id"),
    "enterprise.not_found": ("after_facts", "once the enterprise is registered (dated on or before the command) "
                                            "the same command can pass"),
    "application.not_found": ("after_facts", "once the application is recorded (dated on or before the command) "
                                             "the same command can pass"),
    "reward.not_found": ("after_facts", "once the reward is recorded the same command can pass"),
    "loan.not_found": ("after_facts", "once the loan is recorded (dated on or before the command) the same "
                                      "command can pass"),
    # input
    "output.refused": ("never", "name another file or folder (or add --force where it may be replaced)"),
    "store.invalid": ("never", "--db names no usable store: name one"),
    # internal
    "store.unavailable": ("yes", "the store did not answer and nothing was written: send the same command again "
                                 "once it does"),
}


def retry_why(code: Code) -> tuple[Retry, str]:
    """Whether retrying ``code``'s refusal can help, and why: its rule's class unless listed.

    >>> retry_why("conflict")[0], retry_why("approve.notice_open")[0], retry_why("input.invalid")[0]
    ('yes', 'after_facts', 'never')
    """
    return RETRY_BY_CODE.get(code) or RETRY_BY_RULE[_MEANINGS[code].rule]


CATALOGUE: dict[Code, Entry] = {code: e._replace(fields=FIELDS[code], retry=retry_why(code)[0])
                                for code, e in _MEANINGS.items()}


def retry_of(code: str) -> Retry:
    """The retry class of a code as a refusal body carries it (a code not catalogued: never).

    >>> retry_of("store.unavailable"), retry_of("register.exists")
    ('yes', 'never')
    """
    entry = CATALOGUE.get(code)  # type: ignore[call-overload]
    return "never" if entry is None else entry.retry


def with_retry(error: dict[str, Any]) -> dict[str, Any]:
    """A refusal body (``code``, ``rule``, ``field``, ``message``) with its ``retry`` class.

    >>> with_retry({"code": "conflict", "rule": "order", "field": "uscc", "message": "..."})["retry"]
    'yes'
    """
    return {**error, "retry": retry_of(error["code"])}

def shown_fields(fields: tuple[str | None, ...]) -> str:
    """The fields as people read them: ``*`` is whichever field is malformed, None none.

    >>> shown_fields(("tier", "application_id")), shown_fields(("*",)), shown_fields(("--db", None))
    ('tier, application_id', '(the malformed one)', '--db, (none)')
    """
    return ", ".join("(none)" if f is None else "(the malformed one)" if f == "*" else f for f in fields)


def markdown() -> str:
    """The catalogue as the README's Markdown table, rule by rule."""
    lines = ["| code | rule | field | exit | NATS | retry | meaning |", "|---|---|---|---|---|---|---|"]
    order = list(RULES)
    for code, e in sorted(CATALOGUE.items(), key=lambda kv: order.index(kv[1].rule)):  # stable: catalogue order
        lines.append(f"| `{code}` | {e.rule} | {shown_fields(e.fields)} | {e.exit} | {e.status or '-'} | {e.retry} "
                     f"| {e.meaning} |")
    return "\n".join(lines)


def _check() -> None:
    """The typed names and the tables hold the same codes and rules; every code names its
    field(s); a code listed apart from its rule's retry class differs from it in class or reason."""
    codes, rules = set(get_args(Code)), set(get_args(Rule))
    if codes != set(_MEANINGS) or rules != set(RULES) or codes != set(FIELDS) or rules != set(RETRY_BY_RULE):
        raise AssertionError(f"codes not catalogued: {sorted(codes ^ set(_MEANINGS))}; "
                             f"codes without fields: {sorted(codes ^ set(FIELDS))}; "
                             f"rules not described: {sorted(rules ^ set(RULES))}; "
                             f"rules without a retry class: {sorted(rules ^ set(RETRY_BY_RULE))}")
    empty = sorted(code for code, fields in FIELDS.items() if not fields)
    same = sorted(code for code, why in RETRY_BY_CODE.items() if why == RETRY_BY_RULE[_MEANINGS[code].rule])
    if empty or same or set(RETRY_BY_CODE) - codes:
        raise AssertionError(f"codes naming no field: {empty}; listed apart but just as their rule: {same}; "
                             f"unknown: {sorted(set(RETRY_BY_CODE) - codes)}")


_check()

if __name__ == "__main__":
    print(markdown())
