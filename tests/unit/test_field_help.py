"""Every field of every command says what it means (services.commands.FIELD_HELP), so the
CLI's generated flags never fall back to the field's name as their help, and the closed
sets the fields take are one per field name (the edge lists them on an invalid value)."""

from __future__ import annotations

import msgspec
import pytest

from services import commands as c


@pytest.mark.parametrize("tag", sorted(c.COMMAND_TYPES))
def test_every_field_of_every_command_has_a_description(tag: str) -> None:
    for f in msgspec.structs.fields(c.COMMAND_TYPES[tag]):
        if f.name == "actor":  # given by --authority, --person, --role
            continue
        text = c.field_help(tag, f.name)
        assert text.strip() and text.strip() != f.name and len(text.split()) >= 3, (tag, f.name, text)


def test_no_description_is_left_over_from_a_field_that_is_gone() -> None:
    names = {f.name for t in c.COMMAND_TYPES.values() for f in msgspec.structs.fields(t)}
    tagged = {(tag, f.name) for tag, t in c.COMMAND_TYPES.items() for f in msgspec.structs.fields(t)}
    for key in c.FIELD_HELP:
        tag, _, name = key.rpartition(".")
        assert ((tag, name) in tagged) if tag else (name in names), key


def test_an_invalid_closed_set_value_lists_the_valid_ones_with_their_labels() -> None:
    body = (b'{"command": "record_credit_listing", "command_id": "x", "occurred_on": "2024-01-01", '
            b'"actor": {"authority": "210000", "person": "p"}, "uscc": "91211400MA0000001D", '
            b'"credit_list": "blacklist", "listed": true, "listed_on": "2024-01-01"}')
    with pytest.raises(c.InputError) as info:
        c.decode_command(body)
    assert info.value.field == "$.credit_list"
    assert info.value.message == ("unknown credit list 'blacklist'; valid: abnormal_operations (经营异常名录), "
                                  "serious_dishonesty (严重失信主体名单)")
