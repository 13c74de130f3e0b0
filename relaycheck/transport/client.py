"""Sending one request to a provider and recording what came back, within every bound the user set.

Whatever the provider does (stall, flood, reset, redirect, answer HTML), :meth:`ProviderClient.send` returns an
:class:`Exchange`; it never raises for the provider's behaviour. The bounds:

- connect / read timeouts from httpx, and a total deadline per exchange from ``asyncio.timeout``;
- a cap on body bytes and on SSE events: past it the body is cut and the exchange marked ``truncated``;
- the budget: a request that does not fit is not sent (``not_sent``), whatever asked for it; a stream that
  delivers more completion tokens than its reservation is cut there (a provider ignoring max_tokens must not
  spend the budget of the requests still queued); every exchange is settled from what arrived;
- redirects are never followed, so the key only ever goes to the configured base URL;
- after a few consecutive transport failures (timeouts, resets, broken bodies, also once headers came) the
  provider is considered down and the remaining requests are not sent, so a dead provider costs a few timeouts
  rather than one per probe; the check is made once a request holds its concurrency slot, so requests queued
  behind the first failing wave are not sent either;
- retry waits are capped per request (``MAX_RETRY_AFTER``) and in total per client (``MAX_RETRY_WAIT_TOTAL``);
- a run deadline (``timeouts.run``, from the moment the client is entered): past it no request starts, and one
  in flight is cut. This is what bounds a provider that answers every request successfully but slowly, which no
  breaker can tell from a healthy one;
- the body is decoded here, with a bound on the *decoded* size, so a gzip bomb cannot allocate more than
  ``max_body_bytes``.
"""

from __future__ import annotations

import asyncio
import json
import time
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from relaycheck.config.providers import HeaderValue, Limits, Provider, Timeouts
from relaycheck.endpoint import Endpoint
from relaycheck.transport import safejson
from relaycheck.transport.budget import Budget, Reservation, delivered_tokens
from relaycheck.transport.exchange import DONE, Exchange, RecordedRequest, Timing
from relaycheck.transport.redact import Redactor
from relaycheck.transport.sse import SSEParser

Auth = Literal["valid", "missing", "wrong"]
Method = Literal["POST", "GET"]
COMPLETIONS = "completions"  # the endpoint relaycheck certifies, under the base URL
WRONG_KEY = "sk-relaycheck-wrong-key-0000000000"
MAX_RETRY_AFTER = 20.0  # seconds; a provider asking for longer gets a graded 429, not a stalled run
MAX_RETRY_WAIT_TOTAL = 60.0  # seconds of retry waiting one client grants in all (summed over its requests)
DOWN_AFTER = 2  # consecutive transport failures before the provider is treated as down
BUDGET_CUT = "cut: "  # a stream relaycheck cut because it passed its reservation (not a provider failure)
ACCEPT_ENCODING = "gzip, deflate"  # only what _BodyDecoder decodes with a bound


@dataclass
class TokenBucket:
    """Client-side rate limit: at most ``rate`` requests per second, bursts up to ``max(1, rate)``."""

    rate: float | None
    _tokens: float = 0.0
    _updated: float = field(default_factory=time.monotonic)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self._tokens = max(1.0, self.rate or 1.0)

    async def acquire(self) -> None:
        if not self.rate:
            return
        async with self._lock:
            while True:
                now = time.monotonic()
                self._tokens = min(max(1.0, self.rate), self._tokens + (now - self._updated) * self.rate)
                self._updated = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                await asyncio.sleep((1.0 - self._tokens) / self.rate)


@dataclass
class Health:
    consecutive_failures: int = 0
    down_reason: str | None = None

    def record(self, exchange: Exchange) -> None:
        """A sent exchange without a complete answer counts, headers or not: a provider that sends headers and
        then stalls or resets every time is as unusable as one that never answers."""
        if exchange.not_sent or exchange.attempts == 0 or (exchange.transport_error or "").startswith(BUDGET_CUT):
            return
        if exchange.transport_error:
            self.consecutive_failures += 1
            if self.consecutive_failures >= DOWN_AFTER and self.down_reason is None:
                self.down_reason = exchange.transport_error
        else:
            self.consecutive_failures = 0


