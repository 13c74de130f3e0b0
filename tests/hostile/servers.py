"""A corpus of hostile and broken "providers": raw asyncio TCP servers that misbehave below HTTP.

Each server runs its own event loop on a background thread, listens on a 127.x loopback address (port 0, so the
kernel picks a free one) and records every request it parsed (method, path, headers, body), so tests can count
what reached it and check which headers it saw. Subclasses override :meth:`HostileServer.respond`; the base class
handles the plumbing (reading one request with bounds, never raising on a client that went away, cancelling
handlers that hang forever on ``stop``).

Use as a context manager::

    with HangBeforeHeaders() as server:
        server.base_url  # http://127.0.0.1:PORT/v1
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

MAX_REQUEST_BYTES = 1 << 20


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def asked(self) -> dict[str, Any]:
        """The request body as the JSON object a client sent, or {} when it is not one."""
        try:
            body = json.loads(self.body)
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}


@dataclass
class HostileServer:
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[SeenRequest] = field(default_factory=list)
    connections: int = 0

    def __post_init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._error: BaseException | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def seen(self) -> list[SeenRequest]:
        with self._lock:
            return list(self.requests)

    def start(self) -> HostileServer:
        self._thread = threading.Thread(target=self._run, name=f"hostile:{type(self).__name__}", daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or self._error is not None:
            raise RuntimeError(f"{type(self).__name__} did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._server = loop.run_until_complete(asyncio.start_server(self._accept, self.host, self.port))
            self.port = self._server.sockets[0].getsockname()[1]
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- per connection ----------------------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        with self._lock:
            self.connections += 1
        try:
            await self.on_connect(reader, writer)
        except (ConnectionError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass  # the client gave up: that is what a hostile server expects
        except asyncio.CancelledError:
            pass  # stop(): a handler hanging forever is cancelled
        finally:
            self._tasks.discard(task)  # type: ignore[arg-type]
            writer.transport.abort()

    async def on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await read_request(reader)
        if request is None:
            return
        with self._lock:
            self.requests.append(request)
        await self.respond(request, writer)

    async def respond(self, request: SeenRequest, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


async def read_request(reader: asyncio.StreamReader) -> SeenRequest | None:
    """One HTTP/1.1 request with a Content-Length body (what httpx sends); None if the client sent nothing."""
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    except (asyncio.IncompleteReadError, TimeoutError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, *_ = (lines[0].split(" ") + ["", ""])[:3]
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    length = min(int(headers.get("content-length", "0") or 0), MAX_REQUEST_BYTES)
    body = await reader.readexactly(length) if length else b""
    return SeenRequest(method, path, headers, body)


def head(status: str, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunk_json(text: str, index: int = 0) -> dict[str, object]:
    return {
        "id": "cmpl-hostile",
        "object": "text_completion",
        "created": int(time.time()),
        "model": "gpt-3.5-turbo-instruct",
        "choices": [{"text": text, "index": index, "logprobs": None, "finish_reason": None}],
    }


def sse_event(text: str) -> bytes:
    return b"data: " + json.dumps(chunk_json(text)).encode() + b"\n\n"


SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "Connection": "close"}


async def hang_forever() -> None:
    await asyncio.sleep(3600)  # cancelled by stop()


# -- the corpus -------------------------------------------------------------------------------------------------


class HangBeforeHeaders(HostileServer):
    """Reads the request, then never answers."""

    async def respond(self, request: SeenRequest, writer: asyncio.StreamWriter) -> None:
        await hang_forever()


class HangMidStream(HostileServer):
    """Headers and three SSE chunks, then silence (the connection stays open)."""

    async def respond(self, request: SeenRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(head("200 OK", SSE_HEADERS))
        for word in ("Hello", " there", ","):
            writer.write(sse_event(word))
            await writer.drain()
        await hang_forever()


class EndlessStream(HostileServer):
    """SSE chunks forever, as fast as the client reads, never a ``[DONE]``."""

    async def respond(self, request: SeenRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(head("200 OK", SSE_HEADERS))
        event = sse_event(" and on")
        while True:
            writer.write(event * 16)
            await writer.drain()


class SlowDrip(HostileServer):
    """Headers, then one byte every 0.5 s forever: never idle long enough for a read timeout."""

    interval: float = 0.5

    async def respond(self, request: SeenRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(head("200 OK", {"Content-Type": "application/json", "Content-Length": "1000000"}))
        while True:
            writer.write(b" ")
            await writer.drain()
            await asyncio.sleep(self.interval)


class SlowSuccess(HostileServer):
    """A valid completion, dripped so that each response completes just inside the total timeout.

    No bound on a single exchange is broken, and the breaker never trips (every answer is a success), so only the
    per-provider run deadline keeps a run against this server short.
    """

    seconds: float = 3.0

    async def respond(self, request: SeenRequest, writer: asyncio.StreamWriter) -> None:
        body = json.dumps(chunk_json("slow") | {"usage": {"prompt_tokens": 1, "completion_tokens": 1,
                                                           "total_tokens": 2}}).encode()
        writer.write(head("200 OK", {"Content-Type": "application/json", "Content-Length": str(len(body)),
                                     "Connection": "close"}))
        steps = 6
        for i in range(steps):
            writer.write(body[i * len(body) // steps:(i + 1) * len(body) // steps])
            await writer.drain()
            await asyncio.sleep(self.seconds / steps)


class HugeBody(HostileServer):
    """Declares and streams a 100 MB JSON-looking body, generated lazily in 64 KiB pieces."""

    size: int = 100 * 1024 * 1024

    async def respond(self, request: SeenRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(head("200 OK", {"Content-Type": "application/json", "Content-Length": str(self.size),
                                     "Connection": "close"}))
        piece = b"x" * 65536
        sent = 0
        writer.write(b'{"text": "')
        while sent < self.size:
            writer.write(piece)
            sent += len(piece)
            await writer.drain()


class InvalidUtf8(HostileServer):
    """JSON-ish bytes with 0xff in them, echoing the key it was sent (as some providers' 401 messages do)."""

    async def respond(self, request: SeenRequest, writer: asyncio.StreamWriter) -> None:
        key = request.headers.get("authorization", "").removeprefix("Bearer ").encode("latin-1")
        body = (b'{"error": {"message": "Incorrect API key provided: ' + key + b' \xff\xfe", "type": '
                b'"invalid_request_error"}, "choices": [{"text": "\xff\xc3\x28"}]}')
        writer.write(head("200 OK", {"Content-Type": "application/json", "Content-Length": str(len(body)),
                                     "Connection": "close"}) + body)
        await writer.drain()


NGINX_502 = b"""<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>nginx/1.24.0</center>
</body>
</html>
"""


class Html502(HostileServer):
    """What an nginx in front of a dead upstream answers."""

    async def respond(self, request: SeenRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(head("502 Bad Gateway", {"Server": "nginx/1.24.0", "Content-Type": "text/html",
                                              "Content-Length": str(len(NGINX_502)), "Connection": "close"}))
        writer.write(NGINX_502)
        await writer.drain()


class ConnectionReset(HostileServer):
    """Reads the request, then resets the connection (SO_LINGER 0 and close: an RST, not a FIN)."""

    async def respond(self, request: SeenRequest, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()


class WrongContentLength(HostileServer):
    """Declares 1000 bytes, sends 40, closes."""

    async def respond(self, request: SeenRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(head("200 OK", {"Content-Type": "application/json", "Content-Length": "1000"}))
        writer.write(b'{"id": "cmpl-1", "object": "text_compl')
        await writer.drain()
        writer.close()


class GarbageHeaders(HostileServer):
    """A status line and header bytes no HTTP parser accepts."""

    async def respond(self, request: SeenRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 2OO OK\r\nContent-Type: application/json\x00\xff\r\nX-\x01: \x7f\r\n\r\n{}")
        await writer.drain()
        writer.close()


@dataclass
class TooManyRequests(HostileServer):
    """429 to everything, with the given Retry-After (None: no header)."""

    retry_after: str | None = None

    async def respond(self, request: SeenRequest, writer: asyncio.StreamWriter) -> None:
        body = json.dumps({"error": {"message": "Rate limit reached for requests", "type": "requests",
                                     "param": None, "code": "rate_limit_exceeded"}}).encode()
        headers = {"Content-Type": "application/json", "Content-Length": str(len(body)), "Connection": "close"}
        if self.retry_after is not None:
            headers["Retry-After"] = self.retry_after
        writer.write(head("429 Too Many Requests", headers) + body)
        await writer.drain()


class Recording(HostileServer):
    """Answers every request with an empty JSON object; only there to record what reached it."""

    async def respond(self, request: SeenRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(head("200 OK", {"Content-Type": "application/json", "Content-Length": "2",
                                     "Connection": "close"}) + b"{}")
        await writer.drain()


@dataclass
class Redirect(HostileServer):
    """307 to the same path on another loopback host (``target``: e.g. a :class:`Recording` on 127.0.0.2)."""

    target: str = ""

    async def respond(self, request: SeenRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(head("307 Temporary Redirect", {"Location": f"{self.target.removesuffix('/v1')}{request.path}",
                                                     "Content-Length": "0", "Connection": "close"}))
        await writer.drain()


def gzip_bomb(decoded_size: int = 64 * 1024 * 1024) -> bytes:
    """``decoded_size`` spaces, gzip-compressed (about 1000:1), built in slices so it is never held whole.

    Spaces rather than NULs: a NUL is stored as ``\\u0000`` in a JSON report, six bytes for one.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    blanks = b" " * (1 << 20)
    parts = [compressor.compress(blanks) for _ in range(decoded_size // len(blanks))]
    parts.append(compressor.flush())
    return b"".join(parts)


@dataclass
class GzipBomb(HostileServer):
    """A small gzip body that decodes to tens of MB, sent whatever Accept-Encoding said."""

    decoded_size: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        super().__post_init__()
        self._bomb = gzip_bomb(self.decoded_size)

    async def respond(self, request: SeenRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(head("200 OK", {"Content-Type": "application/json", "Content-Encoding": "gzip",
                                     "Content-Length": str(len(self._bomb)), "Connection": "close"}))
        writer.write(self._bomb)
        await writer.drain()


class PlainForTls(HostileServer):
    """A plain-HTTP listener: whatever arrives (a TLS ClientHello), it answers ``400`` in clear text and closes."""

    async def on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.wait_for(reader.read(4096), 10)
        writer.write(head("400 Bad Request", {"Content-Type": "text/plain", "Content-Length": "0",
                                              "Connection": "close"}))
        await writer.drain()

    @property
    def tls_url(self) -> str:
        return f"https://{self.host}:{self.port}/v1"


def closed_port(host: str = "127.0.0.1") -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


# Each hostile server by name, with what a certification of it must say (see test_hostile.py).
CORPUS: dict[str, type[HostileServer]] = {
    "hang-before-headers": HangBeforeHeaders,
    "hang-mid-stream": HangMidStream,
    "endless-stream": EndlessStream,
    "slow-drip": SlowDrip,
    "huge-body": HugeBody,
    "invalid-utf8": InvalidUtf8,
    "html-502": Html502,
    "connection-reset": ConnectionReset,
    "wrong-content-length": WrongContentLength,
    "garbage-headers": GarbageHeaders,
    "gzip-bomb": GzipBomb,
}
