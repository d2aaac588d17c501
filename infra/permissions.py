"""Who may do what on the wire: principals, and the nats-server accounts and
permissions that enforce, per principal, the commands the policy grants
(``domain.authority``: :func:`~domain.authority.allowed_commands`).

Each principal is a user of an account of its own; the ledger's account holds the stream,
the bucket and the ledger's consumers, and exports to each other account only what its
principal may use (:func:`accounts_for`); readers and auditors read mirrors that the ledger
keeps in their own accounts (:func:`ensure_mirrors`).

Two layers refuse what an actor may not do, and neither trusts the other:

1. **the bus** (this module): each principal connects as its own NATS user, and the
   server lets it publish only on the subjects its kind needs.  An authority publishes
   commands only on ``cultivation.cmd.<its own code>.<command>``, and only the commands
   the policy lets its level (and its region, and the schemes it grants) issue
   (``domain.authority``, derived from ``policies/*.toml``); the
   command service refuses a body whose ``actor.authority`` differs from the subject's
   code (``authority.subject_mismatch``), so no authority can act in another's name;
2. **the domain** (``domain/enterprise.py``) refuses any decision outside the actor's
   level and region, whatever the transport (CLI, batch file, NATS).

The subject carries the command, not the tier, so the bus is the coarse filter (a city
without a programme of its own can never publish ``approve``) and the domain the fine
one (a city that decides Qingdao's own tiers still cannot approve a national tier).

Principals
----------
A principals file (TOML) lists who connects; msgspec decodes it into frozen structs and
a mistake names the field::

    [[principals]]
    name = "ledger"                # the ledger service itself (exactly one)
    kind = "service"
    password_env = "CULTIVATION_LEDGER_PASSWORD"

    [[principals]]
    name = "huludao"
    kind = "authority"             # authority | auditor | reader | service
    authority = "211400"           # GB/T 2260 code of the governing region (authorities only)
    password_file = "secrets/huludao.pw"   # relative to the principals file

    [[principals]]
    name = "bank-feed"
    kind = "reader"
    nkey = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4"

Credentials never sit in the file: ``password_file`` (a file holding the password),
``password_env`` (an environment variable holding it) or ``nkey`` (a public NKey; the
client signs with its seed).  The rendered nats-server configuration names passwords
as variables of the server's environment (``password: $CULTIVATION_PW_HULUDAO``), so
the configuration can be printed, reviewed and stored without a secret in it.

Every principal gets a private inbox, ``_INBOX.<name>.>``: its replies are readable by
it alone, so a client connects with ``inbox_prefix="_INBOX.<name>"`` (``NATS_INBOX_PREFIX``).

>>> from domain.policy import PolicyBook
>>> from infra.policy_files import load_policy_book
>>> huludao = Principal(name="huludao", kind="authority", authority="211400", password_env="HULUDAO_PW")
>>> permissions_for(huludao, load_policy_book()).publish_allow[:3]   # the city's grants, as subjects
('cultivation.cmd.211400.register', 'cultivation.cmd.211400.admit_to_pool', 'cultivation.cmd.211400.remove_from_pool')
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from domain.authority import acting_levels, allowed_commands, grants
from domain.policy import PolicyBook
from domain.values import Region, RegionCode
from infra.nats import QUERIES, Names

PRINCIPAL_KINDS = ("authority", "auditor", "reader", "service")


# ---------------------------------------------------------------------------- principals
Name = Annotated[str, msgspec.Meta(pattern=r"\A[a-z0-9][a-z0-9_-]{0,63}\Z",
                                   description="lower-case letters, digits, '-' and '_' (it names the inbox)")]
EnvName = Annotated[str, msgspec.Meta(pattern=r"\A[A-Za-z_][A-Za-z0-9_]*\Z")]
NKey = Annotated[str, msgspec.Meta(pattern=r"\AU[A-Z2-7]{55}\Z", description="a user's public NKey")]


class Principal(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Who connects: a NATS user with the permissions of its kind."""

    name: Name
    kind: Literal["authority", "auditor", "reader", "service"]
    authority: RegionCode | None = None
    password_file: str | None = None
    password_env: EnvName | None = None
    nkey: NKey | None = None
    seed_file: str | None = None  # the service's NKey seed, to connect with
    description: str = ""
    password: str | None = None  # refused: only so that the refusal can say why

    def __post_init__(self) -> None:
        if self.password is not None:
            raise ValueError("password: passwords never go in the principals file; "
                             "use password_file or password_env")
        if self.kind == "authority":
            if self.authority is None:
                raise ValueError("authority: an authority principal needs the GB/T 2260 code of its region")
            Region(self.authority)
        elif self.authority is not None:
            raise ValueError(f"authority: only an authority principal has an authority code, not a {self.kind}")
        given = [f for f in ("password_file", "password_env", "nkey") if getattr(self, f)]
        if not given:
            raise ValueError("password_file: credentials are missing: give one of password_file, password_env "
                             "or nkey")
        if len(given) > 1:
            raise ValueError(f"{given[1]}: give only one of password_file, password_env or nkey")
        if self.seed_file and not self.nkey:
            raise ValueError("seed_file: a seed file goes with an nkey")

    @property
    def level(self) -> str | None:
        return Region(self.authority).level if self.authority else None

    @property
    def inbox_prefix(self) -> str:
        return f"_INBOX.{self.name}"

    @property
    def password_var(self) -> str | None:
        """The nats-server configuration variable holding this principal's password."""
        if self.nkey:
            return None
        return self.password_env or "CULTIVATION_PW_" + re.sub(r"[^A-Z0-9]", "_", self.name.upper())


