"""Who may do what: principals, the permissions derived from the policy, and a real
nats-server enforcing them (no mocks).

How a refusal surfaces:

- **the server refuses a publish** (a subject outside the principal's permissions): the
  message is dropped, the server sends ``-ERR 'Permissions Violation for Publish to
  "<subject>"'``, nats.py hands it to the connection's ``error_cb`` as
  ``nats.errors.Error("nats: permissions violation for publish to ...")`` and keeps the
  connection open; a ``request`` on that subject raises ``nats.errors.TimeoutError``
  (nothing received it, so there is not even a "no responders" status);
- **the server refuses a subscription**: ``error_cb`` gets ``permissions violation for
  subscription to "<subject>"`` and the subscription receives nothing;
- **the command service refuses** (the body acts for another authority than the
  subject's code): a reply ``{"ok": false, "error": {"code": "authority.subject_mismatch"}}``
  with ``Nats-Service-Error-Code: 422``;
- **the domain refuses** (a decision outside the actor's level or region), whatever the
  transport: ``RuleViolation`` with rule ``authority`` (over NATS: the same as a reply).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest

from domain.authority import (
    ANY_AUTHORITY,
    ASSESSING,
    DECIDING,
    GRANTING,
    JURISDICTION,
    NOTICING,
    RECOGNISING,
    RECOMMENDING,
    TAGGING,
    allowed_commands,
    render_level_table,
)
from domain.errors import LedgerError, RuleViolation
from domain.values import make_uscc
from infra.nats import POSITION_HEADER, EmbeddedNats, Names
from infra.permissions import (
    PrincipalsError,
    client_options,
    decode_principals,
    ledger_consumers,
    load_principals,
    permissions_for,
    render_config,
    secret,
    server_environment,
)
from infra.policy_files import load_policy_book
from services import commands as c
from tests.support import ROOT
from tests.support.principals import (
    LEDGER_ENV,
    Client,
    Served,
    cmd,
    designate_specialized,
    new_uscc,
    ok,
    subject,
    write_principals,
)

N = Names()  # the default ledger's NATS names

BOOK = load_policy_book()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    s = Served(tmp_path_factory.mktemp("permissions"))
    yield s
    assert s.stop() == 0, s.output()


# ============================================================================ over NATS
def test_county_registers_and_applies_but_cannot_recommend(served: Served) -> None:
    uscc = new_uscc()

    async def go() -> None:
        async with Client(served, "lianshan") as county:
            reply = await ok(county, "register", "211402", uscc=uscc, name="连山某企业", occurred_on="2019-01-02")
            assert [e["type"] for e in reply["events"]] == ["Registered"]
            await ok(county, "apply", "211402", uscc=uscc, application_id="sp", programme="national",
                     tier="specialized", occurred_on="2019-03-01")
            for command in ("recommend", "approve", "revoke", "grant_reward"):
                await county.refused_publish(subject("211402", command),
                                             cmd(command, "211402", uscc=uscc, application_id="sp",
                                                 occurred_on="2019-04-01"))

    asyncio.run(go())


def test_city_recommends_under_its_own_code_and_nothing_else(served: Served) -> None:
    uscc = new_uscc()

    async def go() -> None:
        async with Client(served, "lianshan") as county, Client(served, "huludao") as city:
            await ok(county, "register", "211402", uscc=uscc, name="连山某企业", occurred_on="2019-01-02")
            await ok(county, "apply", "211402", uscc=uscc, application_id="sp", programme="national",
                     tier="specialized", occurred_on="2019-03-01")
            # its own code, a command of its level: a reply
            reply = await ok(city, "recommend", "211400", uscc=uscc, application_id="sp", occurred_on="2019-04-01")
            assert [e["type"] for e in reply["events"]] == ["Recommended"]
            # approve: specialized is decided by the province; the city has no approve at all
            await city.refused_publish(subject("211400", "approve"),
                                       cmd("approve", "211400", uscc=uscc, application_id="sp",
                                           occurred_on="2019-05-20", document="x"))
            # another authority's code, even for a command a city may issue
            await city.refused_publish(subject("210200", "recommend"),
                                       cmd("recommend", "210200", uscc=uscc, application_id="sp",
                                           occurred_on="2019-04-02"))
            await city.refused_publish(subject("210000", "approve"),
                                       cmd("approve", "210000", uscc=uscc, application_id="sp",
                                           occurred_on="2019-05-20", document="x"))
            # its own subject, but naming another authority in the body: the service refuses
            impostor = await city.send(subject("211400", "reject"),
                                       cmd("reject", "210000", uscc=uscc, application_id="sp", reason="x",
                                           occurred_on="2019-04-03"))
            assert impostor["ok"] is False
            assert impostor["error"]["code"] == "authority.subject_mismatch"
            assert impostor["error"]["field"] == "actor.authority"
            assert impostor["headers"]["Nats-Service-Error-Code"] == "422"
            # the discovery endpoints of the service are open to it
            info = json.loads((await city.nc.request("$SRV.INFO.cultivation", b"", timeout=5)).data)
            assert info["name"] == "cultivation"

    asyncio.run(go())


def test_province_decides_provincial_tiers_and_miit_approves_little_giants(served: Served) -> None:
    uscc = new_uscc()
    asyncio.run(designate_specialized(served, uscc))

    async def go() -> None:
        async with Client(served, "lianshan") as county, Client(served, "liaoning") as province, \
                Client(served, "miit") as miit:
            await ok(county, "apply", "211402", uscc=uscc, application_id="lg", programme="national",
                     tier="little_giant", occurred_on="2019-06-01")
            await ok(province, "recommend", "210000", uscc=uscc, application_id="lg", occurred_on="2019-06-10")
            await ok(miit, "assess", "000000", uscc=uscc, application_id="lg", occurred_on="2019-07-01",
                     indicators={"niche_years": 5, "main_business_bp": 8000, "debt_ratio_bp": 5000})
            await ok(miit, "open_notice", "000000", uscc=uscc, application_id="lg", occurred_on="2019-07-02")
            # the bus lets a province publish approve (it decides provincial tiers) ...
            refused = await province.send(subject("210000", "approve"),
                                          cmd("approve", "210000", uscc=uscc, application_id="lg",
                                              occurred_on="2019-07-15", document="辽工信发〔2019〕9号"))
            # ... and the domain refuses it for a nationally decided tier
            assert refused["ok"] is False and refused["error"]["code"] == "authority.wrong_level", refused
            reply = await ok(miit, "approve", "000000", uscc=uscc, application_id="lg", occurred_on="2019-07-15",
                             document="工信部企业函〔2019〕1号")
            assert [e["type"] for e in reply["events"]] == ["Approved"]
            # MIIT cannot recommend (no tier is recommended at national level)
            await miit.refused_publish(subject("000000", "recommend"),
                                       cmd("recommend", "000000", uscc=uscc, application_id="lg",
                                           occurred_on="2019-06-11"))

    asyncio.run(go())


def test_dalian_a_provincial_level_city_decides_and_recommends_to_miit_liaoning_cannot(served: Served) -> None:
    """计划单列市: Dalian's account publishes the national programme's provincial commands and
    the domain accepts them for a Dalian enterprise; its district recommends; Liaoning's
    account still carries approve (it decides for the rest of Liaoning), but the domain
    refuses it for Dalian's enterprises."""
    uscc = new_uscc("210213")

    async def go() -> None:
        async with Client(served, "jinzhou") as district, Client(served, "dalian") as dalian, \
                Client(served, "liaoning") as province, Client(served, "miit") as miit:
            await ok(district, "register", "210213", uscc=uscc, name="大连金州测试机械", occurred_on="2019-01-02")
            await ok(district, "apply", "210213", uscc=uscc, application_id="sp", programme="national",
                     tier="specialized", occurred_on="2019-03-01")
            await ok(district, "recommend", "210213", uscc=uscc, application_id="sp", occurred_on="2019-04-01")
            # Liaoning's approve reaches the ledger, which refuses it for a Dalian enterprise
            refused = await province.send(subject("210000", "assess"),
                                          cmd("assess", "210000", uscc=uscc, application_id="sp", score=80,
                                              occurred_on="2019-05-01"))
            assert refused["ok"] is False and refused["error"]["code"] == "authority.not_covering", refused
            await ok(dalian, "assess", "210200", uscc=uscc, application_id="sp", score=80, occurred_on="2019-05-01")
            await ok(dalian, "open_notice", "210200", uscc=uscc, application_id="sp", occurred_on="2019-05-02")
            reply = await ok(dalian, "approve", "210200", uscc=uscc, application_id="sp", occurred_on="2019-05-20",
                             document="大工信发〔2019〕1号")
            assert [e["type"] for e in reply["events"]] == ["Approved"]
            # the little giant: Dalian recommends to MIIT, Liaoning cannot
            await ok(district, "apply", "210213", uscc=uscc, application_id="lg", programme="national",
                     tier="little_giant", occurred_on="2019-06-01")
            refused = await province.send(subject("210000", "recommend"),
                                          cmd("recommend", "210000", uscc=uscc, application_id="lg",
                                              occurred_on="2019-06-10"))
            assert refused["ok"] is False and refused["error"]["code"] == "recommend.not_covering", refused
            await ok(dalian, "recommend", "210200", uscc=uscc, application_id="lg", occurred_on="2019-06-10")
            await ok(miit, "assess", "000000", uscc=uscc, application_id="lg", occurred_on="2019-07-01",
                     indicators={"niche_years": 5, "main_business_bp": 8000, "debt_ratio_bp": 5000})
            # a district has no decision on the bus at all; Dalian grants its own schemes
            # (policies/dalian-*.toml) but not Liaoning's: the ledger refuses that one
            await district.refused_publish(subject("210213", "approve"),
                                           cmd("approve", "210213", uscc=uscc, application_id="sp",
                                               occurred_on="2019-05-20", document="x"))
            refused = await dalian.send(subject("210200", "grant_reward"),
                                        cmd("grant_reward", "210200", uscc=uscc, reward_id="r",
                                            programme="liaoning", scheme="new_national_little_giant",
                                            amount_fen=1, occurred_on="2019-08-01"))
            assert refused["ok"] is False and refused["error"]["code"] == "reward.wrong_authority", refused

    asyncio.run(go())


