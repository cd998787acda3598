"""CurveZMQ on the live bridge: listed keys only, each with its role; real sockets on
127.0.0.1, every wait bounded."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zmq
from lines import invoke
from live import DEADLINE, LOOPBACK, Served

from bridges.client import TwinClient
from bridges.keys import CurveKeys, client_keys, secure_client
from bridges.server import Settings
from scenarios.experiment import run_replication
from scenarios.schema import Scenario

LINE = """\
name: guarded
seed: 3
horizon: 2h
arrivals:
  interarrival: {dist: exponential, mean: 60s}
stations:
  - id: M1
    process_time: {dist: exponential, mean: 45s}
  - id: M2
    process_time: {dist: exponential, mean: 40s}
"""


@pytest.fixture
def keydir(tmp_path: Path) -> Path:
    """A key directory made by the commands: a server and one client per role."""
    keys = tmp_path / "keys"
    assert invoke("keys", "init", str(keys)).exit_code == 0
    for name, role in (("vic", "viewer"), ("ada", "agent"), ("tom", "trainer")):
        result = invoke("keys", "add", str(keys), name, "--role", role)
        assert result.exit_code == 0, result.output
    return keys


def keys_of(keydir: Path, name: str) -> CurveKeys:
    return client_keys(keydir / "clients" / f"{name}.key_secret", keydir / "server.key")


def test_the_commands_write_zeromq_certificates(keydir: Path) -> None:
    """Certificates in ZeroMQ's format (zmq.auth reads them), secrets readable by the owner
    only, the role in the metadata; a second init or a duplicate name is refused."""
    public, secret = zmq.auth.load_certificate(keydir / "clients" / "ada.key_secret")
    assert secret is not None and len(public) == 40
    assert zmq.auth.load_certificate(keydir / "clients" / "ada.key") == (public, None)
    assert 'role = "agent"' in (keydir / "clients" / "ada.key").read_text(encoding="utf-8")
    assert (keydir / "server.key_secret").stat().st_mode & 0o077 == 0
    assert (keydir / "clients" / "tom.key_secret").stat().st_mode & 0o077 == 0
    again = invoke("keys", "init", str(keydir))
    assert again.exit_code == 2 and "exists already" in again.output
    twice = invoke("keys", "add", str(keydir), "ada", "--role", "viewer")
    assert twice.exit_code == 2 and "exists already" in twice.output
    bad = invoke("keys", "add", str(keydir), "eve", "--role", "admin")
    assert bad.exit_code == 2 and "role 'admin': one of viewer, agent, trainer" in bad.output


def stranger(ctx: zmq.Context[Any], served: Served, server_key: Path) -> tuple[Any, Any]:
    """A SUB and a DEALER with a fresh key pair the server does not list."""
    public, secret = zmq.curve_keypair()
    server_public, _ = zmq.auth.load_certificate(server_key)
    keys = CurveKeys(public, secret, server_public)
    sub, dealer = ctx.socket(zmq.SUB), ctx.socket(zmq.DEALER)
    for socket in (sub, dealer):
        secure_client(socket, keys)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(served.pub)
    dealer.connect(served.ctl)
    return sub, dealer


def test_only_listed_keys_get_in_each_with_its_role(
    keydir: Path, scenario: Callable[[str], Scenario]
) -> None:
    """An unknown key and a client without keys receive nothing and are not answered; a
    viewer's command is refused, an agent may hold but not fail, a trainer may fail; the
    run's results are those of the commands it applied."""
    model = scenario(LINE)
    settings = Settings(pub=LOOPBACK, ctl=LOOPBACK, wait=3, speed=3600.0, curve=keydir)
    served = Served(model, settings)
    ctx: zmq.Context[Any] = zmq.Context()
    try:
        sub, dealer = stranger(ctx, served, keydir / "server.key")
        plain = ctx.socket(zmq.SUB)  # no keys at all
        plain.setsockopt(zmq.SUBSCRIBE, b"")
        plain.connect(served.pub)
        dealer.send(json.dumps({"type": "snapshot"}).encode())
        with (
            TwinClient(served.pub, served.ctl, curve=keys_of(keydir, "vic")) as viewer,
            TwinClient(served.pub, served.ctl, curve=keys_of(keydir, "ada")) as agent,
            TwinClient(served.pub, served.ctl, curve=keys_of(keydir, "tom")) as trainer,
        ):
            for client in (viewer, agent, trainer):
                client.sync()  # three listed subscribers: the clock starts
            replies = {
                "viewer holds": viewer.command("hold", "M2"),
                "agent fails": agent.command("fail", "M1.0"),
                "agent holds": agent.command("hold", "M2"),
                "trainer fails": trainer.command("fail", "M1.0", repair=60),
            }
            end = time.monotonic() + DEADLINE
            while not all(f.done() for f in replies.values()) and time.monotonic() < end:
                for client in (viewer, agent, trainer):
                    client.poll(0.02)
            answers = {k: f.result(0) for k, f in replies.items()}
            with pytest.raises(Exception, match="viewer may not register"):
                viewer.register("peeker")
            while not trainer.ended and time.monotonic() < end:
                trainer.poll(0.1)
        assert not sub.poll(0) and not plain.poll(0), "an unlisted client received messages"
        assert not dealer.poll(0), "an unlisted client was answered"
    finally:
        ctx.destroy(linger=0)
    kpis = served.join()
    assert answers["viewer holds"]["code"] == "forbidden"
    assert answers["agent fails"]["code"] == "forbidden"
    assert answers["agent holds"]["ok"] is True
    assert answers["trainer fails"]["ok"] is True
    assert served.server is not None and served.server.gate is not None
    assert served.server.gate.denied >= 2  # the stranger's two sockets
    assert sorted(c["action"] for c in served.server.applied) == ["fail", "hold"]
    assert kpis != run_replication(model, 0)


def test_serving_with_a_bad_key_directory_is_a_clear_error(tmp_path: Path) -> None:
    """No server key, or a client certificate without a role: exit 2 naming the file."""
    missing = invoke("serve", "mm1", "--curve", str(tmp_path / "nowhere"))
    assert missing.exit_code == 2
    assert "option --curve: cannot read the certificate" in missing.output
    keys = tmp_path / "keys"
    invoke("keys", "init", str(keys))
    invoke("keys", "add", str(keys), "ada", "--role", "agent")
    cert = keys / "clients" / "ada.key"
    cert.write_text(cert.read_text(encoding="utf-8").replace("agent", "boss"), encoding="utf-8")
    bad = invoke("serve", "mm1", "--curve", str(keys))
    assert bad.exit_code == 2
    assert "ada.key: the metadata must give a role" in bad.output


def test_a_client_needs_both_key_options() -> None:
    result = invoke("watch", "--key", "a.key_secret")
    assert result.exit_code == 2
    assert "options --key and --server-key: give both" in result.output
