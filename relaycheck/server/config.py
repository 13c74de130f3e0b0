"""How a reference server instance behaves: auth, quirks, models, latency, rate limit, context length."""

from __future__ import annotations

from dataclasses import dataclass, field

from relaycheck import tokens

DEFAULT_API_KEY = "sk-relaycheck-reference"  # not a secret: the reference server's well-known default key
DEFAULT_MODELS = ("gpt-3.5-turbo-instruct", "davinci-002", "babbage-002")
CL100K_CHAT_MODELS = ("gpt-3.5-turbo", "gpt-4")
O200K_CHAT_MODELS = ("gpt-4o", "gpt-4o-mini")


def default_chat_models() -> tuple[str, ...]:
    """The chat models served: gpt-3.5-turbo (the default) and gpt-4, plus gpt-4o and gpt-4o-mini where o200k_base
    can be loaded (the ``o200k`` extra): a model is only served over its real tokenizer."""
    extra = O200K_CHAT_MODELS if tokens.encoding_available("o200k_base") else ()
    return CL100K_CHAT_MODELS + extra


@dataclass(frozen=True)
class ServerConfig:
    api_key: str | None = DEFAULT_API_KEY  # None = auth disabled
    quirks: frozenset[str] = frozenset()
    models: tuple[str, ...] = DEFAULT_MODELS  # served on /v1/completions
    chat_models: tuple[str, ...] = field(default_factory=default_chat_models)  # served on /v1/chat/completions
    latency_ms: float = 0.0  # delay before the first byte (response headers)
    jitter_ms: float = 0.0  # uniform extra random delay 0..jitter on each delay
    chunk_delay_ms: float = 0.0  # delay between SSE chunks
    rate_limit: float | None = None  # requests per second, token bucket (burst = max(1, rate)); over it: 429
    context_length: int = 2048
    # How a faithful provider still varies between calls (relaycheck/server/wobble.py; not quirks: no deviation).
    logprob_jitter: float = 0.0  # standard deviation of Gaussian noise added to every reported logprob
    divergence: float = 0.0  # probability that a temperature-0 request takes the runner-up token once
    substitute_salt: int = 6  # the model salt of the substitution quirks' "cheaper model"
