"""The refusal catalogue as clients see it (issue 16, item 2): ``cultivation codes`` lists
every code with its field and retry class, and real refusals carry ``retry``: over the CLI's
``--json`` and over NATS, where a real conflict (another writer recording a fact of the same
enterprise before each save) is refused with ``conflict`` and retry ``yes``."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import nats

from domain.codes import CATALOGUE, RETRIES, RULES
from entrypoints.nats_service import CommandService
from infra.nats import connect_options
from services import commands as c
from services.ledger import Ledger
from tests.support.hostile import actor, journey, send_raw, subject_of
from tests.support.ledgers import uscc


def run(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CULTIVATION_DB": str(db)}
    return subprocess.run([sys.executable, "-m", "entrypoints.cli", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_codes_json_lists_every_code_with_its_field_and_retry_class(tmp_path: Path) -> None:
    r = run(tmp_path / "x.db", "codes", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["ok"] and out["count"] == len(CATALOGUE) == len(out["codes"])
    assert [row["code"] for row in out["codes"]] == [line.split("`")[1] for line in
                                                      subprocess.run([sys.executable, "-m", "domain.codes"],
                                                                     capture_output=True, text=True,
                                                                     check=True).stdout.splitlines()[2:]]
    by_code = {row["code"]: row for row in out["codes"]}
    assert set(by_code) == set(CATALOGUE)
    for code, e in CATALOGUE.items():
        row = by_code[code]
        assert (row["rule"], row["exit"], row["status"], row["retry"], row["meaning"]) == \
            (e.rule, e.exit, e.status, e.retry, e.meaning), code
        assert row["fields"] == list(e.fields) and row["fields"] and row["retry_why"], code
    assert by_code["conflict"]["retry"] == "yes" and by_code["approve.notice_open"]["retry"] == "after_facts"
    assert by_code["store.unavailable"]["fields"] == ["--db", None]
    assert set(out["retries"]) == set(RETRIES) and set(out["rules"]) == set(RULES)


def test_codes_by_rule_as_a_table_with_chinese_labels_and_a_bad_rule_refused(tmp_path: Path) -> None:
    r = run(tmp_path / "x.db", "codes", "--rule", "identity")
    assert r.returncode == 0, r.stderr
    for code, e in CATALOGUE.items():
        assert (code in r.stdout) == (e.rule == "identity"), code
    assert "待新事实 after_facts" in r.stdout and "勿重试 never" in r.stdout and "重试 retry" in r.stdout
    r = run(tmp_path / "x.db", "codes", "--rule", "review", "--json")
    assert {row["rule"] for row in json.loads(r.stdout)["codes"]} == {"review"}
    r = run(tmp_path / "x.db", "codes", "--rule", "nope", "--json")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    err = json.loads(r.stdout)["error"]
    assert (err["code"], err["field"], err["retry"]) == ("input.invalid", "--rule", "never")
    assert "identity" in err["message"]
    assert not (tmp_path / "x.db").exists()  # a catalogue, no store


def test_a_cli_refusal_carries_its_retry_class(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    reg = ("register", "--uscc", uscc(1, "211402"), "--name", "葫芦岛示例泵业有限公司", "--region", "211402",
           "--occurred-on", "2019-01-02", "--authority", "211400", "--person", "葫芦岛市工信局", "--json")
    assert run(db, *reg).returncode == 0
    r = run(db, *reg)
    assert r.returncode == 1
    assert json.loads(r.stdout)["error"]["code"] == "register.exists"
    assert json.loads(r.stdout)["error"]["retry"] == "never"
    r = run(db, "admit-to-pool", "--uscc", uscc(2, "211402"), "--programme", "national", "--tier", "innovative",
            "--occurred-on", "2019-02-01", "--authority", "211400", "--person", "葫芦岛市工信局", "--json")
    assert r.returncode == 1, r.stderr
    err = json.loads(r.stdout)["error"]
    assert (err["code"], err["field"], err["retry"]) == ("enterprise.not_found", "uscc", "after_facts")
    r = run(db, "pool", "--tier", "innovative", "--as-of", "2019-13-01", "--json")
    assert r.returncode == 2, r.stderr
    err = json.loads(r.stdout)["error"]
    assert (err["code"], err["field"], err["retry"]) == ("input.invalid", "--as-of", "never")


class _Rivalled(Ledger):
    """The real ledger, with a real second ledger on the same store that records a fact of
    the same enterprise each time this one has read it and is deciding ``target`` — what a
    busy concurrent writer does.  Nothing is stood in for: the save meets the rival's
    version in the store and is retried, as the ledger retries any conflict."""

    def __init__(self, db: str, rival: Ledger, target: str, uscc: str):
        super().__init__(db=db)
        self.rival, self.target, self.uscc, self.rival_writes = rival, target, uscc, 0

    def _decide(self, cmd: c.Command) -> Any:
        if cmd.command_id == self.target:
            self.rival_writes += 1
            self.rival.handle(c.convert_command({
                "command": "file_yearly_data", "command_id": f"rival-{self.rival_writes}", "uscc": self.uscc,
                "data_year": 2000 + self.rival_writes, "occurred_on": "2024-01-02", "actor": actor("211402")}))
        return super()._decide(cmd)


def test_a_real_conflict_over_nats_is_refused_with_retry_yes(sqlite_store: str, nats_url: str) -> None:
    register = journey(0)[0]
    seed = Ledger(db=sqlite_store)
    seed.handle(c.convert_command(register))
    seed.close()
    command = {"command": "file_yearly_data", "command_id": "contested", "uscc": register["uscc"],
               "data_year": 2023, "occurred_on": "2024-01-02", "actor": actor("211402")}

    async def send() -> tuple[dict[str, Any], dict[str, Any], int]:
        rival = Ledger(db=sqlite_store)
        ledger = _Rivalled(sqlite_store, rival, "contested", register["uscc"])
        nc = await nats.connect(**connect_options(nats_url))
        service = CommandService(ledger, nc)
        await service.start()
        client = await nats.connect(**connect_options(nats_url))
        try:
            refused = await send_raw(client, subject_of(command), json.dumps(command).encode())
            ledger.target = ""  # the rival is done: the same command, same id, sent again
            again = await send_raw(client, subject_of(command), json.dumps(command).encode())
            return refused, again, ledger.rival_writes
        finally:
            await client.close()
            await service.stop()
            await nc.close()
            ledger.close()
            rival.close()

    refused, again, rival_writes = asyncio.run(send())
    assert refused["headers"]["Nats-Service-Error-Code"] == "409", refused
    error = refused["body"]["error"]
    assert (error["code"], error["field"], error["retry"]) == ("conflict", "uscc", "yes")
    assert rival_writes >= Ledger.max_attempts  # every attempt met a rival's write
    assert again["body"]["ok"] and not again["body"]["repeated"], again  # retrying as it is helped
    final = Ledger(db=sqlite_store)
    assert sorted(final.enterprise(register["uscc"]).yearly_data) == \
        sorted([2023, *(2000 + n for n in range(1, rival_writes + 1))])
    final.close()
