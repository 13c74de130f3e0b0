"""The documented limits of the models a provider may claim: what a first certification can hold a name to.

Without a trusted run to compare with, a model swapped for another of the same tokenizer passes every billing and
tokenizer check. What still shows is a limit of the model that answers, where it is not the claimed model's: the
context window its server publishes (vLLM publishes the loaded model's ``max_model_len`` whatever name it serves it
under, ``--served-model-name``), and whether a length-0 completion is refused as OpenAI's models refuse it. Each is
evidence, not proof (a relay may publish a number of its own): ``identity.known-limits`` grades it INFO.
"""

from __future__ import annotations

from dataclasses import dataclass

from relaycheck.probes.model_list import names_model

LENGTH_ZERO_SOURCE = ("OpenAI answers max_tokens 0 with a 400, 'You requested a length 0 completion, which is not "
                      "supported for this model' (microsoft/dp-few-shot-generation#23; stanford-crfm/helm#2317)")


@dataclass(frozen=True)
class KnownLimits:
    model: str  # the claimed name (a dated snapshot of it matches)
    window: int  # its context window: prompt plus completion, in tokens
    window_source: str
    refuses_length_zero: bool = True


KNOWN_LIMITS = (
    KnownLimits("gpt-3.5-turbo-instruct", 4096, "OpenAI's model table: gpt-3.5-turbo-instruct, 4,096 tokens "
                "(as copied at http://kler.cn/a/133209.html; OpenRouter lists 4,095)"),
    KnownLimits("davinci-002", 16384, "OpenAI's model table: 16,384 tokens (https://cloudprice.net/models/babbage-002 "
                "lists davinci-002 and babbage-002 at 16K)"),
    KnownLimits("babbage-002", 16384, "OpenAI's model table: 16,384 tokens (https://cloudprice.net/models/babbage-002)"),
)


def known_limits(model: str) -> KnownLimits | None:
    return next((k for k in KNOWN_LIMITS if names_model(model, k.model)), None)
