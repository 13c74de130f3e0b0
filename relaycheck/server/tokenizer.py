"""The reference provider's tokenizers.

The default is the claimed model's own: ``cl100k_base``, the tokenizer of gpt-3.5-turbo-instruct, so the
reference's usage counts and logprobs tokens are exactly what the real model's tokenizer gives (relaycheck.tokens
loads it offline). Its ids 0-255 are the 256 single bytes in GPT-2's ``bytes_to_unicode`` order (id 0 is ``!``,
id 13 is ``.``), as in GPT-2, p50k and llama.cpp's ``gpt2`` vocabularies, which the probes' token-id prompts rely on.

The second, :class:`CorpusTokenizer`, is a small byte-level vocabulary of its own (the same 256 byte ids, then
word-ish tokens from the embedded corpus, then ``<|endoftext|>``), greedy longest match. It stands for "another
tokenizer under the same name" in the quirks: its word ids mean other words than cl100k's.
"""

from __future__ import annotations

import codecs
import functools
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

from relaycheck import tokens
from relaycheck.server import corpus

END_OF_TEXT = "<|endoftext|>"

# GPT-2's pre-tokenisation pattern restricted to ASCII classes: the corpus is ASCII, and non-ASCII text is
# covered by the byte tokens anyway.
_PIECE_RE = re.compile(r"'(?:s|t|re|ve|m|ll|d)| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+")


def gpt2_byte_order() -> list[int]:
    """The byte values in the order GPT-2 gives them token ids (its ``bytes_to_unicode`` ordering)."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    return printable + [b for b in range(256) if b not in printable]


class Tokenizer:
    """What the server needs of a tokenizer. Immutable after construction; share one instance."""

    eot_id: int
    vocab_size: int  # how many ids are valid (ordinary tokens plus end-of-text)
    max_id: int
    dense_size: int  # every id below it is valid (cl100k: 100256; end-of-text lies beyond a gap)
    encoding_name: str  # the public encoding's name (cl100k_base), or "corpus"

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def token_bytes(self, token: int) -> bytes:
        raise NotImplementedError

    def is_valid(self, token: int) -> bool:
        raise NotImplementedError

    def ids(self) -> Sequence[int]:
        """Every valid id, ascending: ``len(ids()) == vocab_size``."""
        raise NotImplementedError

    def decode(self, ids: Sequence[int]) -> str:
        data = b"".join(self.token_bytes(t) for t in ids)
        try:
            return data.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            return data.decode("utf-8", "replace")

    def token_label(self, token: int) -> str:
        """The token as a stand-alone string: its text, or ``bytes:\\xNN…`` for a partial UTF-8 sequence.

        This is how OpenAI labels such tokens in ``top_logprobs``.
        """
        data = self.token_bytes(token)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return "bytes:" + "".join(f"\\x{b:02x}" for b in data)

    def piece_decoder(self) -> TextPieces:
        return TextPieces(self)


class _OrdinaryAndEot(Sequence[int]):
    """The ids ``0..n-1`` and then ``eot`` (cl100k has unused ids between its ordinary tokens and end-of-text)."""

    def __init__(self, n: int, eot: int) -> None:
        self._n, self._eot = n, eot

    def __len__(self) -> int:
        return self._n + 1

    def __getitem__(self, index):  # type: ignore[no-untyped-def]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index <= self._n:
            raise IndexError(index)
        return self._eot if index == self._n else index

    def __iter__(self) -> Iterator[int]:
        yield from range(self._n)
        yield self._eot

    def __contains__(self, token: object) -> bool:
        return isinstance(token, int) and (0 <= token < self._n or token == self._eot)


class EncodingTokenizer(Tokenizer):
    """A public OpenAI encoding (ordinary tokens and ``<|endoftext|>``; the other special tokens are not served)."""

    def __init__(self, encoding: tokens.Encoding) -> None:
        self.encoding = encoding
        self.encoding_name = encoding.name
        self.eot_id = encoding.eot_token
        self._ids = _OrdinaryAndEot(encoding.n_ordinary, encoding.eot_token)
        self.vocab_size = len(self._ids)
        self.max_id = encoding.eot_token
        self.dense_size = encoding.n_ordinary

    def encode(self, text: str) -> list[int]:
        """Exact cl100k ids. ``<|endoftext|>`` in text is ordinary text; lone surrogates are encoded as U+FFFD."""
        return self.encoding.encode(text)

    def token_bytes(self, token: int) -> bytes:
        return self.encoding.token_bytes(token)

    def is_valid(self, token: int) -> bool:
        return token in self._ids

    def ids(self) -> Sequence[int]:
        return self._ids


class CorpusTokenizer(Tokenizer):
    """A vocabulary of its own: byte tokens in GPT-2 order, corpus words, numbers, then ``<|endoftext|>``."""

    def __init__(self, words: Iterable[str]) -> None:
        pieces: list[bytes] = [bytes([b]) for b in gpt2_byte_order()]
        seen = set(pieces)
        for word in words:
            raw = word.encode("utf-8")
            if raw not in seen:
                seen.add(raw)
                pieces.append(raw)
        self._pieces: tuple[bytes, ...] = tuple(pieces)
        self.encoding_name = "corpus"
        self.eot_id = len(pieces)
        self._ids = {piece: i for i, piece in enumerate(pieces)}
        self._max_len = max(len(p) for p in pieces)
        self.vocab_size = len(pieces) + 1
        self.max_id = self.eot_id
        self.dense_size = self.vocab_size

    def encode(self, text: str) -> list[int]:
        """Greedy longest match. ``<|endoftext|>`` in text is ordinary text, as in tiktoken's default."""
        data = text.encode("utf-8", "surrogatepass")  # lone surrogates can arrive through JSON escapes
        ids: list[int] = []
        pos, end = 0, len(data)
        lookup = self._ids
        while pos < end:
            for size in range(min(self._max_len, end - pos), 0, -1):
                token = lookup.get(data[pos : pos + size])
                if token is not None:
                    ids.append(token)
                    pos += size
                    break
        return ids

    def token_bytes(self, token: int) -> bytes:
        if token == self.eot_id:
            return END_OF_TEXT.encode()
        return self._pieces[token]

    def is_valid(self, token: int) -> bool:
        return 0 <= token < self.vocab_size

    def ids(self) -> Sequence[int]:
        return range(self.vocab_size)


