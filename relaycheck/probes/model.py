"""What a probe is: a declared request, built from the provider's claim and the answers it depends on.

A probe is a request and nothing else: no assertion lives here. Each is sent at most once per provider, and every
check that needs its answer reads the same recording. The probes themselves are declared per endpoint
(``relaycheck.probes.catalogue`` for Completions, ``relaycheck.probes.chat`` for chat).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from relaycheck.endpoint import Endpoint
from relaycheck.transport.client import Auth, Method
from relaycheck.transport.exchange import Exchange


class PreconditionFailed(Exception):
    """A dependent probe cannot be built because the answer it derives from is unusable."""


@dataclass(frozen=True)
class ProbeContext:
    model: str  # the model the provider sells on the probe's endpoint
    done: Mapping[str, Exchange]  # the recordings of this probe's dependencies
    cheaper_model: str | None = None  # a cheaper model the provider serves too (providers.yaml cheaper_models)
    context_length: int | None = None  # the model's context window, when the provider states it


Body = dict[str, Any] | str


@dataclass(frozen=True)
class Probe:
    id: str
    purpose: str
    build: Callable[[ProbeContext], Body]
    auth: Auth = "valid"
    depends_on: tuple[str, ...] = ()
    # The optional feature this probe exercises, as the request fields that make it up: a clean 4xx here means
    # the provider does not support it (its refusable check grades `unsupported`), and any other request using
    # those fields that is refused the same way is not failed again (relaycheck.checks.model.Recorded.excused).
    optional: tuple[str, ...] = ()
    streams: str | None = None  # the plain probe this one is the streamed twin of (same body, stream: true)
    method: Method = "POST"
    path: str | None = None  # under the base URL, when it is not the endpoint's own (the model list's "models")
    endpoint: Endpoint = Endpoint.COMPLETIONS  # whose request it is: its model, its path, its checks

    def __post_init__(self) -> None:
        assert Endpoint.of_probe(self.id) is self.endpoint, f"probe {self.id}: its id must carry its endpoint's prefix"

    @property
    def url_path(self) -> str:
        return self.path or self.endpoint.path

    def is_error_probe(self) -> bool:
        return self.id.removeprefix(self.endpoint.probe_prefix).startswith("error-")

    def is_completion(self) -> bool:
        """A request for a completion (POST to its endpoint): an answer, a refusal, a stream."""
        return self.method == "POST" and self.path is None


# -- helpers the probes of every endpoint share ------------------------------------------------------------------


def answer_text(ctx: ProbeContext, probe: str) -> str:
    """The first choice's text (chat: message content) of dependency ``probe``'s successful answer."""
    ex = ctx.done.get(probe)
    body = ex.json() if ex is not None and ex.succeeded else None
    try:
        choice = body["choices"][0]  # type: ignore[index]
        text = choice["message"]["content"] if "message" in choice else choice["text"]
    except (TypeError, KeyError, IndexError):
        raise PreconditionFailed(f"the temperature-0 generation ('{probe}') gave no text") from None
    if not isinstance(text, str) or len(text) < 3:
        raise PreconditionFailed(f"the temperature-0 generation is too short to pick a stop sequence: {text!r}")
    return text


def pick_stop(text: str) -> tuple[str, int]:
    """A stop sequence taken from the middle of ``text`` whose first occurrence is where it was taken.

    Returns the sequence and the index where the text must end when it is honoured.
    """
    for start in [*range(len(text) // 2, len(text) - 1), *range(len(text) // 2 - 1, 0, -1)]:
        for length in (2, 3, 4, 6):
            candidate = text[start : start + length]
            if len(candidate) == length and candidate.strip() and text.find(candidate) == start:
                return candidate, start
    raise PreconditionFailed(f"no usable stop sequence in {text!r}")


def streamed(plain: Probe, purpose: str = "", probe_id: str = "", **extra: Any) -> Probe:
    """The streamed twin of ``plain``: its very body with ``stream: true`` (and ``extra``), paired by ``streams``.

    Built from the plain probe's own builder, so the twins cannot drift apart when one is changed.
    """

    def build(ctx: ProbeContext) -> Body:
        body = plain.build(ctx)
        assert isinstance(body, dict)
        return {**body, "stream": True, **extra}

    # An optional feature streamed is that feature with stream; a plain probe of no optional feature gives none
    # (stream itself is not optional).
    optional = (*plain.optional, "stream") if plain.optional else ()
    prefix = plain.endpoint.probe_prefix
    streamed_id = probe_id or f"{prefix}stream-{plain.id.removeprefix(prefix)}"
    return Probe(streamed_id, purpose or f"{plain.purpose}, streamed", build,
                 plain.auth, plain.depends_on, optional, streams=plain.id, endpoint=plain.endpoint)
