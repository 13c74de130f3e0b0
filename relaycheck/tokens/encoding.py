"""OpenAI's public BPE encodings loaded from installed packages, and prompt counting.

An ``Encoding`` is immutable after construction; ``get_encoding`` caches one per name for the process.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import importlib.util
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENDOFTEXT = "<|endoftext|>"


class TokenizerUnavailable(LookupError):
    """The encoding is unknown, or no installed package ships its rank file."""


@dataclass(frozen=True)
class _Spec:
    pat_str: str
    sha256: str  # of the rank file: the hash tiktoken pins in tiktoken_ext/openai_public.py
    special: dict[str, int]
    sources: tuple[tuple[str, str], ...]  # (top-level package, file inside it), first found wins


_SPECS = {
    "cl100k_base": _Spec(
        pat_str=r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""",  # noqa: E501 (the published pattern, verbatim)
        sha256="223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        special={
            ENDOFTEXT: 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            "<|endofprompt|>": 100276,
        },
        sources=(("tiktoken_ext", "data/cl100k_base.tiktoken"), ("bpe_openai", "data/cl100k_base.tiktoken.gz")),
    ),
    "o200k_base": _Spec(
        pat_str="|".join(
            [
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""\p{N}{1,3}""",
                r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
                r"""\s*[\r\n]+""",
                r"""\s+(?!\S)""",
                r"""\s+""",
            ]
        ),
        sha256="446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        special={ENDOFTEXT: 199999, "<|endofprompt|>": 200018},
        sources=(("bpe_openai", "data/o200k_base.tiktoken.gz"),),
    ),
}
KNOWN_ENCODINGS = tuple(_SPECS)


def _package_dirs(package: str) -> list[Path]:
    """Where a top-level package lives, without importing it (bpe_openai would load a 70 MB library)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return []
    return [Path(p) for p in spec.submodule_search_locations]


def _rank_file(name: str, spec: _Spec) -> bytes:
    for package, relative in spec.sources:
        for directory in _package_dirs(package):
            path = directory / relative
            if path.is_file():
                data = path.read_bytes()
                data = gzip.decompress(data) if path.suffix == ".gz" else data
                if hashlib.sha256(data).hexdigest() != spec.sha256:
                    raise TokenizerUnavailable(f"{path} is not the published {name} rank file (hash differs)")
                return data
    wanted = " or ".join(p for p, _ in spec.sources)
    raise TokenizerUnavailable(f"no installed package ships the {name} rank file (install {wanted})")


def _parse_ranks(data: bytes) -> dict[bytes, int]:
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


class Encoding:
    """One public encoding: exact encode/decode and vocabulary membership."""

    def __init__(self, name: str) -> None:
        spec = _SPECS.get(name)
        if spec is None:
            raise TokenizerUnavailable(f"unknown tokenizer {name!r} (known: {', '.join(KNOWN_ENCODINGS)})")
        import tiktoken  # here, not at module level: reading the config must not load the encoder

        ranks = _parse_ranks(_rank_file(name, spec))
        self.name = name
        self._core = tiktoken.Encoding(name, pat_str=spec.pat_str, mergeable_ranks=ranks, special_tokens=spec.special)
        self._ranks = ranks
        self._special = dict(spec.special)
        self._special_ids = {v: k for k, v in spec.special.items()}
        self.eot_token = spec.special[ENDOFTEXT]
        # Ordinary tokens have the dense ids 0..n_ordinary-1 (checked: the published files have no gaps).
        self.n_ordinary = len(ranks)
        if set(ranks.values()) != set(range(self.n_ordinary)):
            raise TokenizerUnavailable(f"{name} ranks are not dense")

    def __repr__(self) -> str:
        return f"Encoding({self.name!r})"

    # -- text -> ids ----------------------------------------------------------------------------

    def encode(self, text: str) -> list[int]:
        """Special-token text such as ``<|endoftext|>`` is encoded as ordinary text; lone surrogates as U+FFFD."""
        return self._core.encode_ordinary(text)

    def count(self, text: str) -> int:
        return len(self.encode(text))

    # -- ids -> text ------------------------------------------------------------------------------

    def is_token(self, token: int) -> bool:
        return 0 <= token < self.n_ordinary or token in self._special_ids

    def token_bytes(self, token: int) -> bytes:
        if token in self._special_ids:
            return self._special_ids[token].encode()
        return self._core.decode_single_token_bytes(token)

    def decode_bytes(self, tokens: Sequence[int]) -> bytes:
        return b"".join(self.token_bytes(t) for t in tokens)

    def decode(self, tokens: Sequence[int]) -> str:
        return self.decode_bytes(tokens).decode("utf-8", "replace")

    # -- vocabulary membership -------------------------------------------------------------------

    def token_id(self, piece: bytes) -> int | None:
        """The id of a token given its bytes, or None when those bytes are not one token of this vocabulary."""
        rank = self._ranks.get(piece)
        if rank is not None:
            return rank
        return self._special.get(piece.decode("utf-8", "replace")) if piece.startswith(b"<|") else None

    def label(self, token: int) -> str:
        """The token as OpenAI labels it in logprobs: its text, or ``bytes:\\xNN…`` for partial UTF-8."""
        data = self.token_bytes(token)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return label_of_bytes(data)


def label_of_bytes(data: bytes) -> str:
    return "bytes:" + "".join(f"\\x{b:02x}" for b in data)


def bytes_of_label(label: str) -> bytes:
    """Inverse of :meth:`Encoding.label`: ``bytes:\\xNN…`` labels give their bytes, other labels their UTF-8."""
    parts = label.split("\\x")
    if parts[0] == "bytes:" and len(parts) > 1 and all(_HEX_BYTE.fullmatch(p) for p in parts[1:]):
        return bytes.fromhex("".join(parts[1:]))
    return label.encode("utf-8", "surrogatepass")


_HEX_BYTE = re.compile("[0-9a-fA-F]{2}")


def encoding_available(name: str) -> bool:
    """Whether an installed package ships the rank file of ``name`` (checked without loading it)."""
    spec = _SPECS.get(name)
    if spec is None:
        return False
    return any((d / relative).is_file() for package, relative in spec.sources for d in _package_dirs(package))


@functools.cache
def get_encoding(name: str) -> Encoding:
    """The encoding called ``name`` (raises TokenizerUnavailable). Loading takes about 0.2 s, once per process."""
    return Encoding(name)


def encoding_for_model(model: str) -> str | None:
    """The encoding OpenAI's own table (tiktoken.model) gives the model name, or None when it has none.

    Only names tiktoken knows count: a relay's alias such as ``my-gpt`` has no known tokenizer.
    """
    import tiktoken.model

    try:
        name = tiktoken.model.encoding_name_for_model(model)
    except KeyError:
        return None
    return name if name in _SPECS else None


def prompt_token_counts(encoding: Encoding, prompt: Any) -> list[int] | None:
    """Tokens of each prompt in the request's ``prompt`` (every form the spec allows), or None if malformed.

    A string counts as one prompt, an array of strings or of token-id arrays as several, an array of integers as
    one prompt of those ids. Absent or null is the documented default ``<|endoftext|>``: one token.
    """
    if prompt is None:
        return [1]
    if isinstance(prompt, str):
        return [encoding.count(prompt)]
    if not isinstance(prompt, list) or not prompt:
        return None
    if all(_is_int(t) for t in prompt):
        return [len(prompt)]
    if all(isinstance(p, str) for p in prompt):
        return [encoding.count(p) for p in prompt]
    if all(isinstance(p, list) and all(_is_int(t) for t in p) for p in prompt):
        return [len(p) for p in prompt]
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
