"""Chat logprobs (feature ``chat.logprobs``): their shape, and that they are the answer's own tokens and bytes.

Chat asks ``logprobs: true`` with ``top_logprobs: N`` and gets, per choice, ``logprobs.content``: one
``ChatCompletionTokenLogprob`` per generated token (``token``, ``logprob``, ``bytes``, ``top_logprobs`` of
``{token, logprob, bytes}``), where Completions has its four legacy arrays. Each property is written once and
judged on the plain probe and on its streamed twin (:func:`relaycheck.checks.modes.twin`), through
:meth:`Recorded.answers`, which joins a stream's ``content`` arrays in arrival order: a provider that sends the
right logprobs unstreamed and ``null`` in its chunks fails the streamed half only.

What the definition leaves open is not failed: logprob values (they wobble between calls), fewer alternatives than
asked at some positions ("In rare cases, there may be fewer than the number of requested top_logprobs returned"),
the order of alternatives that tie, ``bytes: null`` for a token without a bytes representation, and how a token that
is a piece of a character is labelled (its ``bytes`` say what it is: the pieces' bytes join to the character).
"""

from __future__ import annotations

import math
from typing import Any

from relaycheck.checks.model import LEGACY_LOGPROBS, Answer, Fail, Level, Outcome, Pass, Recorded, Skip, snippet
from relaycheck.checks.modes import twin
from relaycheck.endpoint import Endpoint

CHAT = Endpoint.CHAT
FEATURE = f"{CHAT.prefix}logprobs"
SPEC = "openai-openapi@f85dbe22 CreateChatCompletionResponse.choices[].logprobs"
PLAIN = (CHAT.probe_id("logprobs"),)
STREAMED = (CHAT.probe_id("stream-logprobs"),)


def _asked(r: Recorded, probe: str) -> int | None:
    body = r.exchange(probe).request.json()
    top = body.get("top_logprobs") if isinstance(body, dict) else None
    return top if isinstance(top, int) and not isinstance(top, bool) else None


def _entries(answer: Answer, probe: str, streamed: bool) -> list[Any]:
    """The choice's ``logprobs.content``, or the failure its logprobs are (null, the legacy arrays, another shape)."""
    lp = answer.logprobs
    where = "its chunks carry" if streamed else "the choice carries"
    if lp is None:
        raise Fail(f"logprobs: true was asked and {where} logprobs null", "logprobs {content: [{token, logprob, "
                   "bytes, top_logprobs}], refusal}", f"choice {answer.index}: logprobs null", probe)
    if isinstance(lp, dict) and all(isinstance(lp.get(k), list) for k in LEGACY_LOGPROBS):
        raise Fail("chat logprobs come in the legacy Completions shape (tokens, token_logprobs, top_logprobs, "
                   "text_offset)", "logprobs.content: [{token, logprob, bytes, top_logprobs}]",
                   snippet(repr(lp), 160), probe)
    content = lp.get("content") if isinstance(lp, dict) else None
    if not isinstance(content, list) or (answer.text and not content):
        raise Fail("logprobs has no content list of the generated tokens", "logprobs.content: [ {…} per token ]",
                   snippet(repr(lp), 160), probe)
    return content


@twin(
    "shape",
    title="logprobs: true with top_logprobs N returns logprobs.content: per token its token, logprob, bytes and up "
    "to N alternatives, N where there are",
    clause=f"{SPEC}: {{content: [ChatCompletionTokenLogprob], refusal}}; ChatCompletionTokenLogprob requires token, "
    "logprob, bytes, top_logprobs (\"may be fewer than the number of requested top_logprobs\" in rare cases); "
    "CreateChatCompletionRequest.top_logprobs: \"the number of most likely tokens to return at each token position\"",
    level=Level.MUST,
    plain=PLAIN,
    streamed=STREAMED,
    feature=FEATURE,
    fails_on=("chat-logprobs-legacy",),
    fails_streamed_on=("stream-drop-logprobs", "chat-logprobs-legacy"),
    deviations=("D58", "D23"),
)
def shape_twins(r: Recorded, probes: tuple[str, ...]) -> Outcome:
    probe, streamed = probes[0], probes[0] in STREAMED
    asked = _asked(r, probe)
    most = 0
    for answer in r.answers(probe):
        for i, entry in enumerate(_entries(answer, probe, streamed)):
            problem = r.schema_problem("ChatCompletionTokenLogprob", entry)
            if problem is not None:
                return Fail(f"logprobs.content[{i}] is not a ChatCompletionTokenLogprob {problem.split(':')[0]}",
                            "{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}", problem, probe)
            values = [entry["logprob"], *(t["logprob"] for t in entry["top_logprobs"])]
            if not all(math.isfinite(v) and v <= 1e-6 for v in values):
                return Fail(f"logprobs.content[{i}] has a logprob that is not a log probability", "finite values <= 0",
                            repr(values), probe)
            tops = len(entry["top_logprobs"])
            if asked is not None and tops > asked:
                return Fail(f"logprobs.content[{i}] lists more alternatives than top_logprobs asked",
                            f"at most {asked}", f"{tops}", probe)
            most = max(most, tops)
    if asked and most < asked:
        return Fail("no position lists the alternatives top_logprobs asked for (the parameter is ignored?)",
                    f"{asked} alternatives where the vocabulary has them", f"at most {most}", probe)
    return Pass(f"chat logprobs, up to {most} alternatives per token")