async def _wait_for_key(kv: Any, prefix: str, timeout: float = 30) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            keys = await kv.keys()
        except Exception:  # nats.js.errors.NoKeysError: nothing in the bucket yet
            keys = []
        found = [k for k in keys if k.startswith(prefix)]
        if found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


def test_auditor_reads_the_stream_from_sequence_1_and_the_kv_but_publishes_no_command(served: Served) -> None:
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    uscc = new_uscc()
    asyncio.run(designate_specialized(served, uscc))

    async def go() -> None:
        async with Client(served, "audit-office") as auditor:
            js = auditor.nc.jetstream()
            kv = await js.key_value(N.pool_bucket)
            assert await _wait_for_key(kv, f"specialized.{uscc}."), "the designation never reached the KV"
            assert (await js.stream_info(N.stream)).state.messages >= 12
            sub = await js.pull_subscribe("cultivation.events.>", stream=N.stream, config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=1))
            msgs = await sub.fetch(5, timeout=10)
            assert [m.metadata.sequence.stream for m in msgs] == [1, 2, 3, 4, 5]
            assert msgs[0].headers[POSITION_HEADER] == "1"
            assert json.loads(msgs[0].data)["position"] == 1
            for m in msgs:
                await m.ack_sync()  # acknowledging its own consumer's messages is allowed
            await sub.unsubscribe()
            # every command, under any code, is refused by the server
            for tag in c.COMMAND_TYPES:
                await auditor.nc.publish(subject("211400", tag), b"{}")
            await auditor.nc.flush()
            for tag in c.COMMAND_TYPES:
                await auditor.violation(f'permissions violation for publish to "cultivation.cmd.211400.{tag}"')
            await auditor.refused_publish(subject("000000", "approve"),
                                          cmd("approve", "000000", uscc=uscc, application_id="sp",
                                              occurred_on="2019-05-20", document="x"))
            # nor may it write the KV or the stream; the ledger's own consumer is not in its account
            quick = auditor.nc.jetstream(timeout=1.0)
            with pytest.raises(nats.errors.TimeoutError):
                await (await quick.key_value(N.pool_bucket)).put(f"specialized.{uscc}.forged", b"{}")
            await auditor.violation(f'permissions violation for publish to "$kv.{N.pool_bucket}.specialized.')
            with pytest.raises(nats.js.errors.NotFoundError):
                await quick.delete_consumer(N.stream, ledger_consumers()[0])

    asyncio.run(go())


