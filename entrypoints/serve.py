"""``cultivation serve``: the ledger as a service.

Starts (unless ``NATS_URL`` names a server) the embedded NATS with JetStream, then the
command service, the relay and the live projector.  SIGTERM or SIGINT stops taking new
commands, lets the ones in flight finish, publishes every stored event, lets the
projector apply and publish them, closes NATS and exits 0.

The projector runs in a child process of its own (``serve --components projector``,
started, watched, restarted if it dies and stopped by this one): on two cores, command
handling and projection then each have one, instead of sharing one interpreter lock.
``Server(projector_command=None)`` (``serve --projector-in-process``) keeps it in this
process.

The embedded server's URL is written to ``$CULTIVATION_HOME/nats.url`` so that
``cultivation watch`` and other local clients find it.

With ``--principals FILE`` the embedded server runs with the authorization that
``infra.permissions`` derives from the principals and the policy (each authority publishes
only its own commands under its own code), and the ledger connects as the file's service
user; with ``NATS_URL`` the operator loads ``cultivation permissions --principals FILE``
into that server, and the ledger still connects as the service user.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from infra.heap import freeze_heap, keep_frozen
from infra.nats import (
    URL_FILE,
    EmbeddedNats,
    Names,
    connect_options,
    ensure_stream_and_bucket,
    ledger_names,
    local_nats_url,
    replicas_for,
)
from infra.store import CULTIVATION_HOME, describe

log = logging.getLogger("cultivation.serve")
PATIENCE_ENV = "CULTIVATION_NATS_PATIENCE"  # seconds serve keeps trying to reach NATS before it gives up
DEFAULT_PATIENCE = 60.0
FIRST_PROVISION = 10.0  # seconds the first attempt to set up the stream may take before serve answers anyway
PROVISION_BACKOFF = (1.0, 30.0)  # then: retries from 1 s, doubling, at most 30 s apart, for as long as it runs


class ServeError(RuntimeError):
    """``serve`` cannot run in these surroundings (NATS out of reach, the home taken): one
    line for the operator, exit 1, never a traceback."""


def nats_patience(environ: Any = None) -> float:
    """How long to keep trying to reach NATS (``CULTIVATION_NATS_PATIENCE`` seconds, default 60)."""
    env = os.environ if environ is None else environ
    raw = env.get(PATIENCE_ENV, "")
    if not raw:
        return DEFAULT_PATIENCE
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 86400:
        raise ServeError(f"{PATIENCE_ENV}={raw!r}: seconds between 0 and 86400")
    return value


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


async def _quiet_error(e: Exception) -> None:
    """nats.py's asynchronous errors as one line (its default logs a traceback each time)."""
    log.warning("nats: %s", _one_line(e))


async def connect_patiently(options: dict[str, Any], patience: float, what: str) -> Any:
    """Connect with ``options``, one clear line per failed attempt, until ``patience`` seconds
    have passed (then :class:`ServeError`); once connected, nats.py reconnects for ever."""
    import nats

    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    attempt = 0
    wait = 0.5
    connected = False
    seen: list[Exception] = []

    async def on_error(e: Exception) -> None:
        if connected:
            await _quiet_error(e)
        else:  # said once per attempt, below
            seen.append(e)

    while True:
        attempt += 1
        seen.clear()
        try:
            # one pass over the servers (nats.py would otherwise retry for ever inside connect)
            nc = await nats.connect(**{**options, "max_reconnect_attempts": 1, "error_cb": on_error})
        except Exception as e:  # OSError, nats.errors.*, TimeoutError: the surroundings, not us
            why = _one_line(seen[-1] if seen else e)
            left = deadline - loop.time()
            if left <= 0:
                raise ServeError(f"NATS at {what} not reachable after {attempt} attempts in {patience:g} s "
                                 f"({why}); check NATS_URL or the server, or raise {PATIENCE_ENV}") from None
            pause = min(wait, left)
            log.warning("NATS at %s not reachable (attempt %d: %s); next attempt in %.1f s, giving up in %.0f s",
                        what, attempt, why, pause, left)
            await asyncio.sleep(pause)
            wait = min(wait * 2, 5.0)
            continue
        connected = True
        nc.options["max_reconnect_attempts"] = options.get("max_reconnect_attempts", -1)  # then: for ever
        return nc