def _utf8(raw: Any) -> bytes | None:
    """``bytes`` as the bytes they list, None when they are null (allowed) or not a list of byte values."""
    if isinstance(raw, list) and all(isinstance(b, int) and not isinstance(b, bool) and 0 <= b < 256 for b in raw):
        return bytes(raw)
    return None


def _bytes_problem(item: dict[str, Any]) -> str | None:
    """What is wrong with an entry's (or an alternative's) bytes: they decode to another string than its token. A
    piece of a character (bytes that are no UTF-8 alone) is labelled as the provider likes; its bytes are judged
    where they join the others."""
    data = _utf8(item.get("bytes"))
    if data is None:
        return None
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    token = item.get("token")
    return None if decoded == token else f"token {token!r} with bytes {list(data)[:16]} ({decoded!r})"


@twin(
    "truth",
    title="the logprobs are the answer's: their tokens join to the content, each bytes is its token's UTF-8, and at "
    "temperature 0 each token is among its own top_logprobs",
    clause="ChatCompletionTokenLogprob.bytes: \"A list of integers representing the UTF-8 bytes representation of the "
    "token ... their byte representations must be combined to generate the correct text representation\"; "
    "logprobs.content: \"A list of message content tokens with log probability information\"; top_logprobs: the "
    "most likely tokens at this position (at temperature 0 the one generated is the most likely)",
    level=Level.MUST,
    plain=PLAIN,
    streamed=STREAMED,
    feature=FEATURE,
    fails_on=("logprobs-bytes-bpe-raw", "logprobs-top-repeated"),
    fails_streamed_on=("logprobs-bytes-bpe-raw", "logprobs-top-repeated"),
    deviations=("D69", "D23"),
)
def truth_twins(r: Recorded, probes: tuple[str, ...]) -> Outcome:
    probe, streamed = probes[0], probes[0] in STREAMED
    body = r.exchange(probe).request.json()
    greedy = isinstance(body, dict) and body.get("temperature") == 0 and bool(_asked(r, probe))
    judged = 0
    for answer in r.answers(probe):
        try:
            content = _entries(answer, probe, streamed)
        except Fail:
            raise Skip("the logprobs are not in the chat shape (see chat.logprobs.shape)") from None
        entries = [e for e in content if isinstance(e, dict) and isinstance(e.get("token"), str)]
        if len(entries) != len(content):
            raise Skip("some logprobs entries have no token (see chat.logprobs.shape)")
        text = answer.content or ""
        datas = [_utf8(e.get("bytes")) for e in entries]
        joined = b"".join(d for d in datas if d is not None) if None not in datas else None
        tokens = "".join(e["token"] for e in entries)
        if tokens != text and joined != text.encode("utf-8"):
            return Fail(f"the logprobs tokens do not join to choice {answer.index}'s content",
                        repr(text[:120]), repr(tokens[:120]), probe)
        for i, entry in enumerate(entries):
            bad = _bytes_problem(entry) or next((p for t in entry.get("top_logprobs") or [] if isinstance(t, dict)
                                                 if (p := _bytes_problem(t))), None)
            if bad:
                return Fail(f"logprobs.content[{i}]: bytes that are not the token's UTF-8", "bytes = the token's "
                            "UTF-8 (or null)", bad, probe)
            if greedy and not any(isinstance(t, dict) and t.get("token") == entry["token"]
                                  for t in entry.get("top_logprobs") or []):
                alternatives = [t.get("token") for t in entry.get("top_logprobs") or [] if isinstance(t, dict)]
                return Fail(f"logprobs.content[{i}]: the token generated at temperature 0 is not among its own "
                            "top_logprobs (the alternatives of another position?)",
                            f"{entry['token']!r} among the alternatives", f"alternatives {alternatives!r}", probe)
        if joined is not None and joined != text.encode("utf-8"):
            return Fail(f"the logprobs bytes do not join to choice {answer.index}'s content", repr(text[:120]),
                        repr(joined[:120]), probe)
        judged += len(entries)
    return Pass(f"{judged} tokens: they join to the content, their bytes are theirs")


shape, stream_shape = shape_twins.plain, shape_twins.streamed
truth, stream_truth = truth_twins.plain, truth_twins.streamed
CHECKS = (shape, truth, stream_shape, stream_truth)
