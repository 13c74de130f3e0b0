"""Defaults: what a request that leaves optional fields out must get (CreateCompletionRequest defaults).

On Chat Completions ``chat-basic`` is the request that leaves them out (no n, logprobs, stream or tools): the n and
logprobs checks judge it there too (``chat.defaults.*``, CreateChatCompletionRequest's defaults are the same).
"""

from __future__ import annotations

from relaycheck.checks.model import Level, Outcome, Recorded, check, expect, on_endpoint
from relaycheck.checks.shape import usage_of
from relaycheck.endpoint import Endpoint
from relaycheck.probes.catalogue import COUNTING

FEATURE = "defaults"
SPEC = "openai-openapi@f85dbe22 CreateCompletionRequest"
CHAT = Endpoint.CHAT


def _defaults_probe(r: Recorded) -> str:
    """The request that sets none of the optional fields: Completions' ``defaults``, chat's ``basic``."""
    return "basic" if r.endpoint is CHAT else "defaults"


@check(
    "defaults.max-tokens",
    title="max_tokens defaults to 16",
    clause=f"{SPEC}.max_tokens: default 16",
    level=Level.MUST,
    feature=FEATURE,
    probes=("defaults",),
    fails_on=("max-tokens-default-unlimited",),
    seeds="xuedingmao documents default 16; gptnb gives no default",
    deviations=("D15",),
)
def max_tokens(r: Recorded) -> Outcome:
    tokens = usage_of(r, "defaults").get("completion_tokens")
    # Only billing is visible here (a logprobs request would not test the defaults): say what was seen.
    return expect(isinstance(tokens, int) and tokens <= 16, "usage reports more than 16 completion tokens for a "
                  "request without max_tokens (default not applied, or usage inflated: see params.max-tokens)",
                  "completion_tokens <= 16", f"completion_tokens {tokens!r}")


@check(
    "defaults.n",
    title="n defaults to 1",
    clause=f"{SPEC}.n: default 1",
    level=Level.MUST,
    feature=FEATURE,
    probes=("defaults",),
    fails_on=("n-default-2",),
    deviations=("D15",),
)
def n(r: Recorded) -> Outcome:
    count = len(r.choices(_defaults_probe(r)))
    return expect(count == 1, "more than one choice without n", "1 choice", f"{count} choices")


@check(
    "defaults.echo",
    title="echo defaults to false",
    clause=f"{SPEC}.echo: default false",
    level=Level.MUST,
    feature=FEATURE,
    probes=("defaults",),
    fails_on=("echo-default-on",),
    seeds="xuedingmao documents default false",
    deviations=("D15",),
)
def echo(r: Recorded) -> Outcome:
    text = r.text("defaults")
    return expect(not text.startswith(COUNTING), "the prompt was echoed although echo was not asked for",
                  "the completion only", repr(text[:80]))


@check(
    "defaults.logprobs",
    title="logprobs defaults to null",
    clause=f"{SPEC}.logprobs: default null",
    level=Level.MUST,
    feature=FEATURE,
    probes=("defaults",),
    fails_on=("logprobs-default-on",),
    seeds="gptnb and xuedingmao type logprobs as null",
    deviations=("D15",),
)
def logprobs(r: Recorded) -> Outcome:
    value = r.choices(_defaults_probe(r))[0].get("logprobs")
    return expect(value is None, "log probabilities returned although not asked for", "logprobs: null",
                  repr(value)[:120])


CHECKS = (max_tokens, n, echo, logprobs)

# -- the same on Chat Completions ---------------------------------------------------------------------------------

CHAT_SPEC = "openai-openapi@f85dbe22 CreateChatCompletionRequest"
CHAT_CHECKS = (
    on_endpoint(n, CHAT, probes=("basic",), fails_on=("chat-n-default-2",), clause=f"{CHAT_SPEC}.n: default 1"),
    on_endpoint(logprobs, CHAT, probes=("basic",), fails_on=("logprobs-default-on",),
                clause=f"{CHAT_SPEC}.logprobs: default false (choices[].logprobs null)",
                title="logprobs defaults to false: logprobs null"),
)
CHECKS += CHAT_CHECKS