def _ledger_position(served: Served) -> int:
    from services.ledger import Ledger

    ledger = Ledger(db=served.db)
    try:
        return ledger.max_position()
    finally:
        ledger.close()


async def _ledger_durable(served: Served) -> Any:
    async with Client(served, "ledger") as ledger:
        return (await ledger.nc.jetstream().consumer_info(N.stream, ledger_consumers()[0])).config


HOSTILE_CONFIG = {"name": ledger_consumers()[0],
                  "filter_subject": "cultivation.events.999999.>", "ack_policy": "explicit",
                  "deliver_policy": "all"}


@pytest.mark.parametrize("who", ["audit-office", "bank-feed"])
def test_no_reader_or_auditor_can_rewrite_the_ledgers_durable_consumer(served: Served, who: str) -> None:
    """Finding 1: the unnamed create subject, a body naming the projector's durable and a
    filter that matches nothing.  The auditor's (or reader's) JetStream is its own account's:
    the request creates, at most, a consumer of its own mirror; the ledger's durable keeps its
    filter and the live projection keeps going."""
    before = asyncio.run(_ledger_durable(served))
    assert before.filter_subject == "cultivation.events.>"

    async def go() -> None:
        async with Client(served, who) as hostile:
            body = json.dumps({"stream_name": N.stream, "config": HOSTILE_CONFIG}).encode()
            durable = json.dumps({"stream_name": N.stream, "config": {
                **HOSTILE_CONFIG, "durable_name": ledger_consumers()[0]}}).encode()
            # the ledger's consumer cannot even be read: its account is not this one
            for subject, payload in ((f"$JS.API.CONSUMER.INFO.{N.stream}.{ledger_consumers()[0]}", b""),
                                     (f"$JS.API.CONSUMER.CREATE.{N.stream}", body),
                                     (f"$JS.API.CONSUMER.CREATE.{N.stream}.{N.projector_durable}", body),
                                     (f"$JS.API.CONSUMER.DURABLE.CREATE.{N.stream}.{N.projector_durable}", durable)):
                try:
                    reply = json.loads((await hostile.nc.request(subject, payload, timeout=2)).data)
                except nats.errors.TimeoutError:  # a reader has no CULTIVATION_EVENTS at all: refused
                    assert who == "bank-feed"
                    await hostile.violation(f'permissions violation for publish to "{subject.lower()}"')
                    continue
                assert who == "audit-office"
                if payload:  # created (or updated): a consumer of its own mirror, nothing else
                    assert "error" not in reply and reply["stream_name"] == N.stream, reply
                else:
                    assert reply["error"]["code"] == 404, reply
            if who == "audit-office":
                js = hostile.nc.jetstream()
                mine = await js.consumer_info(N.stream, ledger_consumers()[0])
                assert mine.config.filter_subject == "cultivation.events.999999.>"
                await js.delete_consumer(N.stream, ledger_consumers()[0])
            # the share streams' API that its mirrors use is the server's, not the principal's
            for subject in ("cultivation.share.API.CONSUMER.CREATE.SHARE_CULTIVATION_EVENTS",
                            "cultivation.share.API.CONSUMER.CREATE.SHARE_KV_cultivation_pools",
                            "$JS.FC.SHARE_CULTIVATION_EVENTS.x.y", "cultivation.mirror.audit-office.API.STREAM.INFO.X"):
                await hostile.refused_publish(subject, {"stream_name": "SHARE_CULTIVATION_EVENTS",
                                                        "config": HOSTILE_CONFIG})
            # nor may it create, update or delete a stream of its own account (its mirrors are the ledger's)
            for subject in (f"$JS.API.STREAM.UPDATE.{N.stream}", f"$JS.API.STREAM.DELETE.KV_{N.pool_bucket}",
                            f"$JS.API.STREAM.PURGE.KV_{N.pool_bucket}", "$JS.API.STREAM.CREATE.MINE"):
                await hostile.refused_publish(subject, {"name": N.stream})

    asyncio.run(go())
    after = asyncio.run(_ledger_durable(served))
    assert after.filter_subject == "cultivation.events.>" and after.durable_name == before.durable_name
    # the live read model, the KV and the pool subjects still follow new events
    uscc = new_uscc()
    asyncio.run(designate_specialized(served, uscc))

    async def projected() -> None:
        async with Client(served, who) as reader:
            kv = await reader.nc.jetstream().key_value(N.pool_bucket)
            assert await _wait_for_key(kv, f"specialized.{uscc}."), "the live projection stopped"

    asyncio.run(projected())


