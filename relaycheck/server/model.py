"""The reference language model: an interpolated 4-gram model over the embedded corpus.

For a context it gives a short list of candidate tokens with scores (scaled log-probabilities of the
interpolated 4-gram/trigram/bigram/unigram model), and one shared *floor* score for every other token. The
distribution a token is sampled from is exactly ``softmax(adjusted_scores / temperature)`` over the whole
vocabulary, where the adjusted score adds ``logit_bias`` and subtracts the presence/frequency penalties
(OpenAI's formula). Because all non-candidates share the floor, the normaliser costs O(candidates), not
O(vocabulary): a token takes microseconds.

Reported logprobs are the log-softmax of that same distribution *before* top_p truncation; at temperature 0
(greedy) they are reported at temperature 1, i.e. the model's own distribution (greedy sampling has no
other distribution worth reporting: every other token would have logprob -inf).
"""

from __future__ import annotations

import functools
import itertools
import math
import random
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from relaycheck.server import corpus
from relaycheck.server.tokenizer import Tokenizer, corpus_tokenizer, default_tokenizer, encoding_tokenizer

MAX_CANDIDATES = 64  # per context; everything else scores the floor
UNIGRAM_CANDIDATES = 24  # most frequent tokens always considered, so unseen contexts still read like English
FLOOR_MASS = 1e-3  # probability mass (at temperature 1) spread over all non-candidate tokens
# Scores are SHARPNESS * log p. A model counted from a few kilobytes is over-confident: at temperature 1 it
# would repeat a handful of texts, and independent samples would often coincide. Greedy output is unchanged.
SHARPNESS = 0.7
# The least logprob reported: at a temperature near 0 every other token's logprob underflows to -inf, which JSON
# cannot carry (Python writes -Infinity, which no strict parser reads). vLLM clamps the same way, to the same value
# (vllm 0.32.0 vllm/entrypoints/openai/chat_completion/serving.py 1260: ``max(p[1].logprob, -9999.0)``).
LOGPROB_FLOOR = -9999.0
# Interpolation weights (4-gram, trigram, bigram, unigram) by the longest context seen in the corpus. Four tokens:
# cl100k splits ", 5" into ",", " ", "5", so only a 4-gram context tells which number comes next when counting.
_WEIGHTS = {4: (0.75, 0.2, 0.0, 0.05), 3: (0.0, 0.75, 0.2, 0.05), 2: (0.0, 0.0, 0.9, 0.1), 1: (0.0, 0.0, 0.0, 1.0)}
ORDER = 4
SALT_NOISE = 1.5  # log-scale spread of a salted model's probabilities around the unsalted ones


@dataclass(frozen=True)
class Candidates:
    tokens: tuple[int, ...]  # best first
    scores: tuple[float, ...]
    floor: float  # the score of every token not in ``tokens``


