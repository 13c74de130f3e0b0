"""Fixtures for the property tests: reference servers on loopback, and one that counts what reaches it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from relaycheck.server import running
from relaycheck.server.config import ServerConfig
from relaycheck.server.running import serve_in_thread


@dataclass
class Counter:
    """Requests that reached the server's ASGI app (counted before the app sees them)."""

    http: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wrap(self, app):  # noqa: ANN001, ANN202 - an ASGI app in, an ASGI app out
        async def counting(scope, receive, send):  # noqa: ANN001
            if scope["type"] == "http":
                with self._lock:
                    self.http += 1
            await app(scope, receive, send)

        return counting


@pytest.fixture
def counted_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[running.RunningServer, Counter]]:
    counter = Counter()
    original = running.create_app
    monkeypatch.setattr(running, "create_app", lambda config: counter.wrap(original(config)))
    with serve_in_thread(ServerConfig()) as server:
        yield server, counter