@pytest.mark.parametrize("who", ["audit-office", "bank-feed"])
def test_push_consumers_deliver_nowhere_outside_their_own_account(served: Served, who: str) -> None:
    """Finding 1: a push consumer may name any deliver subject; in the principal's own account
    another principal's inbox, a command subject or an imported API subject reaches no one:
    no command is written, no inbox receives, the mirrors keep following the ledger."""
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    uscc = new_uscc()
    asyncio.run(designate_specialized(served, uscc))
    stream = N.stream if who == "audit-office" else f"KV_{N.pool_bucket}"
    targets = ["_INBOX.huludao.stolen", "cultivation.cmd.000000.approve", "cultivation.cmd.211400.register",
               "$SRV.PING.cultivation", "cultivation.share.API.CONSUMER.CREATE.SHARE_CULTIVATION_EVENTS",
               "cultivation.share.API.CONSUMER.CREATE.SHARE_KV_cultivation_pools"]

    async def go() -> None:
        async with Client(served, who) as hostile, Client(served, "huludao") as victim:
            stolen: list[Any] = []

            async def took(msg: Any) -> None:
                stolen.append(msg)

            await victim.nc.subscribe("_INBOX.huludao.>", cb=took)
            await victim.nc.flush()
            before = _ledger_position(served)
            js = hostile.nc.jetstream()
            names = []
            for target in targets:
                info = await js.add_consumer(stream, ConsumerConfig(
                    deliver_subject=target, deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE))
                names.append(info.name)
            await asyncio.sleep(2)
            assert not stolen, "another principal's inbox received a delivery"
            assert _ledger_position(served) == before, "a delivery became a command"
            for name in names:
                await js.delete_consumer(stream, name)
            # the command service still answers that authority, and its durable is untouched
            await ok(victim, "register", "211400", uscc=new_uscc("211400"), name="葫芦岛某企业",
                     occurred_on="2019-01-02")

    asyncio.run(go())
    assert asyncio.run(_ledger_durable(served)).filter_subject == "cultivation.events.>"


def test_reader_watches_pools_and_reads_the_kv_but_not_the_stream(served: Served) -> None:
    uscc = new_uscc()

    async def go() -> None:
        async with Client(served, "bank-feed") as bank:
            seen: list[dict[str, Any]] = []

            async def on_change(msg: Any) -> None:
                seen.append(json.loads(msg.data))

            await bank.nc.subscribe("cultivation.pool.>", cb=on_change)
            await bank.nc.flush()
            await designate_specialized(served, uscc)
            deadline = time.monotonic() + 30
            while not any(s["designation"]["uscc"] == uscc for s in seen) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert any(s["designation"]["uscc"] == uscc for s in seen), "no pool change reached the reader"
            js = bank.nc.jetstream(timeout=2.0)
            kv = await js.key_value(N.pool_bucket)
            keys = await _wait_for_key(kv, f"specialized.{uscc}.")
            assert json.loads((await kv.get(keys[0])).value)["uscc"] == uscc
            # the raw event stream is not for it: no consumer, no stream info, no subscription
            with pytest.raises(nats.errors.TimeoutError):
                await js.pull_subscribe("cultivation.events.>", stream=N.stream)
            await bank.violation(f'permissions violation for publish to "$js.api.consumer.create.{N.stream.lower()}.')
            with pytest.raises(nats.errors.TimeoutError):
                await js.stream_info(N.stream)
            await bank.nc.subscribe("cultivation.events.>")
            await bank.violation('permissions violation for subscription to "cultivation.events.>"')
            await bank.nc.subscribe("cultivation.audit.>")
            await bank.violation('permissions violation for subscription to "cultivation.audit.>"')
            # and it publishes nothing
            await bank.refused_publish(subject("211400", "register"),
                                       cmd("register", "211400", uscc=new_uscc(), name="x", occurred_on="2019-01-02"))
            with pytest.raises(nats.errors.TimeoutError):
                await kv.put(keys[0], b"{}")

    asyncio.run(go())


def test_no_one_else_can_listen_on_commands_or_read_another_inbox(served: Served) -> None:
    """Only the ledger may subscribe to command subjects, so no principal can pose as the
    service; replies come to a private inbox that no other principal may read."""

    async def go() -> None:
        async with Client(served, "liaoning") as province, Client(served, "audit-office") as auditor:
            await province.nc.subscribe("cultivation.cmd.>")
            await province.violation('permissions violation for subscription to "cultivation.cmd.>"')
            await auditor.nc.subscribe("_INBOX.huludao.>")
            await auditor.violation('permissions violation for subscription to "_inbox.huludao.>"')

    asyncio.run(go())


def test_not_even_the_ledger_user_can_delete_or_purge_the_stream(served: Served) -> None:
    async def go() -> None:
        async with Client(served, "ledger") as ledger:
            js = ledger.nc.jetstream(timeout=1.0)
            assert (await js.stream_info(N.stream)).config.name == N.stream  # it reads its stream
            for attempt, api in ((js.purge_stream(N.stream), "purge"), (js.delete_stream(N.stream), "delete"),
                                 (js.delete_msg(N.stream, 1), "msg.delete")):
                with pytest.raises(nats.errors.TimeoutError):
                    await attempt
                await ledger.violation(f'permissions violation for publish to "$js.api.stream.{api}.'
                                       f'{N.stream.lower()}"')

    asyncio.run(go())


