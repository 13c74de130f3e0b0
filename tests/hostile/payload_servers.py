"""Hostile providers that answer, but with hostile content: strings made to break a terminal, a Markdown table or an
HTML page; the key echoed back raw, escaped, encoded or split across chunks; JSON nested deep or spread wide; lone
surrogates. Real servers on loopback, like the rest of the corpus (``servers.py``).

Each answers every request as a completions provider would (JSON, or SSE when the request asks for a stream) and
answers a request without the configured key (relaycheck's wrong-key probe) with a 401, so error paths carry the
content too.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

from hostile.servers import SSE_HEADERS, HostileServer, SeenRequest, head

# One string made of everything that breaks a medium: terminal (CR, erase-line, window title, colour, BEL, NUL,
# CSI as one C1 byte, a bidi override), Markdown (a pipe, a newline, a heading, an image link, a link, emphasis,
# backticks, an HTML comment, an <img>) and HTML (a closing script tag, an attribute breakout), plus a lone
# surrogate and a line separator.
HOSTILE = (
    "\r\x1b[2K\x1b]0;pwned\x07\x1b[32mPASS\x1b[0m\x00\x9b31m\u202e | cell\n# heading\r\n"
    "![img](http://127.0.0.1:9/track.png) [link](http://127.0.0.1:9/) **bold** `tick` <!-- comment "
    "<img src=x onerror=alert(1)> </script><script>alert(2)</script> \"quote' \ud800 \u2028end"
)
# What a header value can carry (HTTP forbids CR, LF and NUL there; the other controls reach the client).
HOSTILE_HEADER = "\x1b[2K\x07 | # ![i](http://127.0.0.1:9/h.png) <img src=x onerror=alert(3)> <!-- `t`"


def _json_bytes(value: Any) -> bytes:
    # ensure_ascii: a lone surrogate travels as its \ud800 escape, as a provider's JSON encoder would send it
    return json.dumps(value).encode("ascii")


@dataclass
class Answering(HostileServer):
    """A plausible completions provider; subclasses choose what goes into its answers."""

    key: str = ""  # the key a request must carry, else 401

    def text(self, asked: dict[str, Any]) -> str:
        return "hello"

    def pieces(self, asked: dict[str, Any]) -> list[str]:
        """The completion text as stream chunks."""
        text = self.text(asked)
        return [text[i:i + 5] for i in range(0, len(text), 5)] or [""]

    def completion(self, asked: dict[str, Any], text: str) -> dict[str, Any]:
        n = max(len(text) // 4, 1)
        return {"id": "cmpl-1", "object": "text_completion", "created": int(time.time()),
                "model": str(asked.get("model") or "gpt-3.5-turbo-instruct"),
                "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": "length"}],
                "usage": {"prompt_tokens": 5, "completion_tokens": n, "total_tokens": n + 5}}

    def error(self, message: str) -> dict[str, Any]:
        return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}}

    def unauthorised_message(self, sent: str) -> str:
        return f"Incorrect API key provided: {sent}"

    def headers(self) -> dict[str, str]:
        return {}

    async def respond(self, request: SeenRequest, writer: asyncio.StreamWriter) -> None:
        asked = request.asked()
        sent = request.headers.get("authorization", "").removeprefix("Bearer ")
        if self.key and sent != self.key:
            await self._send(writer, "401 Unauthorized", _json_bytes(self.error(self.unauthorised_message(sent))))
        elif asked.get("stream") is True:
            writer.write(head("200 OK", {**SSE_HEADERS, **self.headers()}))
            for piece in self.pieces(asked):
                chunk = self.completion(asked, piece)
                chunk.pop("usage", None)
                writer.write(self.event(chunk))
                await writer.drain()
            writer.write(b"data: [DONE]\n\n")
            await writer.drain()
        else:
            await self._send(writer, "200 OK", self.body(asked))

    def body(self, asked: dict[str, Any]) -> bytes:
        return _json_bytes(self.completion(asked, self.text(asked)))

    def event(self, chunk: dict[str, Any]) -> bytes:
        return b"data: " + _json_bytes(chunk) + b"\n\n"

    async def _send(self, writer: asyncio.StreamWriter, status: str, body: bytes) -> None:
        writer.write(head(status, {"Content-Type": "application/json", "Content-Length": str(len(body)),
                                   "Connection": "close", **self.headers()}) + body)
        await writer.drain()


@dataclass
class Injection(Answering):
    """``HOSTILE`` in every string the provider chooses: id, object, model, finish_reason, text, a JSON key, the
    error's message, type and code, a header value, an SSE event name and id, a stray line in the stream."""

    def text(self, asked: dict[str, Any]) -> str:
        return HOSTILE

    def completion(self, asked: dict[str, Any], text: str) -> dict[str, Any]:
        body = super().completion(asked, text)
        body.update({"id": HOSTILE, "object": HOSTILE, "model": HOSTILE, HOSTILE: HOSTILE,
                     "system_fingerprint": HOSTILE})
        body["choices"][0]["finish_reason"] = HOSTILE
        body["choices"][0][HOSTILE] = [HOSTILE]
        return body

    def error(self, message: str) -> dict[str, Any]:
        return {"error": {"message": HOSTILE + message, "type": HOSTILE, "param": HOSTILE, "code": HOSTILE}}

    def headers(self) -> dict[str, str]:
        return {"X-Hostile": HOSTILE_HEADER, "OpenAI-Model": HOSTILE_HEADER}

    def event(self, chunk: dict[str, Any]) -> bytes:
        name = HOSTILE.replace("\r", "").replace("\n", "")  # a field ends at a line break
        return (f"event: {name}\nid: {name}\n{name}\n".encode("utf-8", "surrogatepass") + b"data: "
                + _json_bytes(chunk) + b"\n\n")