@dataclass(frozen=True)
class Outgoing:
    """What to send: the body (a mapping is sent as JSON, a string as-is), and which key to present.

    Almost everything is ``POST /completions``; a ``GET`` (``models``: the provider's model list) sends no body.
    """

    probe: str
    body: dict[str, Any] | str
    auth: Auth = "valid"
    max_completion_tokens: int = 16  # the worst case this request may cost, reserved in the budget
    method: Method = "POST"
    path: str = COMPLETIONS  # under the base URL

    @property
    def body_text(self) -> str:
        return self.body if isinstance(self.body, str) else json.dumps(self.body, ensure_ascii=False)

    @property
    def wants_stream(self) -> bool:
        return isinstance(self.body, dict) and self.body.get("stream") is True


class ProviderClient:
    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeouts: Timeouts,
        limits: Limits,
        budget: Budget,
        concurrency: int = 4,
        rate_limit: float | None = None,
        retries: int = 2,
        redactor: Redactor | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        auth: str = "bearer",
        headers: tuple[HeaderValue, ...] = (),
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._auth = auth  # "bearer" (Authorization: Bearer KEY) or "api-key" (api-key: KEY, as Azure)
        self._extra_headers = headers
        self.timeouts = timeouts
        self.limits = limits
        self.budget = budget
        self.retries = retries
        # Header values from the environment are secrets like the key: whatever redactor was given learns them.
        self.redactor = (redactor or Redactor.for_keys([api_key, WRONG_KEY])) + Redactor.for_keys(
            h.value for h in headers if h.secret)
        self.health = Health()
        self.retry_wait_left = MAX_RETRY_WAIT_TOTAL
        self._deadline: float | None = None  # loop time; set on entering (or at the first send)
        self._semaphore = asyncio.Semaphore(concurrency)
        self._bucket = TokenBucket(rate_limit)
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(connect=timeouts.connect, read=timeouts.read, write=timeouts.read, pool=None),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            follow_redirects=False,
            trust_env=False,  # a proxy from the environment must not see the key or change what we measure
            transport=transport,
        )

    @classmethod
    def for_provider(
        cls, provider: Provider, base_url: str, api_key: str | None, budget: Budget, redactor: Redactor | None = None,
        headers: tuple[HeaderValue, ...] = (),
    ) -> ProviderClient:
        """A client with every limit the provider's configuration sets, its auth scheme and extra headers."""
        return cls(
            base_url,
            api_key,
            timeouts=provider.timeouts,
            limits=provider.limits,
            budget=budget,
            concurrency=provider.concurrency,
            rate_limit=provider.rate_limit,
            retries=provider.retries,
            redactor=redactor,
            auth=provider.auth,
            headers=headers,
        )

    async def __aenter__(self) -> ProviderClient:
        self._start_clock()
        return self

    def _start_clock(self) -> None:
        run = getattr(self.timeouts, "run", None)
        if self._deadline is None and run:
            self._deadline = asyncio.get_running_loop().time() + run

    def _remaining(self) -> float | None:
        return None if self._deadline is None else self._deadline - asyncio.get_running_loop().time()

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    @property
    def url(self) -> str:
        return self.url_for(COMPLETIONS)

    def url_for(self, path: str) -> str:
        return f"{self.base_url}/{path}"

    def headers_for(self, auth: Auth, method: Method = "POST") -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "Accept-Encoding": ACCEPT_ENCODING,
        }
        if method == "GET":  # no body to describe
            del headers["Content-Type"]
        headers.update((h.name, h.value) for h in self._extra_headers)  # the names cannot clash (config refuses)
        key = {"valid": self._api_key, "wrong": WRONG_KEY, "missing": None}[auth]
        if key and self._auth == "api-key":
            headers["api-key"] = key
        elif key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    async def send(self, outgoing: Outgoing) -> Exchange:
        """One exchange for ``outgoing``, retried on 429 (and 5xx with Retry-After); never raises."""
        self._start_clock()
        attempt = 0
        last: Exchange | None = None  # the previous attempt: returned if a retry cannot be made after all
        while True:
            stop = self.stop_reason()
            if stop:
                return last or self._stopped(outgoing, stop)
            # Reserved before the first await, so concurrent senders claim the budget in the order they started.
            reservation = self.budget.reserve(outgoing.max_completion_tokens, retry=attempt > 0)
            if reservation is None:
                return last or self._unsent(outgoing, "budget exhausted")
            if not await self._acquire_slot():
                self.budget.release(reservation)
                return last or self._stopped(outgoing, self._deadline_reason())
            try:
                # Checked again with the slot held: requests queued behind a failing wave are not sent.
                stop = self.stop_reason()
                if stop:
                    self.budget.release(reservation)
                    return last or self._stopped(outgoing, stop)
                # And the budget again: while this request waited, others may have spent what it had reserved.
                confirmed = self.budget.confirm(reservation)
                if confirmed is None:
                    return last or self._unsent(outgoing, "budget exhausted")
                reservation = confirmed
                exchange = await self._send_once(outgoing, reservation, attempt + 1)
                self.health.record(exchange)
            finally:
                self._semaphore.release()
            delay = self._retry_delay(exchange, attempt)
            if delay is None:
                return exchange
            last = exchange
            attempt += 1
            await asyncio.sleep(delay)

    async def _acquire_slot(self) -> bool:
        """Wait for a concurrency slot and a rate-limit token, but not past the run deadline."""
        remaining = self._remaining()
        try:
            async with asyncio.timeout(None if remaining is None else max(remaining, 0.0)):
                await self._semaphore.acquire()
                try:
                    await self._bucket.acquire()
                except BaseException:
                    self._semaphore.release()
                    raise
        except TimeoutError:
            return False
        return True

    def stop_reason(self) -> str | None:
        """Why no further request will be sent (the provider is down, the run deadline passed), or None."""
        if self.health.down_reason:
            return f"provider treated as down after: {self.health.down_reason}"
        remaining = self._remaining()
        if remaining is not None and remaining <= 0:
            return self._deadline_reason()
        return None

    def _deadline_reason(self) -> str:
        return f"the run deadline of {getattr(self.timeouts, 'run', 0):g}s was reached"

    def _retry_delay(self, exchange: Exchange, attempt: int) -> float | None:
        """Retry 429 always, and 5xx only when the provider said when (Retry-After): the two cases it asked for;
        and once, at once, a request that lost its connection before any byte of an answer came.

        A wait is granted only within ``MAX_RETRY_AFTER``, the client's remaining retry-wait allowance and the run
        deadline; otherwise the answer stands as recorded (a graded 429), rather than stalling the run.
        """
        if attempt >= self.retries:
            return None
        if exchange.status is None:
            # A keep-alive connection the provider closed silently after its previous answer (uvicorn does so after
            # a 500) fails the next request before anything arrives. Retried once on a fresh connection, as the
            # OpenAI SDK does; otherwise the failure would land on an innocent probe. Anything received: no retry.
            stale = exchange.timing.headers is None and (exchange.transport_error or "").startswith("connection lost:")
            return 0.0 if stale and attempt == 0 and not self.health.down_reason else None
        retry_after = _retry_after(exchange.headers.get("retry-after"))
        if exchange.status == 429 or (exchange.status >= 500 and retry_after is not None):
            if retry_after is not None and retry_after > MAX_RETRY_AFTER:
                return None
            delay = retry_after if retry_after is not None else 0.5 * 2**attempt
            remaining = self._remaining()
            if delay > self.retry_wait_left or (remaining is not None and delay >= remaining):
                return None
            self.retry_wait_left -= delay
            return delay
        return None

    def _unsent(self, outgoing: Outgoing, reason: str) -> Exchange:
        """Not sent for a reason that leaves nothing to judge (the budget): the checks reading it are skipped."""
        return Exchange.unsent(outgoing.probe, self._recorded_request(outgoing), reason)

    def _stopped(self, outgoing: Outgoing, reason: str) -> Exchange:
        """Not sent because the provider is down or out of time: no verdict could be had, the checks are errors."""
        return Exchange(
            probe=outgoing.probe,
            request=self._recorded_request(outgoing),
            started_at=time.time(),
            transport_error=f"not sent: {reason}",
            attempts=0,
        )

    def _recorded_request(self, outgoing: Outgoing) -> RecordedRequest:
        headers = self.redactor.headers(self.headers_for(outgoing.auth, outgoing.method))
        url = self.redactor.text(self.url_for(outgoing.path))
        return RecordedRequest(outgoing.method, url, headers, self.redactor.text(outgoing.body_text))

    async def _send_once(self, outgoing: Outgoing, reservation: Reservation, attempt: int) -> Exchange:
        # Echoed text holds the prompt, so only the reported usage says what an echo request cost.
        counting = not (isinstance(outgoing.body, dict) and outgoing.body.get("echo"))
        recorder = _Recorder(self.limits, self.redactor, reservation.completion_tokens if counting else None)
        started_at = time.time()
        error: str | None = None
        status: int | None = None
        headers: dict[str, str] = {}
        remaining = self._remaining()
        cut_by_deadline = remaining is not None and remaining < self.timeouts.total
        limit = self.timeouts.total if remaining is None else max(min(self.timeouts.total, remaining), 0.0)
        try:
            async with asyncio.timeout(limit):
                content = outgoing.body_text.encode("utf-8") if outgoing.method == "POST" else None
                headers_out = self.headers_for(outgoing.auth, outgoing.method)
                request = self._client.build_request(outgoing.method, self.url_for(outgoing.path), content=content,
                                                     headers=headers_out)
                recorder.start()
                response = await self._client.send(request, stream=True)
                try:
                    status = response.status_code
                    headers = {k.lower(): v for k, v in response.headers.items()}
                    recorder.headers_received()
                    streaming = "text/event-stream" in headers.get("content-type", "") or outgoing.wants_stream
                    if response.is_stream_consumed:  # already read (e.g. httpx.MockTransport): already decoded
                        decoder, chunks = _BodyDecoder(""), _once(response.content)
                    else:
                        decoder, chunks = _BodyDecoder(headers.get("content-encoding", "")), response.aiter_raw()
                    async for raw in chunks:
                        if not recorder.add(decoder.decode(raw, recorder.room + 1), parse_sse=streaming):
                            break
                        if recorder.over_reservation:
                            error = (f"{BUDGET_CUT}the stream delivered more than the {reservation.completion_tokens}"
                                     " completion tokens reserved for it (max_tokens not honoured)")
                            break
                    else:
                        recorder.add(decoder.flush(recorder.room + 1), parse_sse=streaming)
                finally:
                    await response.aclose()
        except TimeoutError:
            if cut_by_deadline:
                error = f"timeout: cut at the run deadline of {getattr(self.timeouts, 'run', 0):g}s"
            else:
                error = f"timeout: no complete answer within the total limit of {self.timeouts.total:g}s"
        except httpx.TimeoutException as exc:
            error = f"timeout: {_timeout_kind(exc)} ({self._limit_for(exc):g}s)"
        except httpx.ConnectError as exc:
            error = f"connection failed: {self.redactor.text(str(exc)) or exc.__class__.__name__}"
        except (httpx.ReadError, httpx.WriteError) as exc:
            detail = self.redactor.text(str(exc)) or "the connection was reset or closed by the provider"
            error = f"connection lost: {exc.__class__.__name__}: {detail}"
        except httpx.RemoteProtocolError as exc:
            # Closed before any answer (h11: "Server disconnected without sending a response") is a lost
            # connection; a protocol error after the headers (a short body, say) is the provider's fault as such.
            detail = self.redactor.text(str(exc)) or "no detail"
            lost = "connection lost: " if recorder.nothing_received else ""
            error = f"{lost}{exc.__class__.__name__}: {detail}"
        except httpx.HTTPError as exc:
            error = f"{exc.__class__.__name__}: {self.redactor.text(str(exc)) or 'no detail'}"
        except Exception as exc:  # noqa: BLE001 - whatever a hostile server provokes becomes a recorded error
            error = f"{exc.__class__.__name__}: {self.redactor.text(str(exc)) or 'no detail'}"
        exchange = recorder.finish(
            probe=outgoing.probe,
            request=self._recorded_request(outgoing),
            started_at=started_at,
            status=status,
            headers=self.redactor.headers(headers),
            error=error,
            attempts=attempt,
        )
        prompt_tokens, completion_tokens = _reported_usage(exchange)
        if not counting:
            delivered = 0
        elif recorder.streamed:
            delivered = recorder.delivered
        else:
            delivered = delivered_tokens([exchange.json()]) if exchange.is_json else 0
        cut = (error or "").startswith(BUDGET_CUT)
        refused = error is None and status is not None and not 200 <= status < 300
        self.budget.settle(reservation, prompt_tokens, completion_tokens, delivered, stream_cut=cut, refused=refused,
                           endpoint=Endpoint.of_probe(outgoing.probe))
        return exchange

    def _limit_for(self, exc: httpx.TimeoutException) -> float:
        return self.timeouts.connect if isinstance(exc, httpx.ConnectTimeout) else self.timeouts.read


