"""A real ``cultivation serve`` on its embedded nats-server, in a subprocess: the one
helper the end-to-end tests start it with (plain, or with ``--principals``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.support import ROOT


class Serve:
    """``cultivation serve *args`` with its home in ``folder`` and the store ``db`` (default
    ``folder/ledger.db``); ready (its URL read) when the constructor returns."""

    def __init__(self, folder: Path, db: str | None = None, args: Sequence[str] = (),
                 env: Mapping[str, str] | None = None):
        self.folder = folder
        self.db = db or str(folder / "ledger.db")
        self.home = folder / "home"
        self.out, self.err = folder / "serve.out", folder / "serve.err"
        environ = {k: v for k, v in os.environ.items() if not k.startswith("NATS_") and k != "CULTIVATION_FAILPOINT"}
        environ.update({"CULTIVATION_HOME": str(self.home), "CULTIVATION_DB": self.db, **(env or {})})
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "entrypoints.cli", "serve", *args], env=environ,
                                         cwd=ROOT, text=True, stdout=out, stderr=err)
        deadline = time.monotonic() + 60
        while "ready" not in self.out.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"serve did not start: {self.output()}")
            time.sleep(0.05)
        self.url = (self.home / "nats.url").read_text().strip()

    def output(self) -> str:
        return self.out.read_text() + self.err.read_text()

    def stop(self) -> int:
        """SIGTERM, then its exit code (killed if it does not stop within a minute)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode
