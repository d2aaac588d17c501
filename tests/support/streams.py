"""The streaming tests' traffic: a six-command ``journey`` taking an enterprise to a provincial
专精特新 designation (the pattern ``benchmarks/run.py`` loads its store with), ``load`` of many
such journeys into a ledger, ``send_all`` of commands over NATS, and ``start_serve`` of a real
``cultivation serve`` whose first line is read."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import nats

from domain.values import make_uscc
from infra.nats import connect_options
from services import commands as c
from services.ledger import Ledger

A = lambda authority: {"authority": authority, "person": "test service"}  # noqa: E731


def journey(i: int, county: str = "211402") -> list[dict[str, Any]]:
    """Six commands taking enterprise ``i`` to a provincial 专精特新 designation."""
    u = make_uscc(f"91{county}MB{i:07d}")
    return [
        {"command": "register", "uscc": u, "name": f"测试企业{i}", "region": county, "occurred_on": "2019-01-02",
         "actor": A(county[:4] + "00")},
        {"command": "apply", "uscc": u, "application_id": "sp", "programme": "national", "tier": "specialized",
         "occurred_on": "2019-03-01", "actor": A(county[:4] + "00")},
        {"command": "recommend", "uscc": u, "application_id": "sp", "occurred_on": "2019-04-01",
         "actor": A(county[:4] + "00")},
        {"command": "assess", "uscc": u, "application_id": "sp", "score": 60 + i % 40, "occurred_on": "2019-05-01",
         "actor": A(county[:2] + "0000")},
        {"command": "open_notice", "uscc": u, "application_id": "sp", "occurred_on": "2019-05-02",
         "actor": A(county[:2] + "0000")},
        {"command": "approve", "uscc": u, "application_id": "sp", "occurred_on": "2019-05-20",
         "actor": A(county[:2] + "0000"), "document": f"辽工信发〔2019〕{i}号"},
    ]


def load(ledger: Ledger, first: int, count: int) -> None:
    for i in range(first, first + count):
        for j, obj in enumerate(journey(i)):
            ledger.handle(c.convert_command({**obj, "command_id": f"load-{i}-{j}"}))


async def send_all(url: str, commands: list[dict[str, Any]], concurrency: int = 16) -> list[dict[str, Any]]:
    nc = await nats.connect(**connect_options(url))
    replies: list[dict[str, Any]] = [{} for _ in commands]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(commands)):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            cmd = commands[i]
            subject = f"cultivation.cmd.{cmd['actor']['authority']}.{cmd['command']}"
            msg = await nc.request(subject, json.dumps(cmd).encode(), timeout=30)
            replies[i] = {"body": json.loads(msg.data), "headers": dict(msg.headers or {})}

    # Commands of one enterprise are sent in order; different enterprises in parallel.
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    await nc.close()
    return replies


def start_serve(db: str, home: Path, nats_url: str, *args: str, failpoint: str | None = None,
                extra_env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "CULTIVATION_DB": db, "CULTIVATION_HOME": str(home), "NATS_URL": nats_url,
           **(extra_env or {})}
    env.pop("CULTIVATION_FAILPOINT", None)
    if failpoint:
        env["CULTIVATION_FAILPOINT"] = failpoint
    proc = subprocess.Popen([sys.executable, "-m", "entrypoints.cli", "serve", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "ready" in line, (line, proc.stderr.read() if proc.poll() is not None else "")  # type: ignore[union-attr]
    proc.ready_line = line  # type: ignore[attr-defined]
    return proc
