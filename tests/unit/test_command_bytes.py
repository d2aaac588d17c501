"""The canonical bytes of a command, over which its journal digest is taken, must never
change: a command journalled years ago is recognised as repeated by them.  A field added
later (``ADDED_FIELDS``) and left unset is left out of them.  ``encode_command`` builds
them without a dict of the command (issue 17: that dict cost 4 µs of a batched command's
130); here they are held equal to their definition, the command as builtins minus its
unset added fields, for every command of a generated history."""

from __future__ import annotations

from collections import Counter
from typing import Any

import msgspec
import pytest

from scenarios.generate import generate_commands
from services import commands as c


def defined_bytes(cmd: Any) -> bytes:
    """The bytes as first defined: every field in field order, dicts' keys sorted, the
    added fields left unset dropped."""
    tag = c.command_name(cmd)
    obj = msgspec.to_builtins(cmd, order="deterministic")
    for f in cmd.__struct_fields__:
        if (f in c.ADDED_FIELDS or f"{tag}.{f}" in c.ADDED_FIELDS) and getattr(cmd, f) is None:
            del obj[f]
    return msgspec.json.encode(obj)


@pytest.fixture(scope="module")
def history() -> list[Any]:
    return [c.convert_command(d) for d in generate_commands(150, 10, 3, start_year=2016)]


def test_every_command_of_a_history_has_the_bytes_it_was_defined_with(history: list[Any]) -> None:
    kinds: Counter[tuple[str, bool]] = Counter()
    for cmd in history:
        assert c.encode_command(cmd) == defined_bytes(cmd), cmd
        tag = c.command_name(cmd)
        kinds[(tag, any((f in c.ADDED_FIELDS or f"{tag}.{f}" in c.ADDED_FIELDS) and getattr(cmd, f) is None
                        for f in cmd.__struct_fields__))] += 1
    # the history holds commands with added fields unset and commands with none to drop
    assert {("apply", True), ("register", True), ("recommend", True), ("file_yearly_data", False)} <= set(kinds)


def test_an_added_field_given_is_in_the_bytes_and_one_left_unset_is_not(history: list[Any]) -> None:
    approve = next(cmd for cmd in history if isinstance(cmd, c.Approve) and cmd.batch is None)
    with_batch = msgspec.structs.replace(approve, batch=5)
    assert b'"batch"' not in c.encode_command(approve)
    assert b'"batch":5' in c.encode_command(with_batch) and c.encode_command(with_batch) == defined_bytes(with_batch)
    register = next(cmd for cmd in history if isinstance(cmd, c.Register) and cmd.board is None)
    assert c.encode_command(register).startswith(b'{"command":"register",')
    assert c.encode_command(msgspec.structs.replace(register, board="main")) == \
        defined_bytes(msgspec.structs.replace(register, board="main"))
