"""Generating one choice: sampling, echo, stop sequences, logprobs and text offsets.

A :class:`ChoiceRun` is an iterator of *batches* of :class:`Token`. Streaming sends one chunk per batch;
the non-streamed answer joins all of them, so both carry the same text by construction. A batch is
normally one token; tokens are held back while they could be the start of a stop sequence (the returned
text must not contain the stop, even across token boundaries) or while they end inside a multi-byte
character, and are released together later.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from relaycheck.server.model import NGramModel, Sampling, Step
from relaycheck.server.params import CompletionRequest


@dataclass(frozen=True)
class Token:
    """One entry of the legacy logprobs arrays (and a piece of the choice text)."""

    text: str
    logprob: float | None  # None for the first echoed prompt token (nothing precedes it)
    top: dict[str, float] | None  # None when logprobs were not asked for, and for the first echoed token
    offset: int  # character offset in the choice text (echoed prompt included)
    # What chat logprobs add (Completions ignore them): the id, its ``logprobs`` most likely alternatives as
    # (id, logprob), and whether a stop sequence cut the token's text (then its bytes are the text's, not the id's).
    token_id: int = -1
    alternatives: tuple[tuple[int, float], ...] = ()
    cut: bool = False


@dataclass
class _Pending:
    token: int
    text: str
    step: Step | None  # None for the first echoed token
    echo: bool
    cut: bool = False


class ChoiceRun:
    """One completion for one prompt. Iterate it once; afterwards read the result attributes."""

    def __init__(
        self, model: NGramModel, prompt: Sequence[int], request: CompletionRequest, rng: random.Random
    ):
        self.model = model
        self.prompt = tuple(prompt)
        self.request = request
        self.rng = rng
        self.finish_reason: str | None = None
        self.completion_tokens = 0  # sampled tokens, end-of-text excluded (what usage counts)
        self.text = ""
        self._logprob_sum = 0.0
        self._steps = 0
        self._decoder = model.tokenizer.piece_decoder()
        self._pending: list[_Pending] = []
        self._offset = 0
        self._want_logprobs = request.logprobs is not None
        self._top_n = (request.logprobs or 0) + request.extra_alternatives if self._want_logprobs else 0

    @property
    def mean_logprob(self) -> float:
        """What best_of ranks candidates by: the mean logprob per sampled token (end-of-text included)."""
        return self._logprob_sum / self._steps if self._steps else 0.0

    def __iter__(self) -> Iterator[list[Token]]:
        if self.request.echo:
            yield from self._echo()
        model, request = self.model, self.request
        context = list(self.prompt)
        counts: dict[int, int] = {}
        track_counts = bool(request.sampling.presence_penalty or request.sampling.frequency_penalty)
        forced = list(request.forced_prefix)
        suffix = tuple(model.tokenizer.encode(request.suffix)) if request.suffix else ()
        for position in range(request.max_tokens):
            step = model.step(
                context,
                _insertion_sampling(request.sampling, suffix, position, model.tokenizer.eot_id),
                self.rng,
                counts,
                self._top_n,
                force=forced.pop(0) if forced else None,
            )
            self._steps += 1
            self._logprob_sum += step.logprob
            if step.token == model.tokenizer.eot_id or (suffix and position and step.token == suffix[0]):
                self.finish_reason = "stop"  # the end of text, or the insertion has reached the suffix
                break
            self.completion_tokens += 1
            context.append(step.token)
            if track_counts:
                counts[step.token] = counts.get(step.token, 0) + 1
            self._pending.append(_Pending(step.token, self._decoder.feed(step.token), step, echo=False))
            cut = self._stop_cut()
            if cut is not None:
                self.finish_reason = "stop"
                yield from self._cut(cut)
                return
            yield from self._release(self._releasable_chars())
        else:
            self.finish_reason = "length"
        tail = self._decoder.flush()  # an unfinished multi-byte character at the end becomes U+FFFD
        if tail and self._pending:
            self._pending[-1].text += tail
        yield from self._release(sum(len(p.text) for p in self._pending))

    # -- echo ------------------------------------------------------------------------------------

    def _echo(self) -> Iterator[list[Token]]:
        model, request = self.model, self.request
        for i, token in enumerate(self.prompt):
            step = None
            if i and self._want_logprobs:  # score the prompt token as if it had been generated
                step = model.step(self.prompt[:i], request.sampling, self.rng, {}, self._top_n, force=token)
            self._pending.append(_Pending(token, self._decoder.feed(token), step, echo=True))
        yield from self._release(self._releasable_chars())

    # -- stop sequences and hold-back ------------------------------------------------------------

    def _pending_text(self) -> tuple[str, int]:
        """The pending text, and where its generated part starts (stops never match the echoed prompt)."""
        text = "".join(p.text for p in self._pending)
        echoed = sum(len(p.text) for p in self._pending if p.echo)
        return text, echoed

    def _stop_cut(self) -> int | None:
        """Where the pending text must end because a stop sequence occurs in it, else None."""
        if not self.request.stop:
            return None
        text, start = self._pending_text()
        best: tuple[int, int] | None = None
        for stop in self.request.stop:
            at = text.find(stop, start)
            if at >= 0 and (best is None or at < best[0]):
                best = (at, len(stop))
        if best is None:
            return None
        if self.request.include_stop:
            return best[0] + best[1]
        return best[0] + min(self.request.stop_overhang, best[1] - 1)

    def _releasable_chars(self) -> int:
        """How much of the pending text can be sent: all of it unless it could still become a stop."""
        text, _ = self._pending_text()
        hold = 0
        for stop in self.request.stop:
            for size in range(min(len(stop) - 1, len(text)), hold, -1):
                if text.endswith(stop[:size]):
                    hold = size
                    break
        return len(text) - hold

    def _release(self, limit: int) -> Iterator[list[Token]]:
        """Release the whole pending tokens that fit in the first ``limit`` characters of the pending text."""
        if self._decoder.busy() and self.finish_reason is None:
            return  # a token ended inside a character: wait for the rest (or the end, which flushes it)
        batch: list[Token] = []
        used = 0
        while self._pending and used + len(self._pending[0].text) <= limit:
            pending = self._pending.pop(0)
            used += len(pending.text)
            batch.append(self._finish(pending))
        if batch:
            yield batch

    def _cut(self, limit: int) -> Iterator[list[Token]]:
        """Stop: release the text before ``limit`` (shortening the token it falls in) and drop the rest."""
        batch: list[Token] = []
        used = 0
        for pending in self._pending:
            if used >= limit:
                break
            pending.cut = len(pending.text) > limit - used
            pending.text = pending.text[: limit - used]
            used += len(pending.text)
            batch.append(self._finish(pending))
        self._pending.clear()
        if batch:
            yield batch

    def _finish(self, pending: _Pending) -> Token:
        self.text += pending.text
        token = Token(
            text=pending.text,
            logprob=pending.step.logprob if pending.step else None,
            top=self._top(pending),
            offset=self._offset,
            token_id=pending.token,
            alternatives=pending.step.top if pending.step else (),
            cut=pending.cut,
        )
        self._offset += len(pending.text)
        return token

    def _top(self, pending: _Pending) -> dict[str, float] | None:
        """The ``logprobs`` most likely alternatives plus the sampled token (up to logprobs+1 entries).

        With ``logprobs: 0`` that is just the sampled token. (OpenAI was observed to send ``top_logprobs:
        null`` then; a one-entry dict per position is what the schema and the "+1" rule describe.)
        """
        if not self._want_logprobs or pending.step is None:
            return None
        # The sampled token is always present, under the same string as in the tokens array.
        label = self.model.tokenizer.token_label
        entries = [(label(t), lp) for t, lp in pending.step.top if t != pending.token]
        entries.append((pending.text, pending.step.logprob))
        entries.sort(key=lambda item: -item[1])
        return dict(entries)


SUFFIX_PULL = 3.0  # logit bonus for the suffix's tokens: the insertion is written towards what follows it


def _insertion_sampling(sampling: Sampling, suffix: Sequence[int], position: int, eot: int) -> Sampling:
    """With a suffix the model writes an insertion: it leans towards the suffix's tokens, and the suffix's first
    token ends the insertion, not the end of text (it is banned as the very first token: an insertion has
    content)."""
    if not suffix:
        return sampling
    bias = dict(sampling.logit_bias)
    bias[eot] = -100.0
    for token in suffix[1:]:
        bias[token] = bias.get(token, 0.0) + SUFFIX_PULL
    if position == 0:
        bias[suffix[0]] = -100.0
    return dataclasses.replace(sampling, logit_bias=bias)