def test_serve_never_prints_a_password(tmp_path: Path) -> None:
    s = Served(tmp_path)
    try:
        async def go() -> None:
            async with Client(s, "lianshan") as county:
                await ok(county, "register", "211402", uscc=new_uscc(), name="连山某企业", occurred_on="2019-01-02")
            wrong = {**s.options["huludao"], "password": "not-the-password"}
            with pytest.raises(Exception) as refused:
                await nats.connect(servers=[s.url], allow_reconnect=False, max_reconnect_attempts=0, **wrong)
            assert "authorization" in str(refused.value).lower() or "timeout" in str(refused.value).lower()
            with pytest.raises(Exception):  # no credentials at all
                await nats.connect(servers=[s.url], allow_reconnect=False, max_reconnect_attempts=0)

        asyncio.run(go())
    finally:
        assert s.stop() == 0, s.output()
    out = s.output()
    assert "with permissions for 9 principals, as user ledger" in out
    config = (s.home / "nats" / "authorization.conf").read_text()
    assert "password: $CULTIVATION_PW_HULUDAO" in config and f"password: ${LEDGER_ENV}" in config
    server_log = (s.home / "nats" / "nats-server.log").read_text()
    for name, password in s.passwords.items():
        for text, what in ((out, "serve's stdout/stderr"), (config, "the server's configuration"),
                           (server_log, "the server's log")):
            assert password not in text, f"{name}'s password appears in {what}"


# ============================================================================ the CLI
def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "entrypoints.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, **(env or {})}, timeout=60)


