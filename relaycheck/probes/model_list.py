"""What a provider's own model list (``GET /v1/models``) says of the claimed model: its window, a cheaper model.

A certification given only a URL (``relaycheck run --base-url …``) has no providers.yaml entry to state the
model's context window or a cheaper model the provider serves. Many servers publish both: the window as a field
of the model's entry, the cheaper model as another entry of the list. These pure functions read them from the
recorded ``models`` exchange, for the probes that need the numbers (``context-overflow``, ``identity-cross-*``,
which therefore depend on ``models``) and for the reports, which say where every number came from.

The window fields, as the servers that publish them write them (:data:`PUBLISHED`, the first present wins):

- vLLM: ``max_model_len`` on every ``ModelCard`` (``vllm-project/vllm:vllm/entrypoints/openai/protocol.py@0052bed3``),
  the engine's limit on prompt plus completion; the reference provider publishes its window the same way;
- OpenRouter: ``context_length``, "Maximum context window size in tokens", and ``top_provider.context_length``
  (https://openrouter.ai/docs/models; Together AI and Maritaca write ``context_length`` too);
- Groq: ``context_window`` (https://console.groq.com/docs/models; the groqai crate's ``Model.context_window``);
- Mistral and LM Studio: ``max_context_length`` (as issue 24 names it; not read here);
- llama.cpp's server: ``meta.n_ctx_train`` (``ggml-org/llama.cpp:tools/server`` ``model_meta()``, the
  ``model_n_ctx_train`` of ``server-context.h@06258e8``): the window the model was trained with, which the server's
  own ``n_ctx`` may cut (then the probe is over it all the more);
- LiteLLM's proxy: ``max_input_tokens`` when its cost map or the deployment knows the model (``litellm==1.102.4``
  ``litellm/types/proxy/model_listing.py`` ``ModelInfoResponse``): a bound on the prompt alone, so a prompt one
  token longer is over it.

llama-cpp-python publishes none (``abetlen/llama-cpp-python:llama_cpp/server/app.py@3691546`` ``get_models``: id,
object, owned_by, permissions), nor does OpenAI: there the window must be configured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from relaycheck.transport.exchange import Exchange

MODELS_PROBE = "models"


@dataclass(frozen=True)
class WindowField:
    """A field of a model-list entry that states the model's context window."""

    path: tuple[str, ...]  # ("max_model_len",), or nested: ("meta", "n_ctx_train")
    prompt_only: bool = False  # the number bounds the prompt alone, not prompt plus completion

    @property
    def name(self) -> str:
        return "data[]." + ".".join(self.path)

    def read(self, card: dict[str, Any]) -> int | None:
        value: Any = card
        for key in self.path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


PUBLISHED = (
    WindowField(("max_model_len",)),
    WindowField(("context_length",)),
    WindowField(("top_provider", "context_length")),
    WindowField(("context_window",)),
    WindowField(("max_context_length",)),
    WindowField(("meta", "n_ctx_train")),
    WindowField(("max_input_tokens",), prompt_only=True),
)


@dataclass(frozen=True)
class ContextWindow:
    """The model's context window in tokens, and where the number came from."""

    tokens: int
    source: str  # "providers.yaml …", "command line (--context-length)", "GET /v1/models data[].max_model_len"
    prompt_only: bool = False  # it bounds the prompt alone (LiteLLM's max_input_tokens)

    @property
    def overflow_prompt(self) -> int:
        """Prompt tokens that are over the window with any max_tokens on top: the window itself, one more when it
        bounds the prompt alone."""
        return self.tokens + 1 if self.prompt_only else self.tokens

    def describe(self) -> str:
        return f"{self.tokens} tokens{' of prompt' if self.prompt_only else ''}, from {self.source}"


def names_model(value: Any, model: str) -> bool:
    """``value`` names ``model``: itself or a dated snapshot of it ("gpt-3.5-turbo-instruct-0914")."""
    return isinstance(value, str) and (value == model or value.startswith(model + "-"))


def model_cards(models: Exchange | None) -> list[dict[str, Any]] | None:
    """The entries of a complete ``GET /models`` answer that carry a string id; None when it is not such a list."""
    body = models.json() if models is not None and models.succeeded else None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list) or not all(isinstance(m, dict) and isinstance(m.get("id"), str) for m in data):
        return None
    return data


def card_of(models: Exchange | None, model: str) -> dict[str, Any] | None:
    """The claimed model's entry: the one of its exact name, else the first dated snapshot of it."""
    cards = model_cards(models) or []
    return next((c for c in cards if c["id"] == model), None) or next(
        (c for c in cards if names_model(c["id"], model)), None)


def published_window(models: Exchange | None, model: str) -> ContextWindow | None:
    """The window the provider publishes for ``model`` in its model list, or None when it publishes none."""
    card = card_of(models, model)
    for known in PUBLISHED if card is not None else ():
        tokens = known.read(card)
        if tokens is not None:
            return ContextWindow(tokens, f"GET /v1/models {known.name}", known.prompt_only)
    return None


def context_window(configured: int | None, source: str | None, models: Exchange | None,
                   model: str) -> ContextWindow | None:
    """The window to judge against: the one configured for the provider, else the one it publishes."""
    if configured is not None:
        return ContextWindow(configured, source or "the provider's settings")
    return published_window(models, model)


# Cheaper completion models a provider may serve beside the claimed one (OpenAI's own line-up for /v1/completions:
# babbage-002 is the cheapest, davinci-002 between it and gpt-3.5-turbo-instruct), first the cheapest.
CHEAPER_MODELS = {
    "gpt-3.5-turbo-instruct": ("babbage-002", "davinci-002"),
    "davinci-002": ("babbage-002",),
}


def listed_cheaper(models: Exchange | None, model: str) -> str | None:
    """A cheaper model of :data:`CHEAPER_MODELS` that the provider's model list names, the cheapest first."""
    ids = [c["id"] for c in model_cards(models) or ()]
    base = next((m for m in CHEAPER_MODELS if names_model(model, m)), None)
    return next((cheap for cheap in CHEAPER_MODELS.get(base or "", ()) if cheap in ids), None)
