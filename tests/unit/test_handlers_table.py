"""The handler table: one handler per command type, wired to the type it decides; and
the identity rule of registration, decided in the domain."""

from __future__ import annotations

from datetime import date
from typing import get_type_hints

import pytest

from domain.enterprise import Enterprise
from domain.errors import RuleViolation
from domain.values import Actor, make_uscc
from services import commands as c
from services.handlers import HANDLERS


def test_every_command_type_has_exactly_one_handler() -> None:
    assert set(HANDLERS) == set(c.COMMAND_TYPES.values())
    assert len(HANDLERS) == len(c.COMMAND_TYPES)


@pytest.mark.parametrize("tag", sorted(c.COMMAND_TYPES))
def test_each_handler_takes_the_command_type_it_is_listed_for(tag: str) -> None:
    command_type = c.COMMAND_TYPES[tag]
    assert get_type_hints(HANDLERS[command_type])["cmd"] is command_type


FIELDS = {"uscc": make_uscc("91211400MA0000001"), "name": "葫芦岛某泵业有限公司", "region": "211402",
          "industry": None, "listed": False, "uscc_override": None, "occurred_on": date(2020, 3, 1), "document": ""}


def test_registering_a_registered_code_is_refused_before_the_authority_is_checked() -> None:
    elsewhere = Actor(authority="330100", person="杭州市经信局")  # does not cover 211402
    with pytest.raises(RuleViolation) as info:
        Enterprise.register_new(registered=True, actor=elsewhere, **FIELDS)
    e = info.value
    assert (e.rule, e.code, e.field) == ("identity", "register.exists", "uscc")
    assert e.message == f"enterprise {FIELDS['uscc']} is already registered"
    with pytest.raises(RuleViolation) as info:
        Enterprise.register_new(registered=False, actor=elsewhere, **FIELDS)
    assert info.value.code == "register.not_covering"


def test_registering_a_new_code_is_registering() -> None:
    city = Actor(authority="211400", person="葫芦岛市工信局")
    new = Enterprise.register_new(registered=False, actor=city, **FIELDS)
    plain = Enterprise.register(actor=city, **FIELDS)
    assert [type(e).__name__ for e in new.collect_events()] == ["Registered"]
    assert (new.id, new.uscc, new.region, new.registered_on) == (plain.id, plain.uscc, plain.region,
                                                                  plain.registered_on)
