"""The relay's lease: one relay publishes at a time, standbys take over within seconds.

Relays may run on several machines for failover.  Which one publishes is decided by a key
in a NATS KV bucket of the ledger (``<ledger>_relay``, :class:`infra.nats.Names`) whose
messages expire after the lease's time to live (``CULTIVATION_RELAY_LEASE`` seconds,
default 5):

- a relay becomes *active* by creating the key (``create`` succeeds only if the key does not
  exist: it never did, it expired, or its holder released it on a clean stop);
- the active relay renews it every third of the time to live, each renewal conditional on
  the revision it last wrote (``update(last=…)``), so a relay that lost the key cannot take
  it back by renewing;
- a relay counts its lease as held only until the time to live has run from the moment it
  *sent* its last successful write, less a margin; the server keeps the key at least that
  long (it ages from when it was stored, which is later), so two relays never both believe
  they hold it, whatever the network does;
- a standby tries to create the key every third of the time to live: when the active relay
  dies (kill -9, its machine lost), the key expires and a standby is active within about
  ``ttl + ttl / 3`` seconds.

The lease decides who *tries* to publish; correctness never rests on it.  Every message
still carries ``Nats-Expected-Last-Sequence`` (:mod:`infra.relay`), so even two relays that
both published (a paused process waking after its lease ran out) could neither reorder nor
repeat an event.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from typing import Any

from infra.nats import Names

log = logging.getLogger("cultivation.lease")

LEASE_ENV = "CULTIVATION_RELAY_LEASE"  # seconds a relay's lease lives without renewal
DEFAULT_TTL = 5.0
LEASE_KEY = "active"
MARGIN = 0.8  # the share of the time to live a holder trusts its lease for


def lease_ttl(environ: Any = None) -> float:
    """The lease's time to live: ``CULTIVATION_RELAY_LEASE`` seconds (1–300), default 5.

    >>> lease_ttl({}), lease_ttl({"CULTIVATION_RELAY_LEASE": "2.5"})
    (5.0, 2.5)
    >>> lease_ttl({"CULTIVATION_RELAY_LEASE": "0"})
    Traceback (most recent call last):
    ...
    ValueError: CULTIVATION_RELAY_LEASE='0': seconds from 1 to 300 (how long a relay's lease lives without renewal)
    """
    env = os.environ if environ is None else environ
    raw = env.get(LEASE_ENV, "").strip()
    if not raw:
        return DEFAULT_TTL
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not 1 <= value <= 300:
        raise ValueError(f"{LEASE_ENV}={raw!r}: seconds from 1 to 300 (how long a relay's lease lives "
                         f"without renewal)")
    return value


async def ensure_lease_bucket(js: Any, names: Names, ttl: float, replicas: int = 1) -> None:
    """Create the lease bucket (its messages live ``ttl`` seconds), or bring an existing one to
    this ``ttl`` and up to ``replicas``."""
    from nats.js.api import KeyValueConfig, StorageType
    from nats.js.errors import NotFoundError

    stream = f"KV_{names.relay_bucket}"
    try:
        info = await js.stream_info(stream)
    except NotFoundError:
        await js.create_key_value(KeyValueConfig(
            bucket=names.relay_bucket, history=1, ttl=ttl, storage=StorageType.FILE, replicas=replicas,
            description=f"which relay of the ledger {names.ledger} publishes (a lease of {ttl:g} s)"))
        return
    config = info.config
    if abs((config.max_age or 0) - ttl) > 1e-3 or (config.num_replicas or 1) < replicas:
        config.max_age = ttl
        config.num_replicas = max(config.num_replicas or 1, replicas)
        await js.update_stream(config)


def holder_name() -> str:
    """This relay's name in the lease: host, process and a random part (a restarted process is
    a new holder)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    """The relay lease of one ledger, as one relay holds or waits for it (see the module)."""

    def __init__(self, js: Any, names: Names, ttl: float, holder: str | None = None):
        self.js = js
        self.names = names
        self.ttl = ttl
        self.holder = holder or holder_name()
        self.revision: int | None = None  # the revision this relay last wrote, while it holds the key
        self._valid_until = 0.0  # monotonic: until when this relay trusts its lease
        self._kv: Any = None

    @property
    def interval(self) -> float:
        """How often the holder renews and a standby tries."""
        return self.ttl / 3

    def held(self) -> bool:
        return self.revision is not None and time.monotonic() < self._valid_until

    async def _bucket(self) -> Any:
        if self._kv is None:
            self._kv = await self.js.key_value(self.names.relay_bucket)
        return self._kv

    async def acquire(self) -> bool:
        """Become the holder if nobody holds the key; True when this relay now holds it."""
        from nats.js.errors import KeyWrongLastSequenceError

        if self.held():
            return await self.renew()
        kv = await self._bucket()
        sent = time.monotonic()
        try:
            self.revision = await kv.create(LEASE_KEY, self.holder.encode())
        except KeyWrongLastSequenceError:  # another relay holds it
            self.revision = None
            return False
        self._valid_until = sent + self.ttl * MARGIN
        return True

    async def renew(self) -> bool:
        """Renew the lease; False (and no longer held) when another relay has the key."""
        from nats.js.errors import KeyWrongLastSequenceError

        if self.revision is None:
            return False
        kv = await self._bucket()
        sent = time.monotonic()
        try:
            self.revision = await kv.update(LEASE_KEY, self.holder.encode(), last=self.revision)
        except KeyWrongLastSequenceError:  # it expired and another relay took it
            self.lose("another relay holds the lease")
            return False
        self._valid_until = sent + self.ttl * MARGIN
        return True

    def lose(self, why: str) -> None:
        if self.revision is not None:
            log.warning("relay lease lost: %s", why)
        self.revision = None
        self._valid_until = 0.0

    async def release(self) -> None:
        """Give the lease up (a clean stop): a standby takes over at its next try."""
        if self.revision is None:
            return
        revision, self.revision = self.revision, None
        self._valid_until = 0.0
        try:
            kv = await self._bucket()
            await kv.delete(LEASE_KEY, last=revision)
        except Exception as e:  # noqa: BLE001 - it expires by itself within ttl
            log.warning("relay lease: could not release it (%s); it expires in %g s", e, self.ttl)


async def lease_holder(js: Any, names: Names) -> str | None:
    """Who holds the relay lease of ``names``' ledger now (None: nobody, or no bucket)."""
    from nats.js.errors import BucketNotFoundError, KeyNotFoundError, NotFoundError

    try:
        kv = await js.key_value(names.relay_bucket)
        entry = await kv.get(LEASE_KEY)
    except (BucketNotFoundError, KeyNotFoundError, NotFoundError):
        return None
    return entry.value.decode(errors="replace") if entry.value else None
