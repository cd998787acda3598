"""A live server in a thread, for tests on real sockets (127.0.0.1, ports chosen by the
system); every wait is bounded."""

from __future__ import annotations

import threading
from typing import Any

from bridges.server import Server, Settings
from scenarios.schema import Scenario

LOOPBACK = "tcp://127.0.0.1:*"
DEADLINE = 60.0  # seconds: no test waits longer than this for a server


class Served:
    """A server running in its own thread; its addresses, and its KPIs once it ends."""

    def __init__(self, scenario: Scenario, settings: Settings) -> None:
        self.ready = threading.Event()
        self.kpis: dict[str, Any] | None = None
        self.error: BaseException | None = None
        self.server: Server | None = None
        self.thread = threading.Thread(target=self._run, args=(scenario, settings), daemon=True)
        self.thread.start()
        assert self.ready.wait(DEADLINE), "the server did not start"

    def _run(self, scenario: Scenario, settings: Settings) -> None:
        try:
            self.server = Server(scenario, settings)
            self.ready.set()
            self.kpis = self.server.run()
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.error = exc
            self.ready.set()

    @property
    def pub(self) -> str:
        assert self.server is not None, self.error
        return self.server.pub_address

    @property
    def ctl(self) -> str:
        assert self.server is not None, self.error
        return self.server.ctl_address

    def join(self) -> dict[str, Any]:
        self.thread.join(DEADLINE)
        assert not self.thread.is_alive(), "the server did not finish"
        assert self.error is None, self.error
        assert self.kpis is not None
        return self.kpis