# -- the key, echoed --------------------------------------------------------------------------------------------


def _b64_inside(key: str, prefix: bytes, urlsafe: bool) -> str:
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    return encode(prefix + key.encode() + b" was the key").decode()


ECHOES: dict[str, Any] = {
    "raw": lambda k: k,
    "quote": lambda k: urllib.parse.quote(k, safe=""),
    "quote-plus": lambda k: urllib.parse.quote_plus(k),
    "quote-lower": lambda k: "".join(f"%{ord(c):02x}" for c in k),
    "json-u": lambda k: "".join(f"\\u{ord(c):04x}" for c in k),  # the body's JSON then escapes the backslashes
    "json-slash": lambda k: k.replace("/", "\\/"),
    "base64": lambda k: _b64_inside(k, b"", False),
    "base64-offset1": lambda k: _b64_inside(k, b"a", False),
    "base64-offset2-urlsafe": lambda k: _b64_inside(k, b"ab", True),
    "basic-auth": lambda k: "Basic " + base64.b64encode(b"user:" + k.encode()).decode(),
    "html-entities": lambda k: "".join(f"&#{ord(c)};" for c in k),
}


@dataclass
class KeyEcho(Answering):
    """Echoes the key it received in ``form`` (see ``ECHOES``): in the 401 message, after 70 characters (where an
    80-character cut would fall inside it), in every completion text, and in raw JSON escapes inside the body."""

    form: str = "raw"

    def _echo(self, sent: str) -> str:
        return ECHOES[self.form](sent)

    def unauthorised_message(self, sent: str) -> str:
        return "x" * 70 + " Incorrect API key provided: " + self._echo(sent)

    def text(self, asked: dict[str, Any]) -> str:
        return f"your key is {self._echo(self.key)} ok"

    def body(self, asked: dict[str, Any]) -> bytes:
        if self.form == "json-u":  # the key's characters as JSON escapes in the raw bytes, decoded by any reader
            text = "your key is " + "".join(f"\\u{ord(c):04x}" for c in self.key)
            return _json_bytes(self.completion(asked, "@@")).replace(b"@@", text.encode())
        if self.form == "json-slash":
            return _json_bytes(self.completion(asked, "@@")).replace(b"@@", self.key.replace("/", "\\/").encode())
        return super().body(asked)


@dataclass
class SplitKey(Answering):
    """Streams the key split across chunks (three characters each) and lists it split in logprobs tokens; the
    JSON answer lists it token by token too."""

    def pieces(self, asked: dict[str, Any]) -> list[str]:
        text = f"the key: {self.key} end"
        return [text[i:i + 3] for i in range(0, len(text), 3)]

    def completion(self, asked: dict[str, Any], text: str) -> dict[str, Any]:
        body = super().completion(asked, text)
        tokens = [text[i:i + 3] for i in range(0, len(text), 3)] if text != "hello" else \
            [self.key[i:i + 4] for i in range(0, len(self.key), 4)]
        body["choices"][0]["logprobs"] = {"tokens": tokens, "token_logprobs": [-0.5] * len(tokens),
                                          "top_logprobs": None, "text_offset": []}
        return body


# -- structure ----------------------------------------------------------------------------------------------------


@dataclass
class DeepAndWide(Answering):
    """A 200 body nested 1000 levels deep on one request, 50,000 members wide on the next, a stream chunk nested
    deep in between."""

    def body(self, asked: dict[str, Any]) -> bytes:
        with self._lock:
            n = len(self.requests)
        if n % 2:
            return b'{"choices": [{"text": "x", "index": 0, "extra": ' + b"[" * 1000 + b"]" * 1000 + b"}]}"
        wide = {f"k{i}": i for i in range(50_000)}
        return _json_bytes({**self.completion(asked, "wide"), "extra": wide})

    def event(self, chunk: dict[str, Any]) -> bytes:
        return b'data: {"choices": [{"text": "x", "index": 0, "deep": ' + b"{\"a\":" * 600 + b"1" + b"}" * 600 \
            + b"}]}\n\n"


@dataclass
class Surrogates(Answering):
    """Lone surrogates (as JSON escapes, the only way JSON can carry them) in texts, keys, the model, the error
    message, and a high/low pair in the wrong order."""

    def text(self, asked: dict[str, Any]) -> str:
        return "lone \ud800 and \udfff, reversed \udc00\ud800"

    def completion(self, asked: dict[str, Any], text: str) -> dict[str, Any]:
        body = super().completion(asked, text)
        body.update({"model": "gpt\ud800", "id": "cmpl-\udc00", "\ud83d": "\ude00"})
        return body

    def error(self, message: str) -> dict[str, Any]:
        return {"error": {"message": "bad key \ud800 " + message, "type": "\udfff", "code": None}}
