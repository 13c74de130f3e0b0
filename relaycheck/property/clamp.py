"""Keeping every generated request cheap (and sendable) before it leaves.

A generated body is rewritten field by field, each rewrite a :class:`Clamp`:

- ``max_tokens`` at most :data:`MAX_TOKENS` (set when absent or null: null means the default, 16), and at least 1:
  OpenAI's models refuse a length-0 completion, which the contract's ``minimum: 0`` allows, and
  ``params.max-tokens-zero`` judges what a provider does with it, once;
- ``n`` and ``best_of`` at most 2, ``best_of`` raised to ``n`` (and to exactly ``n`` when streaming: the prose
  rules "best_of must be greater than n" and "results cannot be streamed");
- a prompt string at most 40 characters, prompt arrays at most 2 items, token arrays at most 8 ids below 256;
- ``logit_bias`` at most 2 entries keyed by token ids below 256; ``seed`` within int64;
- ``stream_options`` dropped unless ``stream`` is true (the prose: "Only set this when you set stream: true");
- ``model`` pinned to the provider's model (any string is valid, an unknown one is a 404);
- integral floats in integer fields sent as integers (3.0 → 3);
- strings made encodable: lone surrogates (which UTF-8 cannot carry) become U+FFFD.

Positive bodies get every clamp and must still validate against ``CreateCompletionRequest``. Negative bodies get
each clamp only if the body stays invalid afterwards, so the violation the generator introduced survives.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from jsonschema.protocols import Validator

MAX_TOKENS = 4
MAX_N = 2
MAX_PROMPT_CHARS = 40
MAX_PROMPT_ITEMS = 2
MAX_TOKEN_IDS = 8
TOKEN_ID_LIMIT = 256  # ids below this are single bytes in GPT-2 order, valid for every tokenizer
MAX_LOGIT_BIAS = 2
INT64 = (-(2**63), 2**63 - 1)

_SURROGATE = re.compile("[\ud800-\udfff]")

Body = dict[str, Any]
Clamp = Callable[[Body, str], None]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def sanitize(value: Any) -> Any:
    """A deep copy with every string (keys too) encodable as UTF-8."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {sanitize(k): sanitize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [sanitize(v) for v in value]
    return value


# -- the clamps, one field each ---------------------------------------------------------------------------------


def _model(body: Body, model: str) -> None:
    if "model" not in body or isinstance(body["model"], str):
        body["model"] = model


def _max_tokens(body: Body, model: str) -> None:
    value = body.get("max_tokens")
    if value is None or (_is_number(value) and value > MAX_TOKENS):
        body["max_tokens"] = MAX_TOKENS
    elif _is_number(value) and value == 0:  # a length-0 completion: judged by its own probe, not as a case
        body["max_tokens"] = 1


def _n(body: Body, model: str) -> None:
    value = body.get("n")
    if _is_number(value) and value > MAX_N:
        body["n"] = MAX_N


def _best_of(body: Body, model: str) -> None:
    value = body.get("best_of")
    if not _is_number(value):
        return
    n = body.get("n") if _is_int(body.get("n")) else 1
    best_of = min(int(value), MAX_N) if value > MAX_N else value
    if body.get("stream") is True:
        best_of = n  # best_of > n cannot be streamed
    elif best_of < n:
        best_of = n  # "best_of must be greater than n"
    body["best_of"] = best_of


def _stream_options(body: Body, model: str) -> None:
    if body.get("stream") is not True and body.get("stream_options") is not None:
        del body["stream_options"]


def _cut(text: str) -> str:
    return text[:MAX_PROMPT_CHARS]


def _token(value: Any) -> Any:
    return value % TOKEN_ID_LIMIT if _is_int(value) else value


def _prompt(body: Body, model: str) -> None:
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        body["prompt"] = _cut(prompt)
    elif isinstance(prompt, list):
        if not prompt:
            body["prompt"] = [""]  # the string[] branch has no minItems, but [] is no prompt at all
        elif all(isinstance(p, str) for p in prompt):
            body["prompt"] = [_cut(p) for p in prompt[:MAX_PROMPT_ITEMS]]
        elif all(isinstance(p, list) for p in prompt):
            body["prompt"] = [[_token(t) for t in p[:MAX_TOKEN_IDS]] for p in prompt[:MAX_PROMPT_ITEMS]]
        else:
            body["prompt"] = [_token(t) for t in prompt[:MAX_TOKEN_IDS]]


def _short_strings(body: Body, model: str) -> None:
    for name in ("suffix", "user"):
        if isinstance(body.get(name), str):
            body[name] = _cut(body[name])


def _logit_bias(body: Body, model: str) -> None:
    bias = body.get("logit_bias")
    if isinstance(bias, dict) and bias:
        items = list(bias.values())[:MAX_LOGIT_BIAS]
        body["logit_bias"] = {str((i * 97 + 32) % TOKEN_ID_LIMIT): v for i, v in enumerate(items)}


INTEGER_FIELDS = ("max_tokens", "n", "best_of", "logprobs", "seed")


def _whole(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() and abs(value) < 2**63 else value


def _integers(body: Body, model: str) -> None:
    """3.0 is a valid JSON Schema integer, but strictly typed servers (Go, Rust) refuse it: send 3."""
    for name in INTEGER_FIELDS:
        if name in body:
            body[name] = _whole(body[name])
    prompt = body.get("prompt")
    if isinstance(prompt, list):
        body["prompt"] = [[_whole(t) for t in p] if isinstance(p, list) else _whole(p) for p in prompt]
    if isinstance(body.get("logit_bias"), dict):
        body["logit_bias"] = {k: _whole(v) for k, v in body["logit_bias"].items()}


def _seed(body: Body, model: str) -> None:
    if _is_int(body.get("seed")):
        body["seed"] = min(max(body["seed"], INT64[0]), INT64[1])


CLAMPS: tuple[Clamp, ...] = (
    _integers, _model, _prompt, _max_tokens, _n, _best_of, _stream_options, _short_strings, _logit_bias, _seed,
)


def clamp_positive(body: Any, model: str, validator: Validator) -> Body | None:
    """The cheap version of a valid body, or None when it cannot be made cheap and stay valid."""
    if not isinstance(body, dict):
        return None
    out = sanitize(body)
    for clamp in CLAMPS:
        clamp(out, model)
    return out if validator.is_valid(out) else None


def clamp_negative(body: Body, model: str, validator: Validator) -> Body:
    """Apply each clamp that keeps the body invalid; a clamp that would repair the violation is left out."""
    out = sanitize(body)
    for clamp in CLAMPS:
        trial = copy.deepcopy(out)
        try:
            clamp(trial, model)
        except (TypeError, ValueError, OverflowError):
            continue
        if not validator.is_valid(trial):
            out = trial
    return out
