"""The contract (docs/api/): valid JSON Schema 2020-12, the committed files what the code
generates, and real messages of each kind valid against their schema."""

from __future__ import annotations

import json
import typing
import uuid
from datetime import UTC, date, datetime

import msgspec
import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from domain.codes import CATALOGUE, Code
from entrypoints import api
from entrypoints.nats_service import CommandReply, Refusal, RefusalReply
from infra.projector import StatsDelta
from services.ledger import EventRef


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(api.message_schema(name))


def test_schema_is_valid_2020_12() -> None:
    doc = api.schema()
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(doc)


@pytest.mark.parametrize("name", sorted(api.documents()))
def test_committed_documents_are_what_the_code_generates(name: str) -> None:
    committed = (api.DOCS / name).read_text(encoding="utf-8")
    assert committed == api.documents()[name], f"docs/api/{name} is stale: regenerate with python -m entrypoints.api"


def test_every_channel_has_its_messages_in_both_documents() -> None:
    doc, spec = api.schema(), api.asyncapi()
    assert spec["asyncapi"] == "3.0.0"
    for ch in api.CHANNELS:
        assert ch.id in spec["channels"] and ch.id in spec["operations"]
        for n in [ch.name or api._name(ch.message), *(api._name(r) for r in ch.reply)]:
            assert n in doc["messages"] and n in spec["components"]["messages"]
    assert {ch.id.removeprefix("cmd_") for ch in api.CHANNELS if ch.id.startswith("cmd_")} \
        == set(api.c.COMMAND_TYPES)


def test_refusal_codes_are_the_catalogue() -> None:
    assert set(typing.get_args(Code)) == set(CATALOGUE)
    assert api.schema()["$defs"]["Refusal"]["properties"]["code"]["enum"] == sorted(CATALOGUE)


def test_permissions_come_from_the_principals() -> None:
    ops = api.asyncapi()["operations"]
    assert ops["cmd_register"]["x-permissions"] == {"publish": ["authority"], "subscribe": ["service"]}
    assert ops["audit"]["x-permissions"] == {"publish": ["service"], "subscribe": ["auditor"]}
    assert "reader" in ops["pool"]["x-permissions"]["subscribe"]
    assert ops["events"]["x-permissions"]["consume"] == ["auditor", "service"]
    assert ops["pool_kv"]["x-permissions"]["consume"] == ["auditor", "reader", "service"]


def test_messages_validate_and_a_wrong_one_does_not() -> None:
    ref = EventRef(event_id=uuid.uuid4(), aggregate_id=uuid.uuid4(), version=1, type="Registered",
                   occurred_on=date(2024, 1, 2), recorded_at=datetime.now(UTC))
    reply = json.loads(msgspec.json.encode(CommandReply(command_id="c1", command="register", events=[ref])))
    validator("CommandReply").validate(reply)
    refusal = json.loads(msgspec.json.encode(RefusalReply(error=Refusal(
        code="conflict", rule="order", field="uscc", message="m", retry="yes"))))
    validator("RefusalReply").validate(refusal)
    stats = json.loads(msgspec.json.encode([StatsDelta(province="210000", tier="t", type="Approved", year=2024,
                                                       delta=1)]))
    validator("StatsDeltas").validate(stats)
    cmd = {"command": "recommend", "command_id": "c1", "uscc": "91211400MA0000001D", "application_id": "a",
           "occurred_on": "2023-12-01", "actor": {"authority": "210000", "person": "p"}}
    validator("Recommend").validate(cmd)
    validator("Command").validate(cmd)
    assert not validator("RefusalReply").is_valid({**refusal, "error": {**refusal["error"], "code": "no.such"}})
    assert not validator("Command").is_valid({**cmd, "command": "nonsense"})