class _Recorder:
    """Accumulates a response body with arrival times and bounds; parses SSE as it arrives."""

    def __init__(self, limits: Limits, redactor: Redactor | None = None, reserved: int | None = None) -> None:
        self.limits = limits
        self.redactor = redactor
        self.reserved = reserved  # completion tokens the stream may deliver before it is cut (None: no cut)
        self.delivered = 0  # completion tokens counted in the stream's chunks so far
        self._counted_events = 0
        self.body = bytearray()
        self.sse = SSEParser()
        self.truncated = False
        self._t0 = 0.0
        self._headers_at: float | None = None
        self._parsed_sse = False

    def start(self) -> None:
        self._t0 = time.perf_counter()

    def now(self) -> float:
        return time.perf_counter() - self._t0

    def headers_received(self) -> None:
        self._headers_at = self.now()

    @property
    def nothing_received(self) -> bool:
        return self._headers_at is None

    @property
    def room(self) -> int:
        return max(self.limits.max_body_bytes - len(self.body), 0)

    def redact(self, redactor: Redactor) -> None:
        """Mask keys the provider echoed (a 401 message quoting the key, escaped, encoded or split across chunks):
        recordings hold nothing secret, even a body that is not UTF-8 and would be stored base64-encoded, and no
        check ever reads (or cuts) a key."""
        body, self.sse.events = redactor.stream(bytes(self.body), self.sse.events)
        self.body = bytearray(body)
        self.sse.stray_lines = [redactor.text(line) for line in self.sse.stray_lines]

    def add(self, chunk: bytes, parse_sse: bool) -> bool:
        """Keep the chunk; False once a bound is reached (the caller stops reading)."""
        room = self.limits.max_body_bytes - len(self.body)
        if len(chunk) > room:
            chunk = chunk[: max(room, 0)]
            self.truncated = True
        self.body.extend(chunk)
        if parse_sse:
            self._parsed_sse = True
            self.sse.feed(chunk, self.now())
            if len(self.sse.events) >= self.limits.max_stream_events:
                self.truncated = True
            self._count_new_events()
        return not self.truncated

    @property
    def streamed(self) -> bool:
        return self._parsed_sse

    @property
    def over_reservation(self) -> bool:
        return self.reserved is not None and self.delivered > self.reserved

    def _count_new_events(self) -> None:
        new = self.sse.events[self._counted_events:]
        self._counted_events = len(self.sse.events)
        self.delivered += delivered_tokens(safejson.parse(e.data) for e in new if e.data != DONE)

    def finish(self, **kwargs: Any) -> Exchange:
        end = self.now()
        if self._parsed_sse:
            self.sse.close(end)
        if self.redactor is not None:
            self.redact(self.redactor)
        events = tuple(self.sse.events[: self.limits.max_stream_events])
        error = kwargs.pop("error")
        return Exchange(
            **kwargs,
            body=bytes(self.body),
            events=events,
            stray_lines=tuple(self.sse.stray_lines[:100]),
            sse_comments=self.sse.comments,
            timing=Timing(
                headers=self._headers_at,
                first_token=_first_token_at(events),
                total=end if self._headers_at is not None else None,
                chunk_gaps=tuple(b.at - a.at for a, b in zip(events, events[1:], strict=False)),
            ),
            transport_error=error,
            truncated=self.truncated,
        )


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


