"""Run the reference server in a background thread (tests, the embedded provider, demos)."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn

from relaycheck.server.app import create_app
from relaycheck.server.config import ServerConfig

STARTUP_TIMEOUT_S = 10.0


class RunningServer:
    """A uvicorn server on its own thread. Use as a context manager; ``base_url`` ends in ``/v1``."""

    def __init__(self, config: ServerConfig, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config
        # Bind here, so the port is known (port 0 = a free one) before uvicorn starts.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # proto IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets that say TCP, and
        # without it Nagle's algorithm and delayed ACKs add ~40 ms to every response.
        self._socket = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.host = host
        self.port: int = self._socket.getsockname()[1]
        shown = f"[{host}]" if family == socket.AF_INET6 else host
        self.base_url = f"http://{shown}:{self.port}/v1"
        uv_config = uvicorn.Config(
            create_app(config),
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=2,
            access_log=False,
        )
        self._server = uvicorn.Server(uv_config)
        self._thread = threading.Thread(
            target=self._run, name=f"relaycheck-reference:{self.port}", daemon=True
        )

    def _run(self) -> None:
        self._server.run(sockets=[self._socket])

    def start(self) -> RunningServer:
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the reference server did not start on {self.base_url}")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=STARTUP_TIMEOUT_S)
        self._socket.close()

    def __enter__(self) -> RunningServer:
        return self.start() if not self._thread.is_alive() else self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve_in_thread(config: ServerConfig, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Start the reference server and return it running; stop it with ``stop()`` or a ``with`` block."""
    return RunningServer(config, host, port).start()
