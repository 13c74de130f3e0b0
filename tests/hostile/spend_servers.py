"""Hostile providers for the spend ceiling: they ignore max_tokens, or lie about usage in either direction.

Each answers a completion request (JSON, or SSE when the request asks for a stream) with ``tokens`` tokens of
text (`` tok`` each, 4 bytes), lists them in logprobs when asked, and reports ``usage.completion_tokens`` as
``report(tokens_sent)`` says: honest, under (1, 0, -5, a string) or over (a million).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hostile.servers import SSE_HEADERS, HostileServer, SeenRequest, head

TOKEN = " tok"


def completion(text: str, logprobs: list[str] | None, usage: dict[str, Any] | None) -> dict[str, Any]:
    choice = {"text": text, "index": 0, "finish_reason": "length",
              "logprobs": None if logprobs is None else {"tokens": logprobs, "token_logprobs": [-0.1] * len(logprobs),
                                                         "top_logprobs": None, "text_offset": []}}
    body: dict[str, Any] = {"id": "cmpl-spend", "object": "text_completion", "created": int(time.time()),
                            "model": "gpt-3.5-turbo-instruct", "choices": [choice]}
    if usage is not None:
        body["usage"] = usage
    return body


@dataclass
class SpendServer(HostileServer):
    """``tokens`` tokens whatever max_tokens says (None: honours max_tokens), usage from ``report``."""

    tokens: int | None = 500
    report: Callable[[int], Any] = lambda n: n
    honest_first: int = 0  # answer this many requests honestly first (a provider that changes its behaviour)

    def _count(self, request: dict[str, Any]) -> int:
        asked = request.get("max_tokens") if isinstance(request.get("max_tokens"), int) else 16
        with self._lock:
            served = len(self.requests)
        if self.tokens is None or served <= self.honest_first:
            return max(asked, 0)
        return self.tokens

    async def respond(self, request: SeenRequest, writer: asyncio.StreamWriter) -> None:
        asked = request.asked()
        n = self._count(asked)
        reported = self.report(n)
        usage = {"prompt_tokens": 5, "completion_tokens": reported, "total_tokens": reported}
        with_logprobs = asked.get("logprobs") is not None
        if asked.get("stream") is True:
            writer.write(head("200 OK", SSE_HEADERS))
            for _ in range(n):
                chunk = completion(TOKEN, [TOKEN] if with_logprobs else None, None)
                writer.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                await writer.drain()
            final = completion("", None, usage)
            final["choices"] = []
            writer.write(b"data: " + json.dumps(final).encode() + b"\n\ndata: [DONE]\n\n")
            await writer.drain()
            return
        body = json.dumps(completion(TOKEN * n, [TOKEN] * n if with_logprobs else None, usage)).encode()
        writer.write(head("200 OK", {"Content-Type": "application/json", "Content-Length": str(len(body)),
                                     "Connection": "close"}) + body)
        await writer.drain()


SPEND_CORPUS: dict[str, Callable[[], SpendServer]] = {
    "ignores-max-tokens": lambda: SpendServer(tokens=500),
    "under-reports-one": lambda: SpendServer(tokens=500, report=lambda n: 1),
    "under-reports-zero": lambda: SpendServer(tokens=500, report=lambda n: 0),
    "under-reports-negative": lambda: SpendServer(tokens=500, report=lambda n: -5),
    "under-reports-string": lambda: SpendServer(tokens=500, report=lambda n: "1"),
    "over-reports": lambda: SpendServer(tokens=None, report=lambda n: 1_000_000),
    "honest-then-ignores": lambda: SpendServer(tokens=500, honest_first=1),
}