class UnsupportedEncoding(ValueError):
    pass


class _BodyDecoder:
    """Content-Encoding decoding with a bound on the output of every call (``max_length``), unlike httpx's
    decoders, which inflate a whole network chunk at once (64 KiB of a gzip bomb is 64 MB)."""

    def __init__(self, content_encoding: str) -> None:
        encoding = content_encoding.strip().lower()
        self._zlib: Any = None
        if encoding in ("", "identity"):
            return
        if encoding in ("gzip", "x-gzip", "deflate"):
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header, detected
            return
        raise UnsupportedEncoding(f"content-encoding {encoding[:40]!r} was not asked for (Accept-Encoding: "
                                  f"{ACCEPT_ENCODING})")

    def decode(self, data: bytes, max_length: int) -> bytes:
        if self._zlib is None:
            return data
        try:
            return bytes(self._zlib.decompress(data, max(max_length, 1)))
        except zlib.error as exc:
            raise UnsupportedEncoding(f"undecodable compressed body: {exc}") from None

    def flush(self, max_length: int) -> bytes:
        if self._zlib is None:
            return b""
        return bytes(self._zlib.decompress(self._zlib.unconsumed_tail, max(max_length, 1)))


def _first_token_at(events: tuple[Any, ...]) -> float | None:
    for event in events:
        if event.data == DONE:
            return None
        payload = safejson.parse(event.data)
        choices = payload.get("choices") if isinstance(payload, dict) else None
        if isinstance(choices, list) and any(isinstance(c, dict) and c.get("text") for c in choices):
            return float(event.at)
    return None


def _reported_usage(exchange: Exchange) -> tuple[int | None, int | None]:
    """The usage the provider billed, from the JSON body or the last stream chunk that carries one."""
    candidates: list[Any] = [exchange.json()] if exchange.is_json else list(reversed(exchange.chunks))
    for payload in candidates:
        usage = payload.get("usage") if isinstance(payload, dict) else None
        if isinstance(usage, dict):
            prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
            return (
                prompt if isinstance(prompt, int) and not isinstance(prompt, bool) else None,
                completion if isinstance(completion, int) and not isinstance(completion, bool) else None,
            )
    return None, None


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None  # HTTP-date form: treat as absent; backoff applies
    return seconds if seconds >= 0 else None


def _timeout_kind(exc: httpx.TimeoutException) -> str:
    return {
        httpx.ConnectTimeout: "connect",
        httpx.ReadTimeout: "read (the provider stopped sending)",
        httpx.WriteTimeout: "write",
        httpx.PoolTimeout: "pool",
    }.get(type(exc), "timeout")
