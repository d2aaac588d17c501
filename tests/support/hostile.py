"""What the hostile-input tests share: one well-formed command of every type, a ledger's
row counts, and a real ``cultivation serve`` with a client that sends raw bytes.

Nothing here stands in for a component: the counts are read from the store's own tables,
and the service is the real one on the wheel's ``nats-server``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from domain.values import make_uscc
from services import commands as c
from tests.support import ROOT

USCC = make_uscc("91211402MF0000001")
OTHER = make_uscc("91211402MF0000002")


def actor(authority: str = "211402", person: str = "测试服务") -> dict[str, str]:
    return {"authority": authority, "person": person}


# One well-formed command of every type, every optional text field filled in: each decodes
# (whether the ledger then accepts it depends on what it holds).
SAMPLES: dict[str, dict[str, Any]] = {
    "register": {"uscc": USCC, "name": "连山测试泵业", "region": "211402", "industry": "C3441", "listed": False,
                 "uscc_override": "葫工信发〔2019〕1号"},
    "admit_to_pool": {"uscc": USCC, "programme": "national", "tier": "specialized"},
    "remove_from_pool": {"uscc": USCC, "programme": "national", "tier": "specialized", "reason": "迁出"},
    "apply": {"uscc": USCC, "application_id": "sp", "programme": "national", "tier": "specialized",
              "product_id": "p1", "product_name": "泵", "declared_revenue_fen": 1_000_000_000},
    "recommend": {"uscc": USCC, "application_id": "sp"},
    "assess": {"uscc": USCC, "application_id": "sp", "score": 80, "components": {"innovation": 30},
               "indicators": {"rd_ratio_bp": 400}, "direct_pass": ["high_tech"]},
    "open_notice": {"uscc": USCC, "application_id": "sp"},
    "object": {"uscc": USCC, "application_id": "sp", "objection_id": "o1", "grounds": "材料不实"},
    "resolve_objection": {"uscc": USCC, "application_id": "sp", "objection_id": "o1", "upheld": False},
    "approve": {"uscc": USCC, "application_id": "sp"},
    "reject": {"uscc": USCC, "application_id": "sp", "reason": "不符合条件"},
    "withdraw": {"uscc": USCC, "application_id": "sp", "reason": "自愿撤回"},
    "file_yearly_data": {"uscc": USCC, "programme": "national", "data_year": 2022,
                         "indicators": {"revenue_fen": 2_000_000_000}},
    "review": {"uscc": USCC, "application_id": "sp", "passed": True},
    "revoke": {"uscc": USCC, "application_id": "sp", "reason": "other", "effective_on": "2023-06-01"},
    "report_change": {"uscc": USCC, "kind": "rename", "changed_on": "2023-05-01", "new_name": "连山新名称泵业",
                      "new_region": "211402", "counterpart_uscc": OTHER, "programme": "national"},
    "reconfirm": {"uscc": USCC, "application_id": "sp", "confirmed": True},
    "grant_reward": {"uscc": USCC, "reward_id": "r1", "programme": "zhejiang", "scheme": "hz_little_giant",
                     "amount_fen": 100_000_00, "tranche": 1, "loan_fen": 100_000_00, "lpr_bp": 385, "days": 30},
    "claw_back": {"uscc": USCC, "reward_id": "r1", "amount_fen": 100_00, "reason": "重复申领"},
    "annul": {"uscc": USCC, "application_id": "sp", "reason": "认定有误"},
    "record_loan": {"uscc": USCC, "loan_id": "L1", "lender": "葫芦岛银行", "guarantor": "葫芦岛市融资担保有限公司",
                    "principal_fen": 100_000_000, "drawn_on": "2023-01-10", "due_on": "2023-07-09",
                    "guarantee_fee_fen": 500_000, "guarantee_fee_rate_bp": 100},
    "record_repayment": {"uscc": USCC, "loan_id": "L1", "repaid_on": "2023-05-30"},
    "recognise_product": {"uscc": USCC, "programme": "zhejiang", "recognition": "first_equipment",
                          "product_id": "P1", "product_name": "高效节能多级离心泵", "level": "provincial"},
    "tag_chain": {"uscc": USCC, "programme": "zhejiang", "chain": "intelligent_equipment"},
    "record_credit_listing": {"uscc": USCC, "credit_list": "abnormal_operations", "listed": True,
                              "listed_on": "2023-05-30"},
    "record_group": {"uscc": USCC, "group_uscc": OTHER},
}
assert set(SAMPLES) == set(c.COMMAND_TYPES)


def sample(command: str, n: int | str = 0, **fields: Any) -> dict[str, Any]:
    """The sample of ``command`` as a request body, with a fresh command id."""
    return {"command": command, "command_id": f"hostile-{command}-{n}", "occurred_on": "2023-06-01",
            "actor": actor(), "document": "葫工信发〔2023〕1号", **SAMPLES[command], **fields}


# ----------------------------------------------------------------------------- the store
def row_counts(store: str) -> dict[str, int]:
    """Rows per table of a store (a SQLite path or a ``postgresql://…?schema=`` URL)."""
    if store.startswith("postgresql://"):
        import psycopg

        parts = urlsplit(store)
        schema = parse_qs(parts.query).get("schema", ["public"])[0]
        with psycopg.connect(parts._replace(query="").geturl(), autocommit=True) as conn:
            tables = [r[0] for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                "AND table_type = 'BASE TABLE'", (schema,))]
            return {t: conn.execute(f'SELECT count(*) FROM "{schema}"."{t}"').fetchone()[0]  # type: ignore[index]
                    for t in tables}
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=30)
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        db.close()


def cli(*args: str, db: str, stdin: bytes | None = None,
        home: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "CULTIVATION_DB": db}
    if home is not None:
        env["CULTIVATION_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "entrypoints.cli", *args], input=stdin, capture_output=True,
                          env=env, cwd=ROOT, timeout=300)


# ----------------------------------------------------------------------------- serve
async def send_raw(nc: Any, subject: str, data: bytes, timeout: float = 30) -> dict[str, Any]:
    """A request as raw bytes; the reply's JSON body (or None) and its headers."""
    msg = await nc.request(subject, data, timeout=timeout)
    try:
        body = json.loads(msg.data) if msg.data else None
    except ValueError:
        body = {"unparsable": msg.data.decode("utf-8", "replace")}
    return {"body": body, "headers": dict(msg.headers or {})}


def subject_of(body: dict[str, Any]) -> str:
    return f"cultivation.cmd.{body['actor']['authority']}.{body['command']}"


def journey(n: int) -> list[dict[str, Any]]:
    """Register, pool and apply: three commands each accepted on an empty ledger."""
    u = make_uscc(f"91211402MG{n:07d}")
    base = {"uscc": u, "actor": actor("211402")}
    return [
        {"command": "register", "command_id": f"j-{n}-r", "name": f"企业{n}", "occurred_on": "2023-01-02", **base},
        {"command": "admit_to_pool", "command_id": f"j-{n}-p", "programme": "national", "tier": "innovative",
         "occurred_on": "2023-02-01", **base},
        {"command": "remove_from_pool", "command_id": f"j-{n}-x", "programme": "national", "tier": "innovative",
         "occurred_on": "2023-03-01", **base},
    ]
