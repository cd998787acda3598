"""CurveZMQ keys for the live bridge: the server's certificate, one certificate per client
with its role, and the gatekeeper that lets only listed clients in.

A key directory holds ``server.key`` / ``server.key_secret`` and ``clients/NAME.key`` /
``clients/NAME.key_secret``, in ZeroMQ's own certificate format (what ``zmq.auth`` and
czmq's ``zcert`` read and write), so any ZeroMQ client can use them. A client certificate's
``metadata`` section carries its ``role`` (viewer, agent or trainer). The server reads the
public certificates under ``clients/`` when it starts: that is its allow-list. A client
whose key is not on it fails the CURVE handshake, so it receives nothing and is heard by no
one; the server hands every message of a listed client on with the client's name as its
ZeroMQ ``User-Id``, and the name gives the role.
"""

from __future__ import annotations

import datetime
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils import z85

from scenarios.commands import Role
from twin.errors import UsageError

ROLES: tuple[str, ...] = get_args(Role)
SERVER = "server"
CLIENTS = "clients"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_ROLE_LINE = re.compile(r'^\s+role\s*=\s*"?([A-Za-z]*)"?\s*$', re.M)
_BANNER = """\
#   ****  Generated on {now} by shopfloor-twin  ****
#   ZeroMQ CURVE {kind} Certificate
#   {advice}

"""


@dataclass(frozen=True)
class Client:
    """A listed client: its name, its public key (Z85) and its role."""

    name: str
    public: bytes
    role: Role


@dataclass(frozen=True)
class CurveKeys:
    """What a client needs to connect: its own key pair and the server's public key."""

    public: bytes
    secret: bytes
    server: bytes


def init_keys(keydir: Path) -> Path:
    """Write the server's certificate into a new key directory; the public one's path."""
    server = keydir / f"{SERVER}.key"
    if server.exists():
        raise UsageError(f"{server} exists already: keep it, or use another directory")
    try:
        keydir.mkdir(mode=0o700, parents=True, exist_ok=True)
        (keydir / CLIENTS).mkdir(mode=0o700, exist_ok=True)
        public = _create(keydir, SERVER, {})
    except OSError as exc:
        raise UsageError(f"cannot write keys in {keydir}: {exc.strerror or exc}") from None
    return public


def add_client(keydir: Path, name: str, role: str) -> Path:
    """Write a client's certificate with its role; the secret one's path (give it to the
    client, with the server's public certificate)."""
    if not _NAME.fullmatch(name):
        raise UsageError(
            f"client name {name!r}: 1 to 64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    if role not in ROLES:
        raise UsageError(f"role {role!r}: one of {', '.join(ROLES)}")
    if not (keydir / f"{SERVER}.key").is_file():
        raise UsageError(f"{keydir} holds no server key: run `twin keys init {keydir}` first")
    clients = keydir / CLIENTS
    if (clients / f"{name}.key").exists():
        raise UsageError(f"client {name!r} exists already in {clients}")
    try:
        clients.mkdir(mode=0o700, exist_ok=True)
        public = _create(clients, name, {"role": role})
    except OSError as exc:
        raise UsageError(f"cannot write keys in {clients}: {exc.strerror or exc}") from None
    return public.with_name(public.name + "_secret")


def _create(folder: Path, name: str, metadata: dict[str, str]) -> Path:
    """A new key pair as two certificates in ZeroMQ's format (as czmq's zcert writes them,
    with the metadata in both): ``NAME.key`` and ``NAME.key_secret`` (mode 0600); the
    public one's path."""
    public, secret = zmq.curve_keypair()
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    meta = "".join(f'    {k} = "{v}"\n' for k, v in metadata.items())
    keys = f'    public-key = "{public.decode()}"\n'
    heads = {
        "key": ("Public", "Exchange securely, or verify its contents after the exchange."),
        "key_secret": ("**Secret**", "DO NOT PROVIDE THIS FILE TO OTHER USERS."),
    }
    for suffix, (kind, advice) in heads.items():
        text = _BANNER.format(now=now, kind=kind, advice=advice) + f"metadata\n{meta}curve\n"
        text += keys if suffix == "key" else keys + f'    secret-key = "{secret.decode()}"\n'
        mode = 0o644 if suffix == "key" else 0o600
        fd = os.open(folder / f"{name}.{suffix}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
    return folder / f"{name}.key"


def server_keys(keydir: Path) -> tuple[bytes, bytes]:
    """The server's public and secret keys, from ``KEYDIR/server.key_secret``."""
    public, secret = _load(keydir / f"{SERVER}.key_secret", "--curve")
    if secret is None:
        raise UsageError(f"option --curve: {keydir / SERVER}.key_secret holds no secret key")
    return public, secret


def clients(keydir: Path) -> dict[bytes, Client]:
    """The allow-list: every ``clients/NAME.key``, by public key."""
    folder = keydir / CLIENTS
    listed: dict[bytes, Client] = {}
    for path in sorted(folder.glob("*.key")) if folder.is_dir() else []:
        public, _ = _load(path, "--curve")
        match = _ROLE_LINE.search(path.read_text(encoding="utf-8", errors="replace"))
        role = match.group(1) if match else ""
        if role not in ROLES:
            raise UsageError(
                f"option --curve: {path}: the metadata must give a role, one of "
                f"{', '.join(ROLES)} (`twin keys add` writes it)"
            )
        listed[public] = Client(path.stem, public, role)  # type: ignore[arg-type]
    return listed


def client_keys(key: Path, server: Path) -> CurveKeys:
    """A client's keys: its secret certificate and the server's public one."""
    public, secret = _load(key, "--key")
    if secret is None:
        raise UsageError(f"option --key: {key} holds no secret key (give NAME.key_secret)")
    server_public, _ = _load(server, "--server-key")
    return CurveKeys(public, secret, server_public)


def _load(path: Path, option: str) -> tuple[bytes, bytes | None]:
    try:
        public, secret = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise UsageError(f"option {option}: cannot read the certificate {path}: {exc}") from None
    if public is None or len(public) != 40:
        raise UsageError(f"option {option}: {path} holds no public key")
    return public, secret


def secure_server(socket: zmq.Socket[Any], public: bytes, secret: bytes) -> None:
    """Make ``socket`` (before it binds) a CURVE server with these keys."""
    socket.curve_secretkey = secret
    socket.curve_publickey = public
    socket.curve_server = True


def secure_client(socket: zmq.Socket[Any], keys: CurveKeys) -> None:
    """Make ``socket`` (before it connects) a CURVE client of the server ``keys.server``."""
    socket.curve_secretkey = keys.secret
    socket.curve_publickey = keys.public
    socket.curve_serverkey = keys.server


class Gatekeeper(ThreadAuthenticator):
    """The ZAP handler: admits the listed keys only, naming each connection by its client.

    Without a ZAP handler, a CURVE server accepts every key; this one must run for as long
    as the server's sockets do."""

    def __init__(self, context: zmq.Context[Any], listed: dict[bytes, Client]) -> None:
        super().__init__(context)
        self.listed = listed
        self.denied = 0

    def start(self) -> None:
        super().start()
        self.configure_curve_callback("*", credentials_provider=self)

    def callback(self, domain: str, key: bytes) -> bool:
        """Called with each connecting client's public key (Z85)."""
        allowed = key in self.listed
        self.denied += not allowed
        return allowed

    def curve_user_id(self, client_public_key: bytes) -> str:
        return self.listed[z85.encode(client_public_key)].name