class Principals(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    principals: list[Principal]

    def __post_init__(self) -> None:
        names = [p.name for p in self.principals]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"principals: names must be unique; repeated: {twice}")
        services = [p.name for p in self.principals if p.kind == "service"]
        if len(services) != 1:
            raise ValueError(f"principals: exactly one principal of kind 'service' (the ledger) is needed, "
                             f"found {services or 'none'}")
        variables = [p.password_var for p in self.principals if p.password_var]
        clash = sorted({v for v in variables if variables.count(v) > 1})
        if clash:
            raise ValueError(f"principals: two principals share the password variable {clash}")

    @property
    def service(self) -> Principal:
        return next(p for p in self.principals if p.kind == "service")

    def named(self, name: str) -> Principal:
        for p in self.principals:
            if p.name == name:
                return p
        raise KeyError(name)


class PrincipalsError(ValueError):
    """A principals file that does not decode, or a credential that cannot be read.
    Names the file, the field path and the reason; never a secret."""

    def __init__(self, source: str, field: str, message: str):
        super().__init__(f"principals file {source}: {field}: {message}")
        self.source = source
        self.field = field
        self.message = message


_AT = re.compile(r"^(?P<msg>.*?)(?: - at `(?P<path>[^`]*)`)?$", re.S)


def decode_principals(data: bytes | str, source: str = "<string>", base: Path | None = None) -> Principals:
    """Decode a principals file; relative credential files are taken from ``base``.

    >>> decode_principals('[[principals]]\\nname = "x"\\nkind = "mayor"\\npassword_env = "X"\\n')
    Traceback (most recent call last):
    ...
    infra.permissions.PrincipalsError: principals file <string>: $.principals[0].kind: Invalid enum value 'mayor' (kinds: authority, auditor, reader, service)
    """
    try:
        decoded = msgspec.toml.decode(data, type=Principals)
    except (msgspec.ValidationError, msgspec.DecodeError) as e:
        m = _AT.match(str(e))
        assert m is not None
        path, msg = m.group("path") or "$", m.group("msg")
        inner = re.match(r"^([a-z_]+): (.*)$", msg, re.S)
        if inner:
            path = f"{path}.{inner.group(1)}"
            msg = inner.group(2)
        if path.endswith(".kind"):
            msg += f" (kinds: {', '.join(PRINCIPAL_KINDS)})"
        raise PrincipalsError(source, path, msg) from None
    if base is None:
        return decoded
    return Principals(principals=[msgspec.structs.replace(
        p, **{f: str(base / getattr(p, f)) for f in ("password_file", "seed_file") if getattr(p, f)})
        for p in decoded.principals])


def load_principals(path: str | Path) -> Principals:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise PrincipalsError(str(path), "$", f"cannot read the file: {e.strerror}") from None
    return decode_principals(data, str(path), base=path.parent)


