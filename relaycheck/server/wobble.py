"""How a faithful provider still varies between calls: logprob jitter and temperature-0 divergence.

Neither is a deviation (the spec promises no determinism, and real GPU inference wobbles), so they are server
settings (``ServerConfig.logprob_jitter``, ``ServerConfig.divergence``), not quirks: ``bench/identity_bench.py``
uses them to measure the model-fingerprint rule's false alarms between two faithful providers.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from relaycheck.server.model import NGramModel
from relaycheck.server.params import CompletionRequest


def diverge(model: NGramModel, request: CompletionRequest, rng: random.Random) -> CompletionRequest:
    """The request, made to take the runner-up token at one random position of a temperature-0 completion."""
    if request.sampling.temperature > 0 or not request.prompts or request.max_tokens < 1:
        return request
    position = rng.randrange(request.max_tokens)
    context = list(request.prompts[0])
    forced: list[int] = []
    for i in range(position + 1):
        step = model.step(context, request.sampling, rng, {}, top_n=2)
        token = step.top[1][0] if i == position and len(step.top) > 1 else step.token
        forced.append(token)
        context.append(token)
        if token == model.tokenizer.eot_id:
            break
    return dataclasses.replace(request, forced_prefix=tuple(forced))


def jitter_logprobs(obj: dict[str, Any], sigma: float, rng: random.Random) -> None:
    """Add Gaussian noise (standard deviation ``sigma``) to every reported logprob, keeping each at most 0
    (the legacy arrays of Completions and the entries of chat's ``logprobs.content``)."""
    def noisy(value: float) -> float:
        return min(0.0, value + rng.gauss(0.0, sigma))

    for choice in obj.get("choices") or []:
        lp = choice.get("logprobs") if isinstance(choice, dict) else None
        if not isinstance(lp, dict):
            continue
        for entry in lp.get("content") or [] if isinstance(lp.get("content"), list) else []:
            for item in [entry, *(entry.get("top_logprobs") or [])]:
                item["logprob"] = noisy(item["logprob"])
        values = lp.get("token_logprobs")
        if isinstance(values, list):
            lp["token_logprobs"] = [None if v is None else min(0.0, v + rng.gauss(0.0, sigma)) for v in values]
        for top in lp.get("top_logprobs") or []:
            if isinstance(top, dict):
                for key, value in top.items():
                    top[key] = min(0.0, value + rng.gauss(0.0, sigma))