def test_permissions_command_prints_a_config_an_external_server_runs_with(tmp_path: Path) -> None:
    path, passwords = write_principals(tmp_path)
    run = _cli("permissions", "--principals", str(path))
    assert run.returncode == 0, run.stderr
    conf = run.stdout
    assert not any(pw in conf + run.stderr for pw in passwords.values())
    assert '"cultivation.cmd.211400.recommend"' in conf and '"cultivation.cmd.211400.approve"' not in conf
    (tmp_path / "nats.conf").write_text(conf, encoding="utf-8")
    # the operator runs their server with the config and the passwords in its environment
    ps = load_principals(path)
    env = server_environment(ps, {LEDGER_ENV: passwords["ledger"]})
    assert env["CULTIVATION_PW_HULUDAO"] == passwords["huludao"]
    with EmbeddedNats(store_dir=tmp_path / "nats", config_file=tmp_path / "nats.conf", env=env) as server:
        async def go() -> None:
            nc = await nats.connect(servers=[server.url], allow_reconnect=False,
                                    **client_options(ps, ps.named("huludao")))
            with pytest.raises(nats.errors.NoRespondersError):  # allowed, but no ledger runs here yet
                await nc.request("cultivation.cmd.211400.recommend", b"{}", timeout=2)
            await nc.close()

        asyncio.run(go())
        # `serve --principals` with NATS_URL: the ledger connects to that server as its service user
        serve_env = {**{k: v for k, v in os.environ.items() if not k.startswith("NATS_")},
                     "NATS_URL": server.url, LEDGER_ENV: passwords["ledger"],
                     "CULTIVATION_HOME": str(tmp_path / "home"), "CULTIVATION_DB": str(tmp_path / "ledger.db")}
        proc = subprocess.Popen([sys.executable, "-m", "entrypoints.cli", "serve", "--principals", str(path)],
                                cwd=ROOT, env=serve_env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert "ready" in line and "as user ledger" in line and "(embedded" not in line, line

            async def send() -> dict[str, Any]:
                nc = await nats.connect(servers=[server.url], allow_reconnect=False,
                                        **client_options(ps, ps.named("huludao")))
                msg = await nc.request("cultivation.cmd.211400.register", json.dumps(cmd(
                    "register", "211400", uscc=new_uscc("211400"), name="葫芦岛某企业",
                    occurred_on="2019-01-02")).encode(), timeout=30)
                await nc.close()
                return json.loads(msg.data)

            assert asyncio.run(send())["ok"] is True
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert not any(pw in line + out + err for pw in passwords.values())

    described = json.loads(_cli("--json", "permissions", "--principals", str(path)).stdout)
    city = next(p for p in described if p["name"] == "huludao")
    assert list(city["commands"]) == list(allowed_commands("211400", BOOK))
    assert any("recommended at municipal level" in r for r in city["commands"]["recommend"])
    table = _cli("permissions", "--table")
    assert table.returncode == 0 and table.stdout.strip() == render_level_table(BOOK).strip()


def test_serve_with_a_bad_principals_file_exits_2_naming_the_field(tmp_path: Path) -> None:
    path, _ = write_principals(tmp_path)
    path.write_text(path.read_text().replace('authority = "211400"', 'authority = "21140"'), encoding="utf-8")
    run = _cli("serve", "--principals", str(path), env={"CULTIVATION_HOME": str(tmp_path / "home"),
                                                       "CULTIVATION_DB": str(tmp_path / "l.db")})
    assert run.returncode == 2
    assert "$.principals[3].authority" in run.stderr
    path, _ = write_principals(tmp_path / "again")
    environ = {k: v for k, v in os.environ.items() if k != LEDGER_ENV}
    run = subprocess.run([sys.executable, "-m", "entrypoints.cli", "serve", "--principals", str(path)],
                         capture_output=True, text=True, cwd=ROOT, timeout=60,
                         env={**environ, "CULTIVATION_HOME": str(tmp_path / "home"),
                              "CULTIVATION_DB": str(tmp_path / "l.db")})
    assert run.returncode == 2
    assert "$.principals[0].password_env" in run.stderr and LEDGER_ENV in run.stderr


# ============================================================================ the derivation
def test_the_command_groups_cover_every_command_exactly() -> None:
    groups = set(ANY_AUTHORITY) | set(RECOMMENDING) | set(ASSESSING) | set(NOTICING) | set(DECIDING) \
        | set(JURISDICTION) | set(GRANTING) | set(RECOGNISING) | set(TAGGING)
    assert groups == set(c.COMMAND_TYPES)


def test_the_ledgers_consumers_are_protected() -> None:
    """The projector's durable consumer is named from the ledger's names, as the permissions
    that protect it are, whatever the ledger's name."""
    import inspect

    from infra.projector import LiveProjector

    assert inspect.signature(LiveProjector.__init__).parameters["durable"].default is None  # names.projector_durable
    for names in (N, Names("alpha")):
        assert ledger_consumers(names) == (names.projector_durable,)


COMMON = set(ANY_AUTHORITY)
ASSESS_NOTICE = {*ASSESSING, *NOTICING}  # a province for 专精特新, a city for 创新型 (63号: 审核、抽查、公示)


@pytest.mark.parametrize("code, more, never", [
    ("211402", set(), {"recommend", "approve", "assess", "open_notice", "grant_reward"}),  # county (Lianshan)
    ("211400", {"recommend", "reject", *ASSESS_NOTICE}, {"approve", "revoke", "grant_reward"}),  # city (Huludao)
    ("210200", {"recommend", "reject", *ASSESS_NOTICE, *DECIDING, "grant_reward", "claw_back"},
     {"tag_chain", "recognise_product"}),
    # Dalian, a 计划单列市, grants its own schemes (policies/dalian-*.toml)
    ("210213", {"recommend", "reject", *ASSESS_NOTICE}, {"approve", "grant_reward"}),  # a Dalian district
    ("330100", {"recommend", "reject", *ASSESS_NOTICE, "grant_reward", "claw_back", "tag_chain"},
     {"approve", "recognise_product"}),
    # Hangzhou grants its schemes and tags chains inside Zhejiang; the province recognises 首台套 products
    ("330000", {"recommend", "reject", *ASSESS_NOTICE, *DECIDING, "recognise_product", "tag_chain"}, {"grant_reward"}),
    ("370200", {"recommend", "reject", *ASSESS_NOTICE, *DECIDING, "grant_reward", "claw_back"}, set()),  # Qingdao
    ("210000", {"recommend", "reject", *ASSESS_NOTICE, *DECIDING, "grant_reward", "claw_back"}, set()),  # Liaoning
    ("440000", {"recommend", "reject", *ASSESS_NOTICE, *DECIDING}, {"grant_reward", "claw_back"}),  # no schemes
    ("000000", {"reject", *ASSESS_NOTICE, *DECIDING, "grant_reward", "claw_back"}, {"recommend"}),  # MIIT
])
def test_commands_per_authority_follow_the_policy(code: str, more: set[str], never: set[str]) -> None:
    allowed = set(allowed_commands(code, BOOK))
    assert allowed == COMMON | more
    assert not allowed & never


def test_dalian_grants_its_own_money() -> None:
    """dalian-*.toml: schemes granted by 210200, whatever level Dalian acts at in the national programme."""
    allowed = set(allowed_commands("210200", BOOK))
    assert {"grant_reward", "claw_back", "record_loan", "record_repayment"} <= allowed
    assert not allowed & {"tag_chain", "recognise_product"}
    from domain.authority import grants

    assert not [why for why in grants("210000", BOOK).get("grant_reward", ()) if why.startswith("dalian")]


def test_the_readme_shows_the_derived_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert render_level_table(BOOK) in readme, "README's 'Who may do what' table is stale: " \
                                               "paste `cultivation permissions --table`"
    section = readme[readme.index("## Who may do what"):]
    example = section[section.index("```toml\n") + 8:section.index("```\n", section.index("```toml"))]
    ps = decode_principals(example, "README.md")
    assert [p.kind for p in ps.principals] == ["service", "authority", "reader"]
    assert "cultivation.cmd.211400.recommend" in render_config(ps, BOOK)


def test_permissions_are_derived_from_the_policy_files_not_constants(tmp_path: Path) -> None:
    """A policy folder where a city decides the innovative tier: its cities may approve."""
    folder = tmp_path / "policies"
    folder.mkdir()
    text = (ROOT / "policies" / "national-2022.toml").read_text(encoding="utf-8")
    text = text.replace('deciding_level = "provincial"\nrecommend_levels = ["municipal"]',
                        'deciding_level = "municipal"\nrecommend_levels = ["county"]', 1)
    (folder / "national-2022.toml").write_text(text, encoding="utf-8")
    book = load_policy_book(folder)
    assert "approve" in allowed_commands("211400", book)
    assert "recommend" in allowed_commands("211402", book)


def test_rendered_permissions_bind_each_kind() -> None:
    ps = decode_principals("\n".join([
        '[[principals]]', 'name = "ledger"', 'kind = "service"', 'password_env = "L"',
        '[[principals]]', 'name = "hz"', 'kind = "authority"', 'authority = "330100"', 'password_env = "H"',
        '[[principals]]', 'name = "bank"', 'kind = "reader"',
        'nkey = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4"']))
    ledger, hz, bank = (permissions_for(p, BOOK) for p in ps.principals)
    assert "cultivation.cmd.>" in ledger.subscribe_allow and "$SRV.>" in ledger.subscribe_allow
    assert ledger.allow_responses and "cultivation.events.>" in ledger.publish_allow
    assert "cultivation.cmd.330100.grant_reward" in hz.publish_allow
    assert not [s for s in hz.publish_allow if s.startswith("cultivation.cmd.") and ".330100." not in s]
    assert hz.subscribe_allow == ("_INBOX.hz.>", "cultivation.pool.*.330000.330100.>")
    assert not [s for s in bank.publish_allow if "CULTIVATION_EVENTS" in s]
    conf = render_config(ps, BOOK)
    assert "password: $L" in conf and "password: $H" in conf and 'user: "bank"' not in conf


# ============================================================================ principals file errors
def _one(**fields: str) -> str:
    service = '[[principals]]\nname = "ledger"\nkind = "service"\npassword_env = "LEDGER_PW"\n'
    body = "".join(f'{k} = "{v}"\n' for k, v in fields.items())
    return f"[[principals]]\n{body}\n{service}"


@pytest.mark.parametrize("text, field, says", [
    (_one(name="hld", kind="authority", authority="21140", password_env="P"), "$.principals[0].authority",
     "regex"),
    (_one(name="hld", kind="authority", authority="001400", password_env="P"), "$.principals[0].authority",
     "regex"),
    (_one(name="hld", kind="mayor", authority="211400", password_env="P"), "$.principals[0].kind",
     "kinds: authority, auditor, reader, service"),
    (_one(name="hld", kind="authority", authority="211400"), "$.principals[0].password_file",
     "one of password_file, password_env or nkey"),
    (_one(name="hld", kind="authority", authority="211400", password="hunter2"), "$.principals[0].password",
     "never go in the principals file"),
    (_one(name="hld", kind="authority", authority="211400", password_env="P", password_file="f"),
     "$.principals[0].password_env", "only one of"),
    (_one(name="hld", kind="authority", password_env="P"), "$.principals[0].authority", "GB/T 2260"),
    (_one(name="aud", kind="auditor", authority="211400", password_env="P"), "$.principals[0].authority",
     "only an authority principal"),
    (_one(name="Huludao City", kind="authority", authority="211400", password_env="P"), "$.principals[0].name",
     "regex"),
    (_one(name="x", kind="reader", nkey="not-a-key"), "$.principals[0].nkey", "regex"),
    (_one(name="x", kind="reader", pasword_env="P"), "$.principals[0]", "unknown field `pasword_env`"),
    (_one(name="ledger", kind="reader", password_env="P"), "$.principals", "repeated: ['ledger']"),
    ('[[principals]]\nname = "a"\nkind = "reader"\npassword_env = "A"\n', "$.principals",
     "exactly one principal of kind 'service'"),
])
def test_principals_file_errors_name_the_field(text: str, field: str, says: str) -> None:
    with pytest.raises(PrincipalsError) as e:
        decode_principals(text, "p.toml")
    assert e.value.field == field, str(e.value)
    assert says in e.value.message, str(e.value)
    assert "hunter2" not in str(e.value)


def test_credentials_that_cannot_be_read_name_the_field_never_the_value(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(_one(name="hld", kind="authority", authority="211400", password_file="missing.pw"),
                    encoding="utf-8")
    ps = load_principals(path)
    with pytest.raises(PrincipalsError) as e:
        secret(ps, ps.named("hld"))
    assert e.value.field == "$.principals[0].password_file" and "missing.pw" in e.value.message
    (tmp_path / "missing.pw").write_text("s3cret-value\n", encoding="utf-8")
    (tmp_path / "missing.pw").chmod(0o600)
    assert secret(ps, ps.named("hld")) == "s3cret-value"
    with pytest.raises(PrincipalsError) as e:
        secret(ps, ps.named("ledger"), environ={})
    assert e.value.field == "$.principals[1].password_env" and "LEDGER_PW" in e.value.message
    assert secret(ps, ps.named("ledger"), environ={"LEDGER_PW": "x"}) == "x"


# ============================================================================ the domain, whatever the transport
def _specialized_designation(script: Any, uscc: str) -> None:
    script.ok("register", uscc=uscc, name="连山某企业", region="211402", occurred_on="2019-01-02", actor="211402")
    script.ok("apply", uscc=uscc, application_id="sp", programme="national", tier="specialized",
              occurred_on="2019-03-01", actor="211402")
    script.ok("recommend", uscc=uscc, application_id="sp", occurred_on="2019-04-01", actor="211400")
    script.ok("assess", uscc=uscc, application_id="sp", score=80, occurred_on="2019-05-01", actor="210000")
    script.ok("open_notice", uscc=uscc, application_id="sp", occurred_on="2019-05-02", actor="210000")
    script.ok("approve", uscc=uscc, application_id="sp", occurred_on="2019-05-20", actor="210000", document="d")


# (authority, tier, command) -> the refusal code, or None when the actor's authority is right
# (an approve the authority may give still fails later for want of a recommendation: rule 1).
DECISIONS = {
    ("211402", "specialized", "recommend"): "recommend.wrong_level",
    ("211400", "specialized", "recommend"): None,
    ("210000", "specialized", "recommend"): "recommend.wrong_level",
    ("000000", "specialized", "recommend"): "recommend.wrong_level",
    ("211402", "specialized", "approve"): "authority.wrong_level",
    ("211400", "specialized", "approve"): "authority.wrong_level",
    ("210000", "specialized", "approve"): "approve.not_recommended",
    ("000000", "specialized", "approve"): "authority.wrong_level",
    ("211402", "little_giant", "recommend"): "recommend.wrong_level",
    ("211400", "little_giant", "recommend"): "recommend.wrong_level",
    ("210000", "little_giant", "recommend"): None,
    ("000000", "little_giant", "recommend"): "recommend.wrong_level",
    ("211402", "little_giant", "approve"): "authority.wrong_level",
    ("211400", "little_giant", "approve"): "authority.wrong_level",
    ("210000", "little_giant", "approve"): "authority.wrong_level",
    ("000000", "little_giant", "approve"): "approve.not_recommended",
}


@pytest.mark.parametrize("authority, tier, command", sorted(DECISIONS))
def test_the_domain_refuses_decisions_outside_the_actors_level(script: Any, authority: str, tier: str,
                                                               command: str) -> None:
    uscc = make_uscc("91211402ME0000001")  # a fresh ledger for each case
    if tier == "specialized":
        script.ok("register", uscc=uscc, name="连山某企业", region="211402", occurred_on="2019-01-02", actor="211402")
        script.ok("apply", uscc=uscc, application_id="a", programme="national", tier="specialized",
                  occurred_on="2019-03-01", actor="211402")
    else:
        _specialized_designation(script, uscc)
        script.ok("apply", uscc=uscc, application_id="a", programme="national", tier="little_giant",
                  occurred_on="2019-06-01", actor="211402")
    fields = {"uscc": uscc, "application_id": "a", "occurred_on": "2019-06-20", "actor": authority,
              "document": "d"}
    want = DECISIONS[(authority, tier, command)]
    if want is None:
        script.ok(command, **fields)
        return
    error = script.refused(command, **fields)
    assert error.code == want, str(error)
    # where the bus would not even carry the command, the domain refuses it as a matter of authority
    if command not in allowed_commands(authority, BOOK):
        assert error.rule == "authority"


def test_the_domain_refuses_decisions_outside_the_actors_region(script: Any) -> None:
    uscc = make_uscc("91211402MF0000001")
    script.ok("register", uscc=uscc, name="连山某企业", region="211402", occurred_on="2019-01-02", actor="211402")
    script.ok("apply", uscc=uscc, application_id="sp", programme="national", tier="specialized",
              occurred_on="2019-03-01", actor="211402")
    # a county elsewhere cannot register, apply or file for this enterprise
    assert script.refused("register", uscc=make_uscc("91211402MF0000002"), name="x", region="211402",
                          occurred_on="2019-01-02", actor="210202").code == "register.not_covering"
    assert script.refused("file_yearly_data", uscc=uscc, data_year=2018, occurred_on="2019-03-02",
                          actor="210202").code == "authority.not_covering"
    # another city of the same province cannot recommend it; another province cannot decide on it;
    # Dalian, a 计划单列市, acts at provincial level: not a recommender of 专精特新
    assert script.refused("recommend", uscc=uscc, application_id="sp", occurred_on="2019-04-01",
                          actor="211300").code == "recommend.not_covering"
    assert script.refused("recommend", uscc=uscc, application_id="sp", occurred_on="2019-04-01",
                          actor="210200").code == "recommend.wrong_level"
    script.ok("recommend", uscc=uscc, application_id="sp", occurred_on="2019-04-01", actor="211400")
    assert script.refused("assess", uscc=uscc, application_id="sp", score=80, occurred_on="2019-05-01",
                          actor="330000").code == "authority.not_covering"
    # Qingdao decides its own programme's tiers, and the national ones of its own enterprises only
    assert script.refused("assess", uscc=uscc, application_id="sp", score=80, occurred_on="2019-05-01",
                          actor="370200").code == "authority.not_covering"
    assert script.refused("assess", uscc=uscc, application_id="sp", score=80, occurred_on="2019-05-01",
                          actor="210200").code == "authority.not_covering"  # nor does Dalian decide for Huludao
    # an auditor is no authority, whatever code it names
    auditor = {"authority": "210000", "person": "审计厅", "role": "auditor"}
    error = script.refused("assess", uscc=uscc, application_id="sp", score=80, occurred_on="2019-05-01",
                           actor=auditor)
    assert error.code == "authority.not_an_authority"
    # a scheme is granted by its granting authority only
    error = script.refused("grant_reward", uscc=uscc, reward_id="r1", programme="liaoning",
                           scheme="new_national_little_giant", amount_fen=100, occurred_on="2019-06-01",
                           actor="211400")
    assert error.code == "reward.wrong_authority"
    assert isinstance(error, (RuleViolation, LedgerError))


def test_a_readers_jetstream_is_bounded_so_it_cannot_exhaust_the_server(served: Served) -> None:
    """Each reader's or auditor's account holds its mirrors and at most PRINCIPAL_MAX_CONSUMERS
    consumers of its own: one more is refused by the server, and the ledger goes on."""
    from nats.js.api import AckPolicy, ConsumerConfig

    from infra.permissions import PRINCIPAL_MAX_CONSUMERS

    async def go() -> None:
        async with Client(served, "bank-feed") as reader:
            js = reader.nc.jetstream(timeout=5)
            stream = f"KV_{N.pool_bucket}"
            present = len(await js.consumers_info(stream))
            names = []
            try:
                for i in range(PRINCIPAL_MAX_CONSUMERS - present):
                    names.append((await js.add_consumer(stream, ConsumerConfig(
                        durable_name=f"mine-{i}", ack_policy=AckPolicy.EXPLICIT))).name)
                with pytest.raises(nats.js.errors.APIError) as refused:
                    await js.add_consumer(stream, ConsumerConfig(durable_name="one-too-many",
                                                                 ack_policy=AckPolicy.EXPLICIT))
                assert "maximum consumers" in str(refused.value).lower(), refused.value
            finally:
                for name in names:
                    await js.delete_consumer(stream, name)
        async with Client(served, "huludao") as city:  # the ledger still answers
            await ok(city, "register", "211400", uscc=new_uscc("211400"), name="葫芦岛某企业", occurred_on="2019-01-02")

    asyncio.run(go())
