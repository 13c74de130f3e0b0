"""What a report was judged with, where each number came from, and what it could not judge.

Every format states it (JSON ``basis``, the Markdown summary, the HTML page, the JUnit suite's properties): the
context window the overflow probe was sized by and its source (the providers file, the command line, the embedded
reference, or a field of the provider's own ``GET /v1/models``), the cheaper model the fingerprint was cross-checked
with and where it was found, and the plain statement that identity against a trusted reference is not judged by a
certification alone, with how to pin one. Pure: the provider's settings as the report records them and its
exchanges in, text out; a stored report gives the same lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from relaycheck.probes.model_list import MODELS_PROBE, ContextWindow, context_window, listed_cheaper
from relaycheck.transport.exchange import Exchange

TRUSTED_REFERENCE = (
    "Identity against a trusted reference: not judged. A certification alone has no trusted run of this model to "
    "compare with, so another model that shares the claimed tokenizer and limits can pass every check here. Pin one: "
    "keep the report of a run you trust (a provider you trust serving this model, or this provider once you trust "
    "it) and match later reports against it with relaycheck compare --baseline TRUSTED.json NAME.json or "
    "relaycheck diff TRUSTED.json NAME.json (the nightly workflow's baseline is baselines/NAME.json)."
)
NO_WINDOW = ("none known: none configured (providers.yaml context_length, --context-length) and none published by "
             "the provider's GET /v1/models, so the prompt over it was not sent")


@dataclass(frozen=True)
class Cheaper:
    model: str
    source: str


@dataclass(frozen=True)
class Basis:
    window: ContextWindow | None
    cheaper: Cheaper | None
    trusted_reference: str = TRUSTED_REFERENCE

    @property
    def window_line(self) -> str:
        return "Context window: " + (self.window.describe() if self.window else NO_WINDOW) + "."

    @property
    def cheaper_line(self) -> str:
        if self.cheaper is None:
            return ("Cheaper model: none named (cheaper_models, --cheaper-model) nor listed by the provider, so the "
                    "fingerprint was not cross-checked with one.")
        return f"Cheaper model: {self.cheaper.model}, from {self.cheaper.source}."

    @property
    def lines(self) -> tuple[str, str, str]:
        return self.window_line, self.cheaper_line, self.trusted_reference

    def to_json(self) -> dict[str, Any]:
        window = self.window
        return {
            "context_window": None if window is None else {"tokens": window.tokens, "source": window.source,
                                                           "prompt_only": window.prompt_only},
            "cheaper_model": None if self.cheaper is None else {"model": self.cheaper.model,
                                                                "source": self.cheaper.source},
            "trusted_reference": self.trusted_reference,
        }


def basis(model: str, context_length: int | None, context_source: str | None, cheaper_models: tuple[str, ...],
          exchanges: Mapping[str, Exchange]) -> Basis:
    """The basis of one provider's report: its settings (as recorded) and what its model list published."""
    models = exchanges.get(MODELS_PROBE)
    cheaper = None
    if cheaper_models:
        cheaper = Cheaper(cheaper_models[0], "the provider's settings (cheaper_models, --cheaper-model)")
    elif listed := listed_cheaper(models, model):
        cheaper = Cheaper(listed, "the provider's GET /v1/models, which lists it beside the claimed model")
    return Basis(context_window(context_length, context_source, models, model), cheaper)