class TextPieces:
    """Turns a token stream into text pieces whose concatenation is the decoded text.

    A token that ends inside a multi-byte character yields ``""``; the token completing the character
    yields it. Invalid bytes become U+FFFD. ``"".join(pieces) == text`` therefore holds for any token
    stream, which is what the logprobs ``tokens`` array and the streamed chunks need.
    """

    def __init__(self, tokenizer: Tokenizer) -> None:
        self._tokenizer = tokenizer
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def feed(self, token: int) -> str:
        return self._decoder.decode(self._tokenizer.token_bytes(token))

    def busy(self) -> bool:
        """True while the bytes fed so far end inside a character."""
        return bool(self._decoder.getstate()[0])

    def flush(self) -> str:
        return self._decoder.decode(b"", final=True)


def _corpus_words() -> list[str]:
    counts: Counter[str] = Counter()
    for doc, _ in corpus.documents():
        counts.update(m.group(0) for m in _PIECE_RE.finditer(doc))
    numbers = [f"{prefix}{i}" for i in range(corpus.NUMBER_TOKENS + 1) for prefix in ("", " ")]
    # Frequent pieces first, ties alphabetically: the order (hence every id) is fixed by the corpus alone.
    words = sorted((w for w in counts if len(w.encode()) > 1), key=lambda w: (-counts[w], w))
    return words + numbers


@functools.cache
def default_tokenizer() -> Tokenizer:
    """The claimed model's tokenizer, cl100k_base (loaded once per process, about 0.2 s)."""
    return EncodingTokenizer(tokens.get_encoding("cl100k_base"))


@functools.cache
def encoding_tokenizer(name: str) -> Tokenizer:
    """Another public encoding (o200k_base for the gpt-4o chat models), loaded once per process."""
    return default_tokenizer() if name == "cl100k_base" else EncodingTokenizer(tokens.get_encoding(name))


@functools.cache
def corpus_tokenizer() -> Tokenizer:
    """Another vocabulary, for the quirk that serves another tokenizer under the same model name."""
    return CorpusTokenizer(_corpus_words())