@dataclass(frozen=True)
class Sampling:
    """What shapes the next-token distribution, as requested (already validated)."""

    temperature: float = 1.0
    top_p: float = 1.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    logit_bias: Mapping[int, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    token: int
    logprob: float  # of ``token`` under the distribution it was sampled from (before top_p)
    top: tuple[tuple[int, float], ...]  # the ``top_n`` most likely tokens with their logprobs, best first


class NGramModel:
    """Immutable after training except for a bounded cache of candidate lists (one per seen context)."""

    def __init__(self, tokenizer: Tokenizer, documents: Sequence[tuple[str, float]], salt: int = 0) -> None:
        self.tokenizer = tokenizer
        # A non-zero salt makes another model from the same corpus: every candidate probability is scaled by a
        # pseudo-random factor fixed by (salt, context), so greedy answers and logprobs differ from the unsalted
        # model's as another model's would (the "another model under the same name" quirks).
        self.salt = salt
        eot = tokenizer.eot_id
        unigram: defaultdict[int, float] = defaultdict(float)
        # counts[k] maps a context of k tokens to the weighted counts of the token after it (k = 1..ORDER-1).
        self._counts: list[defaultdict[tuple[int, ...], defaultdict[int, float]]] = [
            defaultdict(lambda: defaultdict(float)) for _ in range(ORDER)
        ]
        for text, weight in documents:
            # Each document follows end-of-text (the context of an empty or null prompt) and ends with it.
            ids = [eot] * (ORDER - 1) + [*tokenizer.encode(text), eot]
            for i in range(ORDER - 1, len(ids)):
                token = ids[i]
                unigram[token] += weight
                for k in range(1, ORDER):
                    self._counts[k][tuple(ids[i - k : i])][token] += weight
        total = sum(unigram.values())
        best = sorted(unigram.items(), key=lambda item: (-item[1], item[0]))[:UNIGRAM_CANDIDATES]
        self._unigram_top = [(t, n / total) for t, n in best]
        self._floor_p = FLOOR_MASS / tokenizer.vocab_size
        self._ids = tokenizer.ids()  # valid ids need not be contiguous (cl100k's end-of-text is 100257)
        self._cache: dict[tuple[int, ...] | None, Candidates] = {}

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.vocab_size

    def candidates(self, context: Sequence[int]) -> Candidates:
        """Candidates after ``context`` (earlier tokens are padded with end-of-text)."""
        eot = self.tokenizer.eot_id
        recent = tuple(context[-(ORDER - 1) :])
        recent = (eot,) * (ORDER - 1 - len(recent)) + recent
        order = 1
        for k in range(ORDER - 1, 0, -1):
            if recent[-k:] in self._counts[k]:
                order = k + 1
                break
        key = recent[-(order - 1) :] if order > 1 else None
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._build(recent, order)
        return cached

    def _build(self, recent: tuple[int, ...], order: int) -> Candidates:
        weights = _WEIGHTS[order]  # by context length ORDER-1 .. 1, then the unigram weight
        eot = self.tokenizer.eot_id
        probs: defaultdict[int, float] = defaultdict(float)
        for k in range(ORDER - 1, 0, -1):
            weight = weights[ORDER - 1 - k]
            counts = self._counts[k].get(recent[-k:])
            if not (weight and counts):
                continue
            backoff = k < order - 1
            total = sum(counts.values())
            for token, n in counts.items():
                # End-of-text only where a document ended after this very context: from the backoff
                # orders it would end completions after almost any period.
                if not (backoff and token == eot):
                    probs[token] += weight * n / total
        for token, p in self._unigram_top:
            if token != eot or order == 1:
                probs[token] += weights[-1] * p
        if self.salt:
            noise = random.Random(hash((self.salt, order, recent[-(order - 1) :] if order > 1 else ())))
            for token in sorted(probs):
                probs[token] *= math.exp(SALT_NOISE * noise.gauss(0.0, 1.0))
        best = sorted(probs.items(), key=lambda item: (-item[1], item[0]))[:MAX_CANDIDATES]
        return Candidates(
            tokens=tuple(t for t, _ in best),
            scores=tuple(SHARPNESS * math.log(p + self._floor_p) for _, p in best),
            floor=math.log(self._floor_p),
        )

    # -- one sampling step -----------------------------------------------------------------------

    def step(
        self,
        context: Sequence[int],
        sampling: Sampling,
        rng: random.Random,
        counts: Mapping[int, int],
        top_n: int = 0,
        force: int | None = None,
    ) -> Step:
        """Sample the next token (or score ``force``) after ``context``.

        ``counts`` is how often each token was already generated in this completion (for the penalties).
        """
        cands = self.candidates(context)
        scores = dict(zip(cands.tokens, cands.scores, strict=True))
        adjusted = set(sampling.logit_bias) | {t for t, n in counts.items() if n}
        for token in adjusted:
            n = counts.get(token, 0)
            scores[token] = (
                scores.get(token, cands.floor)
                + sampling.logit_bias.get(token, 0.0)
                - n * sampling.frequency_penalty
                - (1.0 if n else 0.0) * sampling.presence_penalty
            )
        ranked = (
            sorted(scores.items(), key=lambda item: (-item[1], item[0])) if adjusted else list(scores.items())
        )
        rest = self.vocab_size - len(ranked)
        temperature = sampling.temperature if sampling.temperature > 0 else 1.0
        # log-softmax over the whole vocabulary: the explicit tokens plus ``rest`` tokens at the floor.
        peak = max(ranked[0][1], cands.floor) if rest else ranked[0][1]
        weights = [math.exp((s - peak) / temperature) for _, s in ranked]
        rest_weight = math.exp((cands.floor - peak) / temperature)
        log_z = math.log(sum(weights) + rest * rest_weight)

        def logprob(score: float) -> float:
            return max((score - peak) / temperature - log_z, LOGPROB_FLOOR)

        if force is not None:
            token = force
        elif sampling.temperature <= 0:
            token = (
                ranked[0][0] if ranked[0][1] >= cands.floor or not rest else self._rest_token(scores, None)
            )
        else:
            token = self._sample(ranked, weights, rest, rest_weight, sampling.top_p, scores, rng)
        top: tuple[tuple[int, float], ...] = ()
        if top_n:
            # Floor tokens only make the list when bias or penalties pushed candidates under the floor.
            floor = [(t, cands.floor) for t in self._rest_tokens(scores, top_n)]
            best = sorted(ranked[:top_n] + floor, key=lambda item: (-item[1], item[0]))[:top_n]
            top = tuple((t, logprob(s)) for t, s in best)
        return Step(token=token, logprob=logprob(scores.get(token, cands.floor)), top=top)

    def _sample(
        self,
        ranked: list[tuple[int, float]],
        weights: list[float],
        rest: int,
        rest_weight: float,
        top_p: float,
        scores: Mapping[int, float],
        rng: random.Random,
    ) -> int:
        # Nucleus: the smallest set of most likely tokens whose mass reaches top_p. The floor tokens form one
        # group that is kept or cut as a whole (they are equally likely, so any cut among them is arbitrary).
        total = sum(weights) + rest * rest_weight
        kept: list[tuple[int | None, float]] = []
        mass = 0.0
        group_done = rest == 0
        for (token, _), weight in zip(ranked, weights, strict=True):
            if not group_done and rest_weight > weight:
                kept.append((None, rest * rest_weight))
                mass += rest * rest_weight
                group_done = True
                if mass >= top_p * total:
                    break
            kept.append((token, weight))
            mass += weight
            if mass >= top_p * total:
                break
        else:
            if not group_done:
                kept.append((None, rest * rest_weight))
                mass += rest * rest_weight
        pick = rng.random() * mass
        for token, weight in kept:
            pick -= weight
            if pick < 0:
                return token if token is not None else self._rest_token(scores, rng)
        last = kept[-1][0]
        return last if last is not None else self._rest_token(scores, rng)

    def _rest_token(self, scores: Mapping[int, float], rng: random.Random | None) -> int:
        """A uniformly random floor token (the first one by id when ``rng`` is None)."""
        if rng is None:
            return next(self._rest_tokens(scores, 1))
        while True:
            token = self._ids[rng.randrange(len(self._ids))]
            if token not in scores:
                return token

    def _rest_tokens(self, scores: Mapping[int, float], count: int) -> Iterator[int]:
        """The first ``count`` floor tokens by id."""
        return itertools.islice((t for t in self._ids if t not in scores), count)


@functools.cache
def default_model() -> NGramModel:
    """The shared reference model (training takes a few tens of milliseconds, once per process)."""
    return NGramModel(default_tokenizer(), corpus.documents())


# The reference serves each listed name with its own model (same tokenizer): the cheaper names are other models.
MODEL_SALTS = {"davinci-002": 2, "babbage-002": 3}


def model_named(name: str) -> NGramModel:
    """The model served under ``name``: gpt-3.5-turbo-instruct (and any other name) is the default model."""
    salt = MODEL_SALTS.get(name)
    return salted_model(salt) if salt else default_model()


@functools.cache
def salted_model(salt: int, encoding: str = "cl100k_base") -> NGramModel:
    """Another model with the claimed model's tokenizer (a cheaper model served under the claimed name)."""
    tokenizer = default_tokenizer() if encoding == "cl100k_base" else encoding_tokenizer(encoding)
    return NGramModel(tokenizer, corpus.documents(), salt=salt)


@functools.cache
def other_tokenizer_model() -> NGramModel:
    """A model with another vocabulary (the corpus tokenizer) from the same corpus."""
    return NGramModel(corpus_tokenizer(), corpus.documents())


# The chat models the reference serves: each its own model over its real tokenizer, by (encoding, salt).
# gpt-3.5-turbo is the default model itself (cl100k, unsalted); gpt-4 is "the expensive model" with another salt, so
# identity checks can tell gpt-3.5-turbo served under the name gpt-4; the o200k pair exists only where the o200k
# rank file is installed (the o200k extra).
CHAT_MODEL_SPECS = {
    "gpt-3.5-turbo": ("cl100k_base", 0),
    "gpt-4": ("cl100k_base", 7),
    "gpt-4o": ("o200k_base", 8),
    "gpt-4o-mini": ("o200k_base", 9),
}


@functools.cache
def chat_model(name: str) -> NGramModel:
    """The model served under the chat name ``name`` (KeyError for a name the reference does not know)."""
    encoding, salt = CHAT_MODEL_SPECS[name]
    if encoding == "cl100k_base" and not salt:
        return default_model()
    return salted_model(salt, encoding)