def too_open(path: str | Path) -> str | None:
    """Why a secret file must not be used as it stands (readable or writable by group or others,
    as ssh refuses a private key), or None.  Follows no symlink: the file's own mode counts."""
    import stat

    try:
        st = os.stat(path)
    except OSError:
        return None  # reading it will say what is wrong
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        return (f"{path} is accessible by group or others (mode {mode:04o}); a secret must be private to "
                f"its owner: chmod 600 {path}")
    return None


def secret(principals: Principals, p: Principal, environ: Mapping[str, str] | None = None) -> str:
    """The password of ``p`` from its file or environment variable (never printed)."""
    env = os.environ if environ is None else environ
    i = principals.principals.index(p)
    if p.password_file:
        loose = too_open(p.password_file)
        if loose:
            raise PrincipalsError("", f"$.principals[{i}].password_file", loose)
        try:
            value = Path(p.password_file).read_text(encoding="utf-8").strip()
        except OSError as e:
            raise PrincipalsError("", f"$.principals[{i}].password_file",
                                  f"cannot read {p.password_file}: {e.strerror}") from None
        if not value:
            raise PrincipalsError("", f"$.principals[{i}].password_file", f"{p.password_file} is empty")
        return value
    if p.password_env:
        value = env.get(p.password_env, "")
        if not value:
            raise PrincipalsError("", f"$.principals[{i}].password_env",
                                  f"environment variable {p.password_env} is not set")
        return value
    raise PrincipalsError("", f"$.principals[{i}].nkey", "an nkey principal has no password")


