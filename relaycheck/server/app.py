"""The reference provider: a Starlette app serving ``POST /v1/completions``, ``POST /v1/chat/completions`` and
``GET /v1/models``.

Per request: latency (middleware) -> rate limit -> auth -> JSON body -> ``on_body`` quirks -> validation
-> ``on_request`` quirks -> model lookup -> generation -> ``on_payload`` quirks (and, for streams, the
chunk/frame/byte hooks) -> the wire. Every error goes through :meth:`ReferenceServer.error_response`, where
the error quirks apply. Both endpoints run this one pipeline; each runs only the quirks whose ``endpoints`` name it
(``Quirk.endpoints``), and the model list and unknown paths run every active quirk.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import html
import json
import logging
import math
import random
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from relaycheck.endpoint import Endpoint
from relaycheck.server import errors, wobble
from relaycheck.server.chat import build_chat_response, chat_stream_chunks, generation_request
from relaycheck.server.chat_params import ChatRequest, parse_chat_request
from relaycheck.server.config import ServerConfig
from relaycheck.server.errors import ApiError
from relaycheck.server.model import CHAT_MODEL_SPECS, NGramModel, chat_model, default_model, model_named
from relaycheck.server.params import parse_request
from relaycheck.server.protocol import (
    DONE,
    Exchange,
    RequestMemory,
    build_response,
    dumps,
    encode_frame,
    frames,
    new_id,
    stream_chunks,
)
from relaycheck.server.quirks import GATEWAY_PAGE, SERVED_MODEL_WINDOW, Quirk, all_quirks, get_quirk

_log = logging.getLogger(__name__)
MODEL_CREATED = 1692901427  # a fixed "created" for the model list: the models never change


class TokenBucket:
    """Requests per second with a burst of ``max(1, rate)``. Used from the event loop only."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.stamp = time.monotonic()

    def take(self) -> int | None:
        """Take a token; if none is left, the whole seconds until one is (at least 1)."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - self.tokens) / self.rate))


class ReferenceServer:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.quirk_names = frozenset(config.quirks)
        for name in self.quirk_names:
            get_quirk(name)  # an unknown name raises KeyError (listing the known ones) here, not mid-request
        # Registry order, so combined quirks always apply the same way.
        self.quirks: tuple[Quirk, ...] = tuple(q for q in all_quirks() if q.name in self.quirk_names)
        self._by_endpoint = {
            endpoint: frozenset(q.name for q in self.quirks if endpoint in q.endpoints) for endpoint in Endpoint
        }
        self.model = default_model()
        self._wobble = random.Random()  # faithful variation between calls (config.divergence, logprob_jitter)
        self.bucket = TokenBucket(config.rate_limit) if config.rate_limit else None
        self.jitter = random.Random()
        self.memory = RequestMemory()  # what the stateful quirks (a response cache, a 504 once) remember

    # -- plumbing ------------------------------------------------------------------------------------

    async def delay(self, ms: float) -> None:
        if self.config.jitter_ms > 0:
            ms += self.jitter.uniform(0, self.config.jitter_ms)
        await asyncio.sleep(ms / 1000 if ms > 0 else 0)  # sleep(0) still lets other requests run

    def exchange(self, endpoint: Endpoint | None = Endpoint.COMPLETIONS) -> Exchange:
        """A new exchange; its quirks are those that apply to ``endpoint`` (None: all active quirks)."""
        names = self.quirk_names if endpoint is None else self._by_endpoint[endpoint]
        ident = new_id("chatcmpl-") if endpoint is Endpoint.CHAT else new_id()
        return Exchange(
            config=self.config, quirk_names=names, created=int(time.time()), endpoint=endpoint, id=ident,
            memory=self.memory,
        )

    def hooks(self, ex: Exchange) -> tuple[Quirk, ...]:
        """The quirks whose hooks run on this exchange, in registry order."""
        return tuple(q for q in self.quirks if q.name in ex.quirk_names)

    def json_response(
        self, obj: Any, ex: Exchange, status: int = 200, headers: dict[str, str] | None = None
    ) -> Response:
        indent = 2 if ex.has("pretty-json") else None
        return Response(
            dumps(obj, indent), status_code=status, media_type="application/json", headers=headers
        )

    def error_response(self, err: ApiError, ex: Exchange) -> Response:
        hooks = self.hooks(ex)
        for quirk in hooks:
            if quirk.on_error:
                err = quirk.on_error(err, ex)
        body = err.envelope()
        for quirk in hooks:
            if quirk.on_error_body:
                body = quirk.on_error_body(body, err)
        headers = dict(err.headers)
        if ex.has("stream-error-200") and ex.body is not None and ex.body.get("stream") is True:
            data = encode_frame([("data", dumps(body).decode())]) + encode_frame([("data", DONE)])
            return Response(data, media_type="text/event-stream", headers=headers)
        if ex.has("errors-html") or err.cause == GATEWAY_PAGE:
            page = (
                f"<html><head><title>{err.status} Error</title></head><body><center><h1>{err.status} "
                f"{html.escape(err.message)}</h1></center><hr><center>nginx</center></body></html>"
            )
            return HTMLResponse(page, status_code=err.status, headers=headers)
        return self.json_response(body, ex, err.status, headers)

    def guard(self, request: Request, ex: Exchange) -> None:
        """Rate limit, then authentication (raises ApiError)."""
        if self.bucket is not None:
            wait = self.bucket.take()
            if wait is not None:
                raise errors.rate_limited(wait, self.bucket.rate)
        key = self.config.api_key
        if key is None or ex.has("no-auth"):
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise errors.missing_key()
        if not hmac.compare_digest(token.encode(), key.encode()):
            raise errors.wrong_key(token)

    # -- endpoints -----------------------------------------------------------------------------------

    def listed_models(self) -> tuple[str, ...]:
        """What GET /v1/models names: every model served (Completions' then chat's), or with
        ``models-list-omits-claimed`` only the cheap one a substituting relay really has (the last Completions
        model, babbage-002), while every name on both endpoints is still answered. No chat model is listed, so no
        claim on chat is, whichever tokenizers are installed (which chat models are served depends on them)."""
        if "models-list-omits-claimed" in self.quirk_names:
            return self.config.models[-1:]
        return self.config.models + self.config.chat_models

    def window(self) -> int:
        """The context window served (and published): the configured one, or with ``served-model-limits`` that of the
        other model behind the name."""
        return SERVED_MODEL_WINDOW if "served-model-limits" in self.quirk_names else self.config.context_length

    async def models(self, request: Request) -> Response:
        ex = self.exchange(None)
        try:
            self.guard(request, ex)
            wanted = request.path_params.get("model")
            if wanted is not None and wanted not in self.listed_models():
                raise errors.model_not_found(wanted)
        except ApiError as err:
            return self.error_response(err, ex)
        # The window is published as vLLM's ModelCard does (max_model_len: prompt plus completion, what the
        # reference refuses past), so a certification given only the URL knows it (relaycheck.probes.model_list).
        cards = [
            {"id": m, "object": "model", "created": MODEL_CREATED, "owned_by": "relaycheck",
             "max_model_len": self.window()}
            for m in self.listed_models()
        ]
        if wanted is not None:
            return self.json_response(next(c for c in cards if c["id"] == wanted), ex)
        return self.json_response({"object": "list", "data": cards}, ex)

    async def completions(self, request: Request) -> Response:
        return await self.serve(request, Endpoint.COMPLETIONS)

    async def chat_completions(self, request: Request) -> Response:
        return await self.serve(request, Endpoint.CHAT)

    async def serve(self, request: Request, endpoint: Endpoint) -> Response:
        """One request of ``endpoint``, through the pipeline of the module docstring."""
        ex = self.exchange(endpoint)
        if missing := self.missing_route(endpoint):
            return missing
        hooks = self.hooks(ex)
        try:
            self.guard(request, ex)
            body = await _json_body(request)
            for quirk in hooks:
                if quirk.on_body:
                    quirk.on_body(body, ex)
            ex.body = body
            model = self.model_for(ex, body.get("model") if isinstance(body, dict) else None)
            if endpoint is Endpoint.CHAT:
                parsed = parse_chat_request(body, model.tokenizer, self.window())
            else:
                parsed = parse_request(body, model.tokenizer, self.window(),
                                       refuse_length_zero=not ex.has("served-model-limits"))
            for quirk in hooks:
                if quirk.on_request:
                    parsed = quirk.on_request(parsed, ex)
            if self.config.divergence and self._wobble.random() < self.config.divergence:
                parsed = self.diverge(model, parsed)
            ex.request = parsed
            self.check_served(parsed.model, endpoint)
        except ApiError as err:
            return self.error_response(err, ex)
        rng = random.Random(parsed.seed) if parsed.seed is not None else random.Random()
        return await self.answer(ex, rng, model)

    def check_served(self, name: str, endpoint: Endpoint) -> None:
        """404 for a model the endpoint does not serve; the other endpoint's models get OpenAI's own message."""
        chat = endpoint is Endpoint.CHAT
        served, other = (self.config.chat_models, self.config.models) if chat else (
            self.config.models, self.config.chat_models)
        if name in served:
            return
        if name in other:
            raise errors.not_a_chat_model(name) if chat else errors.chat_model_on_completions(name)
        raise errors.model_not_found(name)

    def diverge(self, model: NGramModel, parsed: Any) -> Any:
        """A faithful provider's temperature-0 divergence (wobble.py); a chat answer diverges the same way."""
        if isinstance(parsed, ChatRequest):
            forced = wobble.diverge(model, generation_request(parsed), self._wobble).forced_prefix
            return dataclasses.replace(parsed, forced_prefix=forced)
        return wobble.diverge(model, parsed, self._wobble)

    async def answer(self, ex: Exchange, rng: random.Random, model: NGramModel) -> Response:
        """A validated request's answer: the stream, or the JSON body (each through its hooks)."""
        assert ex.request is not None
        chat = ex.endpoint is Endpoint.CHAT
        if ex.request.stream and not ex.has("sse-as-json"):
            chunks = chat_stream_chunks(ex, model, rng) if chat else stream_chunks(ex, model, rng)
            return StreamingResponse(
                self.stream(ex, chunks), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
            )
        payload = await run_in_threadpool(build_chat_response if chat else build_response, ex, model, rng)
        self.apply_payload_hooks(payload, ex, "response")
        if ex.has("json-as-sse"):
            data = encode_frame([("data", dumps(payload).decode())]) + encode_frame([("data", DONE)])
            return Response(data, media_type="text/event-stream")
        return self.json_response(payload, ex)

    def missing_route(self, endpoint: Endpoint) -> Response | None:
        """The answer of a server that does not serve ``endpoint`` (quirks ``ENDPOINT-route-404|405|html``), as a
        router gives it: before authentication, whatever the request."""
        if f"{endpoint}-route-404" in self.quirk_names:
            return Response(b'{"detail":"Not Found"}', 404, media_type="application/json")
        if f"{endpoint}-route-405" in self.quirk_names:
            return Response(b'{"detail":"Method Not Allowed"}', 405, media_type="application/json",
                            headers={"Allow": "GET, HEAD"})
        if f"{endpoint}-route-html" in self.quirk_names:
            return HTMLResponse("<!doctype html><html><head><title>Welcome</title></head><body><h1>Our API "
                                "portal</h1></body></html>")
        return None

    def model_for(self, ex: Exchange, name: Any) -> NGramModel:
        """The model that answers this request: the one of its name, unless a substitution quirk says otherwise.

        On chat, a name the reference does not serve is parsed with the default chat model's tokenizer (it is
        refused after validation, as on Completions)."""
        if ex.endpoint is Endpoint.CHAT:
            served = name in self.config.chat_models and name in CHAT_MODEL_SPECS
            model = chat_model(name if served else self.config.chat_models[0])
        else:
            model = model_named(name) if isinstance(name, str) else self.model
        for quirk in self.hooks(ex):
            if quirk.on_model:
                model = quirk.on_model(model, ex)
        return model

    def apply_payload_hooks(self, obj: dict[str, Any], ex: Exchange, kind: str) -> None:
        if self.config.logprob_jitter:
            wobble.jitter_logprobs(obj, self.config.logprob_jitter, self._wobble)
        for quirk in self.hooks(ex):
            if quirk.on_payload:
                quirk.on_payload(obj, ex, kind)

    async def stream(self, ex: Exchange, chunks: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
        hooks = self.hooks(ex)
        for quirk in hooks:
            if quirk.on_chunks:
                chunks = quirk.on_chunks(chunks, ex)
        events = frames(self._payloads(chunks, ex))
        for quirk in hooks:
            if quirk.on_frames:
                events = quirk.on_frames(events, ex)
        first = True
        try:
            async for frame in events:
                if not first:
                    await self.delay(self.config.chunk_delay_ms)
                first = False
                data = encode_frame(frame)
                for quirk in hooks:
                    if quirk.on_bytes:
                        data = quirk.on_bytes(data)
                yield data
        except Exception:  # the status line is gone: report the failure the way OpenAI streams do
            _log.exception("stream %s failed", ex.id)
            yield encode_frame([("data", dumps(_server_error().envelope()).decode())])

    async def _payloads(
        self, chunks: AsyncIterator[dict[str, Any]], ex: Exchange
    ) -> AsyncIterator[dict[str, Any]]:
        async for chunk in chunks:
            self.apply_payload_hooks(chunk, ex, "chunk")
            yield chunk

    async def internal_error(self, request: Request, exc: Exception) -> Response:
        return self.error_response(_server_error(), self.exchange(None))

    async def http_error(self, request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        message = f"Invalid URL ({request.method} {request.url.path})"
        # Starlette's 405 carries the route's methods in Allow, which RFC 9110 requires on a 405.
        headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
        if status == 405:
            message = f"Method not allowed: {request.method} {request.url.path}"
        error = ApiError(status, message, cause="not_found", headers=headers)
        return self.error_response(error, self.exchange(None))


def _server_error() -> ApiError:
    return ApiError(
        500,
        "The server had an error while processing your request. Sorry about that!",
        type="server_error",
        cause="internal",
    )


async def _json_body(request: Request) -> dict[str, Any]:
    """The body as a JSON object, whatever the Content-Type says (OpenAI parses it anyway)."""
    raw = await request.body()
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(
            400,
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using "
            "your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not "
            "valid JSON. If you have trouble figuring out how to fix this, please contact us through our "
            "help center at help.openai.com.)",
            cause="json",
        ) from None
    if not isinstance(body, dict):
        raise ApiError(
            400,
            f"Invalid type for request body: expected a JSON object, got {type(body).__name__}.",
            cause="validation",
        )
    return body


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN and Infinity are not JSON, and would slip past range checks


class _Latency:
    """Delays every HTTP response by ``latency_ms`` (+ jitter) before its first byte."""

    def __init__(self, app: ASGIApp, server: ReferenceServer) -> None:
        self.app = app
        self.server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            self.server.config.latency_ms > 0 or self.server.config.jitter_ms > 0
        ):
            await self.server.delay(self.server.config.latency_ms)
        await self.app(scope, receive, send)


def create_app(config: ServerConfig) -> Starlette:
    server = ReferenceServer(config)
    routes = [
        Route("/v1/completions", server.completions, methods=["POST"]),
        Route("/v1/chat/completions", server.chat_completions, methods=["POST"]),
        Route("/v1/models", server.models, methods=["GET"]),
        Route("/v1/models/{model:path}", server.models, methods=["GET"]),
    ]
    handlers = {HTTPException: server.http_error, Exception: server.internal_error}
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.reference = server
    app.add_middleware(_Latency, server=server)
    return app