def _after_cancel(loop: Any, context: dict[str, Any]) -> None:
    """The event loop's report of a future left behind by a cancelled drain (nats.micro's own
    gathers): a cancellation is expected there; anything else is said in one line."""
    if isinstance(context.get("exception"), asyncio.CancelledError):
        return
    log.warning("after the second signal: %s", context.get("message", "?"))


class HomeLock:
    """An exclusive lock on the embedded server's data folder: a second ``serve`` on the same
    home would start a second nats-server on the same JetStream folder and take over its
    ``nats.url``.  Held (``flock``) for the life of the process; the kernel drops it on exit."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.path = folder / "serve.lock"
        self._fd: int | None = None

    def acquire(self) -> HomeLock:
        import fcntl

        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise ServeError(f"another `cultivation serve` (pid {holder}) runs on {self.folder.parent} (lock "
                             f"{self.path}); stop it first, or give this one its own CULTIVATION_HOME") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


PARENT_ENV = "CULTIVATION_SERVE_PARENT"  # set by serve for its projector process: the parent's pid


def die_with_parent() -> None:
    """In a process started by ``serve`` (:data:`PARENT_ENV` set): be sent SIGTERM when that
    parent dies, so none is left behind (Linux ``PR_SET_PDEATHSIG``; set here, in the child
    itself, rather than in a ``preexec_fn``, which is unsafe beside threads)."""
    import ctypes

    parent = os.environ.get(PARENT_ENV)
    if not parent:
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != int(parent):  # the parent died before the line above
        os.kill(os.getpid(), signal.SIGTERM)


class ProjectorProcess:
    """The live projector as a child process: ``command`` is a ``serve --components
    projector`` command line, run against ``url``.  It is restarted if it dies (it resumes
    from its checkpoint), and stopped once the read model has caught up."""

    def __init__(self, command: list[str], url: str, ledger: Any):
        self.command = command
        self.url = url
        self.ledger = ledger  # its store reaches the child by environment, never on its command line
        self.proc: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self._stopping = False
        self._watch: asyncio.Task[None] | None = None

    async def start(self, timeout: float = 60.0) -> None:
        # The store (a PostgreSQL URL may hold a password) by environment: `ps` shows command lines.
        env = {**os.environ, "NATS_URL": self.url, PARENT_ENV: str(os.getpid()), "CULTIVATION_DB": self.ledger.store}
        # Its own session: a terminal's Ctrl-C reaches this process, which stops the child in order.
        self.proc = await asyncio.create_subprocess_exec(*self.command, env=env, stdout=asyncio.subprocess.PIPE,
                                                         start_new_session=True)
        assert self.proc.stdout is not None
        try:
            line = (await asyncio.wait_for(self.proc.stdout.readline(), timeout)).decode()
        except TimeoutError:
            line = ""
        if "ready" not in line:
            if self.proc.returncode is None:
                self.proc.kill()
            await self.proc.wait()
            raise RuntimeError(f"the projector process did not start (exit {self.proc.returncode}): {line.strip()!r}")
        if self._watch is None:
            self._watch = asyncio.create_task(self._keep_running(), name="projector-process")

    async def _keep_running(self) -> None:
        while not self._stopping:
            assert self.proc is not None
            code = await self.proc.wait()
            if self._stopping:
                return
            self.restarts += 1
            log.error("projector process exited with %s; restarting it (restart %d)", code, self.restarts)
            await asyncio.sleep(min(30.0, 0.5 * self.restarts))
            try:
                await self.start()
            except RuntimeError as e:
                log.error("%s", e)

    async def wait_for(self, position: int, timeout: float) -> None:
        """Wait until the child's read model has applied, and published, up to ``position``."""
        from infra.projector import live_read_model, wait_projected

        rm = await asyncio.to_thread(live_read_model, self.ledger)
        try:
            await wait_projected(rm, position, timeout)
        finally:
            rm.close()

    async def stop(self, timeout: float = 60.0) -> int | None:
        self._stopping = True
        if self._watch is not None:
            self._watch.cancel()
        proc = self.proc
        if proc is None:
            return None
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if proc.stdout is not None:
            await proc.stdout.read()
        return proc.returncode


