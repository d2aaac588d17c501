"""The USCC at the edge of a ledger, including the documented override for old codes
(the value objects themselves: tests/unit/test_values.py)."""

from __future__ import annotations

from services import commands as c
from tests.support.journeys import designate, register, stored_events
from tests.support.ledgers import uscc

# --------------------------------------------------------------------------- USCC at the edge
BAD_CHECK = uscc(1, "211402")[:17] + ("0" if uscc(1, "211402")[17] != "0" else "1")


def test_register_refuses_a_failing_check_character(script) -> None:
    err = script.refused("register", uscc=BAD_CHECK, name="某公司", occurred_on="2020-01-10", actor="211400")
    assert isinstance(err, c.InputError)
    assert err.field == "$.uscc"
    assert "check character" in err.message


def test_register_with_override_admits_an_old_code_and_keeps_the_override_visible(script) -> None:
    out = script.ok("register", uscc=BAD_CHECK, name="某老企业", occurred_on="2020-01-10", actor="211400",
                    uscc_override="葫工信函〔2020〕3号")
    assert [e.type for e in out.events] == ["Registered"]
    registered = stored_events(script, BAD_CHECK)[0]
    assert registered.uscc == BAD_CHECK
    assert registered.uscc_override == "葫工信函〔2020〕3号"
    assert script.ledger.enterprise(BAD_CHECK).uscc_override == "葫工信函〔2020〕3号"
    # the enterprise is found by its code from then on: it can apply like any other
    d = designate(script, BAD_CHECK, "innovative", on="2023-03-01")
    assert d.state(script).status == "approved"


def test_an_empty_override_is_no_override(script) -> None:
    err = script.refused("register", uscc=BAD_CHECK, name="某老企业", occurred_on="2020-01-10", actor="211400",
                         uscc_override="")
    assert isinstance(err, c.InputError) and err.field == "$.uscc"


def test_override_does_not_excuse_a_malformed_code(script) -> None:
    err = script.refused("register", uscc="91211402MA000000I1", name="某公司", occurred_on="2020-01-10",
                         actor="211400", uscc_override="葫工信函〔2020〕3号")
    assert isinstance(err, c.InputError) and err.field == "$.uscc"


def test_commands_for_unknown_codes(script) -> None:
    register(script, uscc(2, "211402"))
    common = dict(application_id="a", programme="national", tier="innovative", occurred_on="2023-03-01",
                  actor="211400")
    err = script.refused("apply", uscc=BAD_CHECK, **common)  # never registered, and the check fails
    assert isinstance(err, c.InputError) and err.field == "uscc"
    err = script.refused("apply", uscc=uscc(3, "211402"), **common)  # well-formed but not registered
    assert (err.code, err.rule, err.field) == ("enterprise.not_found", "identity", "uscc")


def test_register_defaults_region_to_the_division_in_the_code(script) -> None:
    u = uscc(4, "211402")
    register(script, u)
    assert script.ledger.enterprise(u).region == "211402"
    v = uscc(5, "211400")
    register(script, v, region="211403")  # the code names the city; the enterprise sits in a county
    assert script.ledger.enterprise(v).region == "211403"


def test_register_twice_is_refused(script) -> None:
    u = uscc(6, "211402")
    register(script, u)
    err = script.refused("register", uscc=u, name="again", occurred_on="2021-01-01", actor="211400")
    assert (err.code, err.rule, err.field) == ("register.exists", "identity", "uscc")


def test_register_needs_a_covering_authority(script) -> None:
    err = script.refused("register", uscc=uscc(7, "211402"), name="某公司", occurred_on="2020-01-10",
                         actor="370200")
    assert (err.code, err.rule, err.field) == ("register.not_covering", "authority", "actor.authority")
    register(script, uscc(7, "211402"), by="210000")  # the province covers it