def server_environment(principals: Principals, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables the rendered configuration refers to, for the nats-server process."""
    return {p.password_var: secret(principals, p, environ) for p in principals.principals if p.password_var}


def client_options(principals: Principals, p: Principal, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``nats.connect`` keyword arguments to connect as ``p`` (user, secret, private inbox)."""
    opts: dict[str, Any] = {"inbox_prefix": p.inbox_prefix}
    if p.nkey:
        if not p.seed_file:
            i = principals.principals.index(p)
            raise PrincipalsError("", f"$.principals[{i}].seed_file", f"{p.name} connects with an nkey: name "
                                                                       f"its seed_file")
        loose = too_open(p.seed_file)
        if loose:
            i = principals.principals.index(p)
            raise PrincipalsError("", f"$.principals[{i}].seed_file", loose)
        opts["nkeys_seed"] = p.seed_file
    else:
        opts["user"] = p.name
        opts["password"] = secret(principals, p, environ)
    return opts


# ---------------------------------------------------------------------------- permissions
class Permissions(msgspec.Struct, frozen=True, kw_only=True):
    """A nats-server ``permissions`` block (inside the principal's own account)."""

    publish_allow: tuple[str, ...] = ()
    publish_deny: tuple[str, ...] = ()
    subscribe_allow: tuple[str, ...] = ()
    subscribe_deny: tuple[str, ...] = ()
    allow_responses: bool = False


# ---------------------------------------------------------------------------- accounts
# Every principal but the ledger has an account of its own; the ledger's account holds the
# stream, the bucket and the ledger's consumers, and nothing of another account reaches
# them except through the exports below.  An auditor's or reader's JetStream requests go to
# its own account, where the ledger keeps a *mirror* of what it may read (CULTIVATION_EVENTS,
# KV_cultivation_pools, same names); whatever consumer it creates there, durable or push,
# named like the ledger's or not, delivering to any subject, stays in its own account.
#
# Every name below comes from the ledger's :class:`~infra.nats.Names` (``CULTIVATION_LEDGER``):
# the stream and bucket, their shared mirrors (``SHARE_<stream>``) inside the ledger's account, the
# API a principal imports to consume a share (``<ledger>.share.API``), the one the ledger imports
# to keep each principal's mirrors (``<ledger>.mirror.<name>.API``), the mirrors' deliveries
# (``<ledger>.deliver.<name>``) and the account names.


def ledger_consumers(names: Names | None = None) -> tuple[str, ...]:
    """The ledger's own durable consumers: they live in the ledger's account, which no other
    principal's JetStream requests reach (see :func:`accounts_for`)."""
    return ((names or Names()).projector_durable,)


def share_streams(names: Names) -> dict[str, str]:
    """The ledger's stream and bucket, each with the mirror of it the ledger keeps in its own account."""
    return {names.stream: f"SHARE_{names.stream}", names.kv_stream: f"SHARE_{names.kv_stream}"}


def account_name(p: Principal, names: Names | None = None) -> str:
    n = names or Names()
    return n.ledger_account if p.kind == "service" else n.account_of(p.name)


def mirrored_streams(p: Principal, names: Names | None = None) -> tuple[str, ...]:
    """The streams the ledger mirrors into ``p``'s account: what it may read, nothing else."""
    n = names or Names()
    return {"auditor": (n.stream, n.kv_stream), "reader": (n.kv_stream,)}.get(p.kind, ())


def mirror_api(p: Principal, names: Names | None = None) -> str:
    """The prefix under which the ledger reaches ``p``'s JetStream API (to keep its mirrors)."""
    return f"{(names or Names()).mirror_api}.{p.name}.API"


def _stream_read(stream: str) -> list[str]:
    """Reading ``stream`` in one's own account: info, message get, consumers of one's own."""
    api = "$JS.API"
    return [f"{api}.STREAM.INFO.{stream}", f"{api}.STREAM.MSG.GET.{stream}", f"{api}.DIRECT.GET.{stream}",
            f"{api}.DIRECT.GET.{stream}.>", f"{api}.CONSUMER.CREATE.{stream}", f"{api}.CONSUMER.CREATE.{stream}.>",
            f"{api}.CONSUMER.DURABLE.CREATE.{stream}.*", f"{api}.CONSUMER.INFO.{stream}.*",
            f"{api}.CONSUMER.DELETE.{stream}.*", f"{api}.CONSUMER.MSG.NEXT.{stream}.*",
            f"{api}.CONSUMER.LIST.{stream}", f"{api}.CONSUMER.NAMES.{stream}"]


def _stream_own(stream: str) -> list[str]:
    """The ledger's rights on its own stream: create, update, read, consume; never delete,
    purge or remove a message (nothing is deleted, not even by the ledger's own user)."""
    api = "$JS.API"
    return [f"{api}.STREAM.CREATE.{stream}", f"{api}.STREAM.UPDATE.{stream}", f"{api}.STREAM.INFO.{stream}",
            f"{api}.STREAM.MSG.GET.{stream}", f"{api}.DIRECT.GET.{stream}",
            f"{api}.DIRECT.GET.{stream}.>", f"{api}.CONSUMER.*.{stream}", f"{api}.CONSUMER.*.{stream}.>",
            f"{api}.CONSUMER.MSG.NEXT.{stream}.*", f"{api}.CONSUMER.DURABLE.CREATE.{stream}.*",
            f"$JS.ACK.{stream}.>", f"$JS.FC.{stream}.>"]


def _writes(n: Names) -> tuple[str, ...]:
    """What only the ledger publishes (inside its account; in any other account they reach nothing)."""
    return (f"{n.events_prefix}.>", f"{n.pool_prefix}.>", f"{n.audit_prefix}.>", n.stats_subject,
            f"$KV.{n.pool_bucket}.>", f"$KV.{n.relay_bucket}.>")


def srv_subjects(names: Names | None = None) -> tuple[str, ...]:
    """The micro discovery subjects of the ledger's service that authorities may ask."""
    n = names or Names()
    return (f"$SRV.PING.{n.service}", f"$SRV.INFO.{n.service}")


# Who may ask each query of the command service (infra.nats.QUERIES), by principal kind.  The
# pool is what the pool bucket carries, and a head or a consistency proof is hashes only: every
# principal may ask them.  A history and an inclusion proof show the events themselves, which
# only an auditor reads (it alone mirrors the event stream).
QUERY_ASKERS: dict[str, tuple[str, ...]] = {
    "pool": ("authority", "auditor", "reader"),
    "history": ("auditor",),
    "audit.head": ("authority", "auditor", "reader"),
    "audit.prove": ("auditor",),
    "audit.consistency": ("authority", "auditor", "reader"),
}


def query_subjects(names: Names | None = None, kind: str | None = None) -> tuple[str, ...]:
    """The query subjects a principal of ``kind`` may ask (:data:`QUERY_ASKERS`), each in its
    own account; without ``kind``, every one (the ledger answers them all).

    >>> query_subjects(kind="reader")
    ('cultivation.query.pool', 'cultivation.query.audit.head', 'cultivation.query.audit.consistency')
    """
    n = names or Names()
    return tuple(n.query_subject(q) for q in QUERIES if kind is None or kind in QUERY_ASKERS[q])


def permissions_for(p: Principal, book: PolicyBook, names: Names | None = None) -> Permissions:
    """The permissions of one principal inside its own account.

    >>> from infra.policy_files import load_policy_book
    >>> book = load_policy_book()
    >>> city = Principal(name="huludao", kind="authority", authority="211400", password_env="PW")
    >>> perms = permissions_for(city, book)
    >>> [s for s in perms.publish_allow if s.startswith("cultivation.cmd")][:5]
    ['cultivation.cmd.211400.register', 'cultivation.cmd.211400.admit_to_pool', 'cultivation.cmd.211400.remove_from_pool', 'cultivation.cmd.211400.apply', 'cultivation.cmd.211400.object']
    >>> perms.subscribe_allow
    ('_INBOX.huludao.>', 'cultivation.pool.*.210000.211400.>')
    >>> auditor = permissions_for(Principal(name="audit", kind="auditor", password_env="A"), book)
    >>> auditor.subscribe_allow
    ('_INBOX.audit.>', 'cultivation.audit.>', 'cultivation.pool.>', 'cultivation.stats')
    >>> [s for s in auditor.publish_allow if "STREAM.CREATE" in s or "cultivation.cmd" in s]
    []
    >>> [s for s in auditor.publish_allow if s.startswith("cultivation.query")]  # an auditor asks everything
    ['cultivation.query.pool', 'cultivation.query.history', 'cultivation.query.audit.head', 'cultivation.query.audit.prove', 'cultivation.query.audit.consistency']
    >>> [s for s in perms.publish_allow if s.startswith("cultivation.query")]  # an authority: no events
    ['cultivation.query.pool', 'cultivation.query.audit.head', 'cultivation.query.audit.consistency']
    """
    n = names or Names()
    inbox = f"{p.inbox_prefix}.>"
    if p.kind == "authority":
        assert p.authority is not None
        code = p.authority
        return Permissions(
            publish_allow=tuple([n.command_subject(code, c) for c in allowed_commands(code, book)]
                                + list(srv_subjects(n)) + list(query_subjects(n, p.kind))),
            subscribe_allow=(inbox, _pool_subject(code, n)))
    if p.kind in ("auditor", "reader"):
        allow = ["$JS.API.INFO"] + [s for stream in mirrored_streams(p, n) for s in _stream_read(stream)] \
            + list(query_subjects(n, p.kind))
        subscribe = [inbox, f"{n.pool_prefix}.>"]
        if p.kind == "auditor":
            subscribe = [inbox, f"{n.audit_prefix}.>", f"{n.pool_prefix}.>", n.stats_subject]
        return Permissions(publish_allow=tuple(allow), subscribe_allow=tuple(subscribe),
                           allow_responses=True)  # acknowledgements and flow control of their own consumers
    # the ledger service: command endpoints, micro discovery, its streams and buckets (the relay's
    # lease among them), its subjects, and the stream API of each mirror it keeps in a reader's or
    # auditor's account
    own = [s for stream in (n.stream, n.kv_stream, f"KV_{n.relay_bucket}", *share_streams(n).values())
           for s in _stream_own(stream)]
    return Permissions(
        publish_allow=tuple(["$JS.API.INFO", *own, *_writes(n), f"{n.mirror_api}.>"]),
        publish_deny=(f"{n.cmd_prefix}.>",),
        subscribe_allow=(f"{n.cmd_prefix}.>", *query_subjects(n), "$SRV.>", inbox),
        allow_responses=True)  # replies to command, query and $SRV requests


def _pool_subject(code: str, n: Names) -> str:
    """Pool changes inside an authority's region (``<ledger>.pool.<tier>.<prov>.<city>.<county>``)."""
    r = Region(code)
    if r.level == "national":
        return f"{n.pool_prefix}.>"
    if r.level == "provincial":
        return f"{n.pool_prefix}.*.{code}.>"
    if r.level == "municipal":
        return f"{n.pool_prefix}.*.{r.province.code}.{code}.>"
    return f"{n.pool_prefix}.*.{r.province.code}.{r.city.code}.{code}"


class Export(msgspec.Struct, frozen=True, kw_only=True):
    kind: Literal["service", "stream"]
    subject: str
    accounts: tuple[str, ...]
    response_type: str | None = None


class Import(msgspec.Struct, frozen=True, kw_only=True):
    kind: Literal["service", "stream"]
    account: str
    subject: str
    to: str | None = None


class Account(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    jetstream: bool
    exports: tuple[Export, ...] = ()
    imports: tuple[Import, ...] = ()
    max_streams: int = -1  # JetStream limits of a principal's account: its mirrors, and a bounded
    max_consumers: int = -1  # number of consumers of its own


PRINCIPAL_MAX_CONSUMERS = 256


def accounts_for(principals: Principals, book: PolicyBook, names: Names | None = None) -> list[Account]:
    """The accounts: the ledger's, and one per other principal, with what crosses between them.

    >>> from infra.policy_files import load_policy_book
    >>> ps = decode_principals('[[principals]]\\nname = "ledger"\\nkind = "service"\\npassword_env = "L"\\n'
    ...                        '[[principals]]\\nname = "hld"\\nkind = "authority"\\nauthority = "211400"\\n'
    ...                        'password_env = "H"\\n')
    >>> ledger, hld = accounts_for(ps, load_policy_book())
    >>> ledger.name, hld.name, hld.jetstream
    ('LEDGER', 'P-hld', False)
    >>> [i.subject for i in hld.imports][-4:]
    ['cultivation.query.pool', 'cultivation.query.audit.head', 'cultivation.query.audit.consistency', 'cultivation.pool.*.210000.211400.>']
    >>> [e.accounts for e in ledger.exports if e.subject == "cultivation.query.pool"]   # read-only: every principal
    [('P-hld',)]
    """
    n = names or Names()
    service = principals.service
    others = [p for p in principals.principals if p is not service]
    exports: list[Export] = []
    ledger_imports: list[Import] = []
    accounts: list[Account] = []

    def offer(kind: Literal["service", "stream"], subject: str, to: Principal, response_type: str | None = None
              ) -> Import:
        exports.append(Export(kind=kind, subject=subject, accounts=(account_name(to, n),),
                              response_type=response_type))
        return Import(kind=kind, account=n.ledger_account, subject=subject)

    for p in others:
        imports: list[Import] = []
        own_exports: list[Export] = []
        if p.kind == "authority":
            assert p.authority is not None
            imports += [offer("service", n.command_subject(p.authority, c), p)
                        for c in allowed_commands(p.authority, book)]
            imports += [offer("service", s, p, response_type="stream") for s in srv_subjects(n)]
            imports += [offer("service", s, p) for s in query_subjects(n, p.kind)]
            imports.append(offer("stream", _pool_subject(p.authority, n), p))
        else:
            imports += [offer("service", s, p) for s in query_subjects(n, p.kind)]
            subjects = [f"{n.audit_prefix}.>", f"{n.pool_prefix}.>", n.stats_subject] if p.kind == "auditor" \
                else [f"{n.pool_prefix}.>"]
            imports += [offer("stream", s, p) for s in subjects]
            for stream in mirrored_streams(p, n):
                share = share_streams(n)[stream]
                # the mirror's consumer on the share stream (never the ledger's own stream), its flow control
                for subject in (f"$JS.API.CONSUMER.CREATE.{share}", f"$JS.API.CONSUMER.CREATE.{share}.>"):
                    imp = offer("service", subject, p)
                    imports.append(msgspec.structs.replace(imp, to=subject.replace("$JS.API", n.share_api, 1)))
                imports.append(offer("service", f"$JS.FC.{share}.>", p))
                # the ledger keeps the mirror: its stream API (and only that) is exported to the ledger
                for op in ("CREATE", "UPDATE", "INFO"):
                    subject = f"$JS.API.STREAM.{op}.{stream}"
                    own_exports.append(Export(kind="service", subject=subject, accounts=(n.ledger_account,)))
                    ledger_imports.append(Import(kind="service", account=account_name(p, n), subject=subject,
                                                 to=subject.replace("$JS.API", mirror_api(p, n), 1)))
            imports.append(offer("stream", f"{n.deliver_prefix}.{p.name}.>", p))
        streams = len(mirrored_streams(p, n))
        accounts.append(Account(name=account_name(p, n), jetstream=bool(streams), imports=tuple(imports),
                                exports=tuple(own_exports), max_streams=streams,
                                max_consumers=PRINCIPAL_MAX_CONSUMERS if streams else -1))
    merged: dict[tuple[str, str, str | None], list[str]] = {}
    for e in exports:  # one export per subject, naming every account that may import it
        allowed = merged.setdefault((e.kind, e.subject, e.response_type), [])
        allowed += [a for a in e.accounts if a not in allowed]
    ledger = Account(name=n.ledger_account, jetstream=True, imports=tuple(ledger_imports),
                     exports=tuple(Export(kind=k, subject=s, accounts=tuple(a), response_type=r)
                                   for (k, s, r), a in merged.items()))
    return [ledger, *accounts]


async def ensure_mirrors(nc: Any, principals: Principals, names: Names | None = None) -> None:
    """Keep, for each reader and auditor, the mirrors of what it may read in its own account
    (idempotent; run by ``serve --principals`` as the ledger's service user)."""
    from nats.js.api import ExternalStream, StorageType, StreamConfig, StreamSource
    from nats.js.errors import NotFoundError

    n = names or Names()
    js = nc.jetstream()
    for stream, share in share_streams(n).items():
        try:
            await js.stream_info(share)
        except NotFoundError:
            await js.add_stream(StreamConfig(name=share, mirror=StreamSource(name=stream), storage=StorageType.FILE,
                                             description=f"{stream} as the ledger shares it with other accounts"))
    for p in principals.principals:
        if not mirrored_streams(p, n):
            continue
        theirs = nc.jetstream(prefix=mirror_api(p, n))
        for stream in mirrored_streams(p, n):
            try:
                await theirs.stream_info(stream)
                continue
            except NotFoundError:
                pass
            source = StreamSource(name=share_streams(n)[stream], external=ExternalStream(
                api=n.share_api, deliver=f"{n.deliver_prefix}.{p.name}"))
            kv = stream == n.kv_stream
            await theirs.add_stream(StreamConfig(
                name=stream, mirror=source, storage=StorageType.FILE, allow_direct=True,
                max_msgs_per_subject=1 if kv else -1,
                description=f"a read-only mirror of the ledger's {stream} for {p.name}"))


# ---------------------------------------------------------------------------- rendering
def _list(subjects: Iterable[str], indent: str) -> str:
    items = list(subjects)
    if not items:
        return "[]"
    inner = "".join(f"{indent}  {json.dumps(s)}\n" for s in items)
    return f"[\n{inner}{indent}]"


def _user(p: Principal, book: PolicyBook, ind: str, n: Names) -> list[str]:
    perms = permissions_for(p, book, n)
    acting = "".join(f"; {lv} in {pid}" for pid, lv in acting_levels(p.authority, book).items()) if p.authority else ""
    what = p.kind if p.kind != "authority" else f"authority {p.authority} ({p.level}{acting})"
    out = [f"{ind}# {p.name}: {what}{' — ' + p.description if p.description else ''}", f"{ind}{{"]
    if p.nkey:
        out.append(f"{ind}  nkey: {json.dumps(p.nkey)}")
    else:
        out.append(f"{ind}  user: {json.dumps(p.name)}")
        out.append(f"{ind}  password: ${p.password_var}")
    out.append(f"{ind}  permissions: {{")
    i2 = ind + "    "
    out.append(f"{i2}publish: {{")
    out.append(f"{i2}  allow: {_list(perms.publish_allow, i2 + '  ')}")
    if perms.publish_deny:
        out.append(f"{i2}  deny: {_list(perms.publish_deny, i2 + '  ')}")
    out.append(f"{i2}}}")
    out.append(f"{i2}subscribe: {{")
    out.append(f"{i2}  allow: {_list(perms.subscribe_allow, i2 + '  ')}")
    if perms.subscribe_deny:
        out.append(f"{i2}  deny: {_list(perms.subscribe_deny, i2 + '  ')}")
    out.append(f"{i2}}}")
    if perms.allow_responses:
        out.append(f"{i2}allow_responses: true")
    out.append(f"{ind}  }}")
    out.append(f"{ind}}}")
    return out


def render_config(principals: Principals, book: PolicyBook, source: str = "", names: Names | None = None) -> str:
    """The nats-server ``accounts`` block for ``principals``; no secret in it.

    >>> from infra.policy_files import load_policy_book
    >>> ps = decode_principals('[[principals]]\\nname = "ledger"\\nkind = "service"\\npassword_env = "LEDGER_PW"\\n'
    ...                        '[[principals]]\\nname = "bank"\\nkind = "reader"\\n'
    ...                        'nkey = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4"\\n')
    >>> conf = render_config(ps, load_policy_book())
    >>> "password: $LEDGER_PW" in conf, 'nkey: "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4"' in conf
    (True, True)
    >>> '"P-bank": {' in conf and "LEDGER: {" in conf
    True
    """
    n = names or Names()
    variables = [p.password_var for p in principals.principals if p.password_var]
    by_account = {account_name(p, n): p for p in principals.principals}
    out = [f"# nats-server accounts for the cultivation ledger {n.ledger!r}, generated by `cultivation permissions`"
           + (f" from {source}" if source else "") + ".",
           "# Regenerate it when the principals or the policy change; do not edit by hand.",
           "# Passwords are variables of the nats-server process's environment, never written here:",
           f"#   {', '.join(variables) or '(none: nkeys only)'}",
           "# The ledger's account holds the stream, the bucket and its consumers; every other principal has an",
           "# account of its own that sees only what the ledger exports to it (readers and auditors read mirrors",
           "# the ledger keeps in their account). Clients connect with inbox_prefix \"_INBOX.<name>\".",
           "accounts {"]
    for account in accounts_for(principals, book, n):
        out.append(f"  {json.dumps(account.name) if '-' in account.name else account.name}: {{")
        if account.jetstream:
            if account.max_streams >= 0:
                out.append(f"    jetstream: {{max_mem: -1, max_file: -1, max_streams: {account.max_streams}, "
                           f"max_consumers: {account.max_consumers}}}")
            else:
                out.append("    jetstream: enabled")
        out.append("    users: [")
        out += _user(by_account[account.name], book, "      ", n)
        out.append("    ]")
        for label, items in (("exports", account.exports), ("imports", account.imports)):
            if not items:
                continue
            out.append(f"    {label}: [")
            for x in items:
                if isinstance(x, Export):
                    extra = f", response_type: {x.response_type}" if x.response_type else ""
                    accounts = ", ".join(json.dumps(a) for a in x.accounts)
                    out.append(f"      {{{x.kind}: {json.dumps(x.subject)}, accounts: [{accounts}]{extra}}}")
                else:
                    to = f", to: {json.dumps(x.to)}" if x.to else ""
                    out.append(f"      {{{x.kind}: {{account: {json.dumps(x.account)}, "
                               f"subject: {json.dumps(x.subject)}}}{to}}}")
            out.append("    ]")
        out.append("  }")
    out += ["}", ""]
    return "\n".join(out)


def describe(principals: Principals, book: PolicyBook, names: Names | None = None) -> list[dict[str, Any]]:
    """Per principal: kind, authority, level, the commands it may publish and why (for ``--json``)."""
    rows = []
    for p in principals.principals:
        row: dict[str, Any] = {"name": p.name, "kind": p.kind, "authority": p.authority, "level": p.level,
                               "inbox_prefix": p.inbox_prefix}
        if p.authority:  # the level it acts at where a programme says otherwise (a 计划单列市)
            row["acts_at"] = acting_levels(p.authority, book)
        row["commands"] = {c: list(r) for c, r in grants(p.authority, book).items()} if p.authority else {}
        perms = permissions_for(p, book, names)
        row["permissions"] = msgspec.structs.asdict(perms)
        rows.append(row)
    return rows