class Server:
    """The composed service; ``run()`` until ``stop()`` (or a signal)."""

    COMPONENTS = ("service", "relay", "projector")

    def __init__(self, ledger: Any, nats_url: str | None = None, nats_dir: str | Path | None = None,
                 max_batch: int = 200, components: tuple[str, ...] = COMPONENTS, relay_batch: int = 500,
                 principals: Any = None, projector_command: list[str] | None = None,
                 patience: float | None = None):
        self.ledger = ledger
        self.patience = nats_patience() if patience is None else patience
        # A `serve --components projector` command line: run the projector as that child
        # process (when it runs beside another component), else in this one.
        self.projector_command = projector_command
        self.principals = principals  # infra.permissions.Principals: run with NATS permissions, as its service user
        self.components = components
        self.relay_batch = relay_batch
        self.nats_url = nats_url if nats_url is not None else os.environ.get("NATS_URL")
        self.nats_dir = Path(nats_dir) if nats_dir else CULTIVATION_HOME / "nats"
        self.max_batch = max_batch
        self.embedded: EmbeddedNats | None = None
        self.lock: HomeLock | None = None
        self.nc: Any = None
        self.service: Any = None
        self.relay: Any = None
        self.projector: Any = None  # a LiveProjector in this process
        self.projector_process: ProjectorProcess | None = None  # or the projector as a child process
        try:
            from infra.lease import lease_ttl

            self.names: Names = ledger_names()
            self.lease_ttl = lease_ttl()
        except ValueError as e:  # CULTIVATION_LEDGER or CULTIVATION_RELAY_LEASE out of its rule
            raise ServeError(str(e)) from None
        self.replicas = 1
        self.ready = asyncio.Event()
        self.streaming = asyncio.Event()  # the stream and buckets exist: relay and projector run
        self._tasks: list[asyncio.Task[Any]] = []
        self._provisioning: asyncio.Task[None] | None = None  # set-up retried while JetStream is away
        self._refreezing: asyncio.Task[None] | None = None  # infra.heap.keep_frozen, once ready
        self._stop = asyncio.Event()
        self._force = asyncio.Event()
        self.forced = False

    def stop(self) -> None:
        """First call: drain and stop.  A second one (a second SIGTERM or Ctrl-C) while draining:
        stop now; what is stored but not yet published or projected goes out at the next start."""
        if self._stop.is_set():
            self._force.set()
        self._stop.set()

    def _nudge_relay(self) -> None:
        """New events were committed here: the relay need not wait for its next poll."""
        if self.relay is not None:
            self.relay.nudge()

    async def start(self) -> None:
        from entrypoints.nats_service import CommandService

        url = self.nats_url
        as_user: dict[str, Any] = {}
        if self.principals is not None:  # credentials are read here and never logged
            from infra.permissions import client_options, render_config, server_environment

            try:
                as_user = client_options(self.principals, self.principals.service)
            except ValueError as e:  # a credential that cannot be read, or a secret file others can read
                raise ServeError(str(e)) from None
        if not url:
            self.lock = HomeLock(self.nats_dir).acquire()
            config, env = None, None
            if self.principals is not None:
                self.nats_dir.mkdir(parents=True, exist_ok=True)
                config = self.nats_dir / "authorization.conf"
                config.write_text(render_config(self.principals, self.ledger.policy, names=self.names),
                                  encoding="utf-8")
                env = server_environment(self.principals)
            self.embedded = EmbeddedNats(store_dir=self.nats_dir, config_file=config, env=env).start()
            url = self.embedded.url
            URL_FILE.parent.mkdir(parents=True, exist_ok=True)
            URL_FILE.write_text(url + "\n")
        self.url = url
        try:
            options = connect_options(url)
        except ValueError as e:  # NATS_CREDS readable by others
            raise ServeError(str(e)) from None
        self.nc = await connect_patiently({**options, **as_user}, self.patience,
                                          "the embedded server" if self.embedded else url)
        try:
            self.replicas = replicas_for(self.nc)
        except ValueError as e:  # CULTIVATION_REPLICAS out of its range
            raise ServeError(str(e)) from None
        # The command service needs NATS, not JetStream: it answers from the store, so it starts
        # first and keeps answering while the stream is out of reach.
        if "service" in self.components:
            self.service = CommandService(self.ledger, self.nc, max_batch=self.max_batch, on_commit=self._nudge_relay,
                                          names=self.names)
            await self.service.start()
        if await self._provision(timeout=FIRST_PROVISION, attempt=1):
            await self._start_streaming()
        else:  # relay and projector start when JetStream answers; the commands are in the store meanwhile
            self._provisioning = asyncio.create_task(self._provision_later(), name="provision")
        freeze_heap()  # what a ready process holds: the collector's full passes no longer pause on it
        # and, every second, what it has come to hold since (the aggregates its cache keeps)
        self._refreezing = asyncio.create_task(keep_frozen(), name="refreeze")
        self.ready.set()

    async def _provision(self, timeout: float, attempt: int, pause: float | None = None) -> bool:
        """Create or scale the stream and buckets (and the principals' mirrors); False, with one
        logged line, when JetStream does not answer."""
        try:
            await asyncio.wait_for(self._ensure(), timeout)
        except (asyncio.CancelledError, ServeError):
            raise
        except Exception as e:  # nats TimeoutError, NoRespondersError, an APIError: JetStream not there (yet)
            then = f"next attempt in {pause:g} s" if pause else "retrying in the background"
            log.warning("JetStream not reachable (attempt %d: %s); the command service answers, the relay and "
                        "the projector wait; %s", attempt, _one_line(e) or "no answer", then)
            return False
        return True

    async def _ensure(self) -> None:
        js = self.nc.jetstream()
        await ensure_stream_and_bucket(js, self.replicas, self.names,
                                       lease_ttl=self.lease_ttl if "relay" in self.components else None)
        if self.principals is not None:  # readers' and auditors' mirrors, in their own accounts
            from infra.permissions import ensure_mirrors

            await ensure_mirrors(self.nc, self.principals, self.names)

    async def _provision_later(self) -> None:
        """Retry the set-up with a growing pause (bounded), then start the relay and projector."""
        low, high = PROVISION_BACKOFF
        pause, attempt = low, 1
        while not self._stop.is_set():
            await asyncio.sleep(pause)
            attempt += 1
            pause = min(pause * 2, high)
            if await self._provision(timeout=FIRST_PROVISION, attempt=attempt, pause=pause):
                log.info("JetStream answers after %d attempts: starting the relay and the projector", attempt)
                await self._start_streaming()
                return

    async def _start_streaming(self) -> None:
        """Start the relay and the projector (the stream exists), and wait until they run."""
        from infra.lease import Lease
        from infra.projector import LiveProjector
        from infra.relay import Relay

        readies = []
        if "relay" in self.components:
            lease = Lease(self.nc.jetstream(), self.names, self.lease_ttl)
            self.relay = Relay(self.ledger, self.nc, batch_size=self.relay_batch, names=self.names, lease=lease)
            readies.append(asyncio.Event())
            self._tasks.append(asyncio.create_task(self.relay.run(readies[-1]), name="relay"))
        if "projector" in self.components and self.projector_command and len(self.components) > 1:
            self.projector_process = ProjectorProcess(self.projector_command, self.url, self.ledger)
            await self.projector_process.start()
        elif "projector" in self.components:
            self.projector = LiveProjector(self.ledger, self.nc, names=self.names)
            readies.append(asyncio.Event())
            self._tasks.append(asyncio.create_task(self.projector.run(readies[-1]), name="projector"))
        try:
            await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 30)
        except TimeoutError:  # they keep trying (and say why in the log)
            log.warning("the relay or the projector is not running yet after 30 s; they keep trying")
        self.streaming.set()

    async def shutdown(self, timeout: float = 60.0) -> None:
        """Drain: no new commands, finish those in flight, publish and project everything."""
        await self._stop_background()
        if self.service:
            await self.service.stop(timeout)
        head = await asyncio.to_thread(self.ledger.max_position)
        try:
            if self.relay and self.relay.role != "active":
                log.info("shutdown: this relay stands by; the active one publishes what is stored")
            elif self.relay:
                await self._wait_relay(head, timeout)
            projector = self.projector or self.projector_process
            if projector and self.relay:  # a projector alone cannot know what is still on its way
                await projector.wait_for(head, timeout)
        except TimeoutError as e:
            log.warning("shutdown: %s", e)
        if self.projector_process:
            code = await self.projector_process.stop(timeout)
            if code:
                log.warning("shutdown: the projector process exited with %s", code)
        for part in (self.relay, self.projector):
            if part:
                part.stop()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.projector:
            self.projector.close()
        if not self.streaming.is_set() and "relay" in self.components:
            log.warning("shutdown: JetStream never answered; the events stored meanwhile go out at the next start")
        if self.nc:
            # Everything is published, acknowledged and projected: close without draining the
            # JetStream reply inboxes, which would only wait out their timeout.
            await self._close_nats()
        self._stop_embedded()

    def _stop_embedded(self) -> None:
        """Stop the embedded nats-server, and forget its URL if the file still names it."""
        if self.embedded:
            self.embedded.stop()
            try:
                if URL_FILE.read_text().strip() == self.embedded.url:
                    URL_FILE.unlink()
            except OSError:
                pass

    async def _wait_relay(self, head: int, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.relay.position < head:
            if loop.time() > deadline:
                raise TimeoutError(f"relay did not reach position {head}")
            await asyncio.sleep(0.05)

    async def _stop_background(self) -> None:
        """Cancel what runs beside the components: the set-up retried, the heap refrozen."""
        for task in (self._provisioning, self._refreezing):
            if task is not None and not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    async def _close_nats(self) -> None:
        """Close the connection; a bus already gone is said in one line, not a traceback."""
        if self.nc is None or self.nc.is_closed:
            return
        try:
            await self.nc.close()
        except Exception as e:  # ConnectionResetError and the like: NATS went away first
            log.warning("closing the NATS connection: %s", _one_line(e))

    async def _abandon_start(self) -> None:
        """A signal (or a failure) came before the service was ready: undo what started."""
        await self._stop_background()
        if self.service is not None:
            try:
                await self.service.stop(5)
            except Exception as e:  # noqa: BLE001 - stopping anyway
                log.warning("stopping the command service: %s", _one_line(e))
        if self.projector_process:
            await self.projector_process.stop(10)
        for part in (self.relay, self.projector):
            if part:
                part.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.projector:
            self.projector.close()
        await self._close_nats()
        self._stop_embedded()

    async def run(self, on_ready: Any = None) -> bool:
        """Run until a signal or :meth:`stop`; False when stopped before it was ready.
        SIGTERM and SIGINT are honoured at every moment, while starting too."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        try:
            starting = asyncio.create_task(self.start(), name="serve-start")
            stopping = asyncio.create_task(self._stop.wait(), name="serve-stop")
            await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not starting.done():
                starting.cancel()
                await asyncio.gather(starting, return_exceptions=True)
                await self._abandon_start()
                return False
            stopping.cancel()
            if starting.exception() is not None:
                await self._abandon_start()
                starting.result()  # raises
            if on_ready:
                on_ready(self)
            await self._stop.wait()
            draining = asyncio.create_task(self.shutdown(), name="serve-shutdown")
            forcing = asyncio.create_task(self._force.wait(), name="serve-force")
            await asyncio.wait({draining, forcing}, return_when=asyncio.FIRST_COMPLETED)
            if not draining.done():
                log.warning("a second signal: stopping without waiting for the relay and the projector; "
                            "they resume from the store at the next start")
                loop.set_exception_handler(_after_cancel)  # what the cancelled drain leaves behind
                self.forced = True
                draining.cancel()
                await asyncio.gather(draining, return_exceptions=True)
                await self._abandon_start()
            else:
                forcing.cancel()
                draining.result()
            return True
        finally:
            if self.lock:
                self.lock.release()


def serve(ledger: Any, components: tuple[str, ...] = Server.COMPONENTS, relay_batch: int = 500,
          principals: Any = None, projector_command: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    die_with_parent()
    try:
        server = Server(ledger, components=components, relay_batch=relay_batch, principals=principals,
                        projector_command=projector_command)
    except ServeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1

    def announce(s: Server) -> None:
        embedded = " (embedded)" if s.embedded else ""
        if principals is not None:
            embedded += (f" with permissions for {len(principals.principals)} principals, "
                         f"as user {principals.service.name}")
        child = s.projector_process
        running = [f"projector (process {child.proc.pid})" if x == "projector" and child and child.proc
                   else f"relay ({s.relay.role})" if x == "relay" and s.relay else x for x in s.components]
        n = s.names
        stream = (f"stream {n.stream} (R{s.replicas})" if s.streaming.is_set() else
                  f"stream {n.stream}: waiting for JetStream (the relay and the projector start when it answers)")
        print(f"cultivation serve: ready on {s.url}{embedded}; ledger {n.ledger}; store {describe(ledger.store)}; "
              f"running {', '.join(running)}; {stream}; commands on {n.cmd_prefix}.<authority>.<command>, "
              f"queries on {n.query_prefix}.<query>", flush=True)

    try:
        ready = asyncio.run(server.run(announce))
    except ServeError as e:
        print(f"error: cultivation serve: {e}", file=sys.stderr)
        return 1
    print("cultivation serve: " + ("stopped before it was ready" if not ready else
                                   "stopped at a second signal" if server.forced else "stopped cleanly"), flush=True)
    return 0


def pool_watch_subject(tier: str | None, region: str | None, names: Names | None = None) -> str:
    """The subject that carries the pool changes of ``tier`` (any when None) inside ``region``
    (of the ledger ``names``, by default the one ``CULTIVATION_LEDGER`` names).

    >>> pool_watch_subject("little_giant", "211400")
    'cultivation.pool.little_giant.210000.211400.>'
    >>> pool_watch_subject(None, "211402")
    'cultivation.pool.*.210000.211400.211402'
    >>> pool_watch_subject(None, None)
    'cultivation.pool.*.>'
    """
    from domain.values import Region

    head = f"{(names or ledger_names()).pool_prefix}.{tier or '*'}"
    if not region or region == "000000":
        return f"{head}.>"
    r = Region(region)
    if r.level == "provincial":
        return f"{head}.{region}.>"
    if r.level == "municipal":
        return f"{head}.{r.province.code}.{region}.>"
    return f"{head}.{r.province.code}.{r.city.code}.{region}"


async def watch_pool(tier: str | None, region: str | None, count: int | None, timeout: float | None,
                     emit: Any) -> int:
    """Print pool changes as they are published; returns how many were seen."""
    import msgspec
    import nats

    from infra.projector import PoolChange

    try:
        names = ledger_names()
    except ValueError as e:  # CULTIVATION_LEDGER out of its rule: said in one line by the CLI
        raise RuntimeError(str(e)) from None
    url = local_nats_url()
    if not url:
        raise RuntimeError("no NATS to watch: set NATS_URL or start `cultivation serve`")
    nc = await nats.connect(**connect_options(url))
    subject = pool_watch_subject(tier, region, names)
    sub = await nc.subscribe(subject)
    await nc.flush()  # the server has the subscription: nothing published from now on is missed
    print(f"watching {subject} on {url} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    decoder = msgspec.json.Decoder(PoolChange)
    seen = 0
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        while not stop.is_set() and (count is None or seen < count):
            wait = 0.5 if deadline is None else min(0.5, deadline - loop.time())
            if wait <= 0:
                break
            try:
                msg = await sub.next_msg(timeout=wait)
            except Exception:  # nats.errors.TimeoutError: nothing this half second
                continue
            emit(decoder.decode(msg.data))
            seen += 1
    finally:
        await nc.drain()
    return seen
