"""A real ``cultivation serve --principals`` with one account per principal of ``CAST`` (the
ledger, authorities of each level, an auditor, a reader), and a client per principal whose
``errors`` collect what the server refused: the permission and query tests share them."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import uuid
from pathlib import Path
from typing import Any

import nats
import pytest

from domain.values import make_uscc
from infra.permissions import client_options, load_principals
from tests.support.serving import Serve

# name, kind, authority code
CAST = [
    ("ledger", "service", None),
    ("miit", "authority", "000000"),
    ("liaoning", "authority", "210000"),
    ("huludao", "authority", "211400"),
    ("dalian", "authority", "210200"),
    ("lianshan", "authority", "211402"),  # a district of Huludao: county level
    ("jinzhou", "authority", "210213"),  # a district of Dalian (计划单列市): municipal level in the national programme
    ("audit-office", "auditor", None),
    ("bank-feed", "reader", None),
]
LEDGER_ENV = "CULTIVATION_TEST_LEDGER_PASSWORD"


def write_principals(folder: Path) -> tuple[Path, dict[str, str]]:
    """A principals file (the ledger's password in the environment, the others in files)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "secrets").mkdir(exist_ok=True)
    passwords = {name: f"pw-{name}-{uuid.uuid4().hex}" for name, _, _ in CAST}
    lines = []
    for name, kind, code in CAST:
        lines += ["[[principals]]", f'name = "{name}"', f'kind = "{kind}"']
        if code:
            lines.append(f'authority = "{code}"')
        if kind == "service":
            lines.append(f'password_env = "{LEDGER_ENV}"')
        else:
            (folder / "secrets" / f"{name}.pw").write_text(passwords[name] + "\n", encoding="utf-8")
            (folder / "secrets" / f"{name}.pw").chmod(0o600)
            lines.append(f'password_file = "secrets/{name}.pw"')
        lines.append("")
    path = folder / "principals.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path, passwords


class Served(Serve):
    """A `cultivation serve --principals` subprocess on its embedded NATS."""

    def __init__(self, folder: Path):
        self.principals_file, self.passwords = write_principals(folder / "conf")
        super().__init__(folder, args=("--principals", str(self.principals_file)),
                         env={LEDGER_ENV: self.passwords["ledger"]})
        environ = {**os.environ, LEDGER_ENV: self.passwords["ledger"]}
        self.principals = load_principals(self.principals_file)
        self.options = {p.name: client_options(self.principals, p, environ) for p in self.principals.principals}


class Client:
    """One principal's connection; ``errors`` collects what the server refused."""

    def __init__(self, served: Served, name: str):
        self.served = served
        self.name = name
        self.errors: list[str] = []
        self.nc: Any = None

    async def __aenter__(self) -> Client:
        async def on_error(e: Exception) -> None:
            self.errors.append(str(e).lower())

        self.nc = await nats.connect(servers=[self.served.url], error_cb=on_error, allow_reconnect=False,
                                     **self.served.options[self.name])
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.nc.close()

    async def send(self, subject: str, body: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
        msg = await self.nc.request(subject, json.dumps(body).encode(), timeout=timeout)
        return {**json.loads(msg.data), "headers": dict(msg.headers or {})}

    async def refused_publish(self, subject: str, body: dict[str, Any] | None = None) -> None:
        """The server drops the request: a timeout, and a permissions violation naming the subject."""
        with pytest.raises(nats.errors.TimeoutError):
            await self.nc.request(subject, json.dumps(body or {}).encode(), timeout=1.0)
        await self.violation(f'permissions violation for publish to "{subject.lower()}"')

    async def violation(self, text: str) -> None:
        for _ in range(40):
            if any(text in e for e in self.errors):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {text!r} among {self.errors}")


_n = itertools.count(1)


def new_uscc(county: str = "211402") -> str:
    return make_uscc(f"91{county}MD{os.getpid() % 1000:03d}{next(_n):04d}")


def cmd(command: str, authority: str, **fields: Any) -> dict[str, Any]:
    return {"command": command, "command_id": f"perm-{uuid.uuid4().hex[:12]}",
            "actor": {"authority": authority, "person": "test service"}, **fields}


def subject(authority: str, command: str) -> str:
    return f"cultivation.cmd.{authority}.{command}"


async def ok(client: Client, command: str, authority: str, **fields: Any) -> dict[str, Any]:
    reply = await client.send(subject(authority, command), cmd(command, authority, **fields))
    assert reply["ok"], reply
    return reply


async def designate_specialized(served: Served, uscc: str) -> None:
    """register and apply (county), recommend (city), assess, notice, approve (province)."""
    async with Client(served, "lianshan") as county, Client(served, "huludao") as city, \
            Client(served, "liaoning") as province:
        await ok(county, "register", "211402", uscc=uscc, name="连山测试泵业", occurred_on="2019-01-02")
        await ok(county, "apply", "211402", uscc=uscc, application_id="sp", programme="national",
                 tier="specialized", occurred_on="2019-03-01")
        await ok(city, "recommend", "211400", uscc=uscc, application_id="sp", occurred_on="2019-04-01")
        await ok(province, "assess", "210000", uscc=uscc, application_id="sp", score=80, occurred_on="2019-05-01")
        await ok(province, "open_notice", "210000", uscc=uscc, application_id="sp", occurred_on="2019-05-02")
        await ok(province, "approve", "210000", uscc=uscc, application_id="sp", occurred_on="2019-05-20",
                 document="辽工信发〔2019〕1号")
