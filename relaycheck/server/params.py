"""The request body of POST /v1/completions: validation against the contract, then the parsed request.

Validation has two layers. The JSON Schema of the project's contract (``relaycheck.spec``) decides types,
ranges and required keys; this module only maps a schema error to OpenAI's error (``param`` = the top-level
field). The rules the schema cannot express come after it: best_of vs n, streaming with best_of,
stream_options without stream, logit_bias keys, token ids, a length-0 completion, and the context length.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jsonschema.exceptions import ValidationError, best_match

from relaycheck.server.errors import ApiError, invalid
from relaycheck.server.model import Sampling
from relaycheck.server.tokenizer import Tokenizer
from relaycheck.spec import load_contract

DEFAULT_MAX_TOKENS = 16
# OpenAI's own answer to ``max_tokens: 0`` on /v1/completions, a 400 (microsoft/dp-few-shot-generation#23,
# 2024-07-18; stanford-crfm/helm#2317, 2024-02: davinci-002 and babbage-002 "no longer support setting max_tokens
# to 0"). The contract keeps the official ``minimum: 0``: refusing a length-0 completion is the model's limit, as
# the message says, which is why it is raised here and not by the schema (``relaycheck/spec/limits.py`` states it
# for the reference deployment). It is what tells a relay that drops the zero (Go ``omitempty``, D80) from one
# that forwards it: the upstream then applies its default, 16 tokens.
LENGTH_ZERO = ("You requested a length 0 completion, which is not supported for this model. Please request a "
               "completion with length at least 1.")


@dataclass(frozen=True)
class CompletionRequest:
    """A validated request, defaults applied (``null`` means the default for every optional field)."""

    model: str
    prompts: tuple[tuple[int, ...], ...]  # token ids, one tuple per prompt
    prompt_is_text_list: bool = False  # the prompt was a string[] (some quirks care)
    max_tokens: int = DEFAULT_MAX_TOKENS
    n: int = 1
    best_of: int = 1  # candidates generated per prompt; >= n
    echo: bool = False
    logprobs: int | None = None
    stop: tuple[str, ...] = ()
    suffix: str | None = None  # the text after the insertion (see generation._insertion_sampling)
    sampling: Sampling = field(default_factory=Sampling)
    seed: int | None = None
    user: str | None = None
    stream: bool = False
    include_usage: bool = False
    # Switches no request field sets; only quirks do (see quirks.py).
    include_stop: bool = False  # keep the matched stop sequence at the end of the text
    stop_overhang: int = 0  # keep this many characters of the matched stop sequence (a partial stop left over)
    forced_prefix: tuple[int, ...] = ()  # tokens every completion starts with
    extra_alternatives: int = 0  # report logprobs + this many alternatives per position
    bill_candidates: bool = True  # usage counts every best_of candidate, not only the n returned


def _param_of(error: ValidationError) -> str | None:
    if error.absolute_path:
        return str(error.absolute_path[0])
    if error.validator == "required" and isinstance(error.instance, Mapping):
        missing = [name for name in error.validator_value if name not in error.instance]
        return missing[0] if missing else None
    return None


def _cross_field(error: ValidationError) -> bool:
    return bool(error.schema_path) and error.schema_path[0] == "allOf"


def _schema_error(body: Any) -> ApiError | None:
    validator = load_contract().validator("CreateCompletionRequest")
    if isinstance(body, Mapping):
        known = validator.schema.get("properties", {})
        for name in body:
            if name not in known:
                return invalid(f"Unrecognized request argument supplied: {name}", name)
    # The contract's cross-field rules (its top-level allOf) are checked below with OpenAI's own messages.
    error = best_match(e for e in validator.iter_errors(body) if not _cross_field(e))
    if error is None:
        return None
    param = _param_of(error)
    if not isinstance(body, Mapping):
        return invalid(f"{error.message}: the request body must be a JSON object", None)
    if error.validator == "required":
        return invalid(f"Missing required parameter: '{param}'.", param)
    return invalid(f"{error.message} - '{param}'", param)


def _prompts(prompt: Any, tokenizer: Tokenizer) -> tuple[tuple[int, ...], ...]:
    if prompt is None:
        return ((tokenizer.eot_id,),)  # null is the documented default, <|endoftext|>
    if isinstance(prompt, str):
        return (tuple(tokenizer.encode(prompt)),)
    if not prompt:
        raise invalid("[] is too short - 'prompt'", "prompt")
    if all(isinstance(item, str) for item in prompt):
        return tuple(tuple(tokenizer.encode(text)) for text in prompt)
    # 3.0 is a JSON Schema integer: token ids may come as integral floats (validation already ruled out 3.5).
    flat = not any(isinstance(item, list) for item in prompt)
    token_lists = [[int(t) for t in ids] for ids in ([prompt] if flat else prompt)]
    for ids in token_lists:
        for token in ids:
            if not tokenizer.is_valid(token):
                raise invalid(
                    f"Invalid token in prompt: {token}. Token ids must be in 0..{tokenizer.max_id}.",
                    "prompt",
                )
    return tuple(tuple(ids) for ids in token_lists)


def logit_bias_map(raw: Mapping[str, int] | None, tokenizer: Tokenizer) -> dict[int, float]:
    bias: dict[int, float] = {}
    for key, value in (raw or {}).items():
        token = int(key) if key.isascii() and key.isdigit() else -1
        if not tokenizer.is_valid(token):
            raise invalid(
                f"Invalid key in 'logit_bias': {key}. You should only be submitting non-negative integers "
                f"below the vocabulary size ({tokenizer.max_id + 1}).",
                "logit_bias",
            )
        bias[token] = float(value)
    return bias


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def parse_request(body: Any, tokenizer: Tokenizer, context_length: int,
                  refuse_length_zero: bool = True) -> CompletionRequest:
    """Validate ``body`` (parsed JSON) and return the request, or raise :class:`ApiError` (400).

    ``refuse_length_zero``: refuse ``max_tokens: 0`` as OpenAI's models do (off: an engine that answers it empty).
    """
    error = _schema_error(body)
    if error is not None:
        raise error
    n = int(_or(body.get("n"), 1))
    best_of_given = body.get("best_of")
    best_of = n if best_of_given is None else int(best_of_given)
    stream = bool(body.get("stream"))
    if best_of < n:
        raise invalid(
            f"best_of must be greater than or equal to n (got best_of={best_of}, n={n}).", "best_of"
        )
    if stream and best_of > n:
        raise invalid("Cannot stream results when best_of is greater than n.", "best_of")
    stream_options = body.get("stream_options")
    if stream_options is not None and not stream:
        raise invalid(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options"
        )
    stop = body.get("stop")
    stops = (stop,) if isinstance(stop, str) else tuple(stop or ())
    prompts = _prompts(body.get("prompt"), tokenizer)
    max_tokens = int(_or(body.get("max_tokens"), DEFAULT_MAX_TOKENS))
    if max_tokens == 0 and refuse_length_zero:
        raise invalid(LENGTH_ZERO, "max_tokens")
    longest = max(len(p) for p in prompts)
    if longest + max_tokens > context_length:
        raise invalid(
            f"This model's maximum context length is {context_length} tokens, however you requested "
            f"{longest + max_tokens} tokens ({longest} in your prompt; {max_tokens} for the completion). "
            "Please reduce your prompt; or completion length.",
            "prompt",
            code="context_length_exceeded",
            cause="context",
        )
    return CompletionRequest(
        model=body["model"],
        prompts=prompts,
        prompt_is_text_list=isinstance(body.get("prompt"), list) and isinstance(body["prompt"][0], str),
        max_tokens=max_tokens,
        n=n,
        best_of=best_of,
        echo=bool(body.get("echo")),
        logprobs=None if body.get("logprobs") is None else int(body["logprobs"]),
        stop=tuple(s for s in stops if s),  # an empty stop string would end every completion at once
        suffix=body.get("suffix"),
        sampling=Sampling(
            temperature=float(_or(body.get("temperature"), 1.0)),
            top_p=float(_or(body.get("top_p"), 1.0)),
            presence_penalty=float(_or(body.get("presence_penalty"), 0.0)),
            frequency_penalty=float(_or(body.get("frequency_penalty"), 0.0)),
            logit_bias=logit_bias_map(body.get("logit_bias"), tokenizer),
        ),
        seed=None if body.get("seed") is None else int(body["seed"]),
        user=body.get("user"),
        stream=stream,
        include_usage=stream and bool((stream_options or {}).get("include_usage")),
    )
