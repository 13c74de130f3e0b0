"""Write a tiny llama-architecture GGUF model for the live certification run (no download needed).

The model is nonsense on purpose (deterministic random weights), but it is a real model that llama.cpp loads and
samples from, with a real byte-level BPE (``gpt2``) tokenizer:

* ids 0-255 are the 256 single bytes **in GPT-2's byte order** (GPT-2's ``bytes_to_unicode`` alphabet), so the
  token-id probes of relaycheck (``[39, 68, 75, 75, 78]`` is "Hello", ``13`` is ".") mean the same text here as
  with OpenAI's tokenizers;
* then a few hundred BPE merges learnt from a small built-in corpus, then ``<|endoftext|>`` (BOS = EOS, as GPT-2).

Shaping of the output layer, so that completions behave like text rather than like random bytes:

* embedding dimension 0 is a large constant in every token, and the blocks' weights are small, so after the
  final RMS norm hidden dimension 0 is a near-constant "bias unit";
* the output weights use it as a per-token bias: bytes that are not printable ASCII (and tokens built from them)
  get a large negative bias, so generated text is always valid UTF-8 (no artefacts from split multi-byte
  characters); EOS gets a moderate bias, so sampled completions sometimes end on their own while the greedy
  continuations of relaycheck's prompts run to ``max_tokens``.

Usage: make_tiny_gguf.py [--out .cache/live/tiny.gguf]   (always rewritten: cheap and deterministic)
Needs the ``gguf`` and ``numpy`` packages (installed in .cache/live/venv-llama by setup.sh).
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import sys
from pathlib import Path

import numpy as np

SEED = 20261123
N_EMBD = 64
N_LAYER = 2
N_HEAD = 2
N_HEAD_KV = 1
N_FF = 128
N_CTX = 2048
N_MERGES = 320
BIAS_UNIT = 8.0  # embedding dimension 0 of every token
OUT_STD = 0.35  # spread of the output logits (text variety at temperature 1)
EOS_BIAS = 2.0  # logit bias of EOS relative to ordinary tokens
BANNED_BIAS = -30.0  # logit bias of non-printable / non-ASCII bytes
EOS = "<|endoftext|>"

CORPUS = """
1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20.
Say this is a test. This is a test. This is only a test.
Hello, world! Hello there. Hello again, my friend.
The quick brown fox jumps over the lazy dog. The dog sleeps in the sun.
Once upon a time there was a little model that wrote the same words again and again.
It was the best of times, it was the worst of times, it was the age of wisdom.
def main():
    return x + 1
print("hello")
A relay forwards the request to the server, and the server answers with a completion.
The answer is yes. The answer is no. The answer is maybe.
One, two, three, four, five, six, seven, eight, nine, ten.
Certification means checking that every response looks like the specification says it should.
Streaming sends data events until the final done marker; errors carry a message, a type and a code.
Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday.
January, February, March, April, May, June, July, August, September, October, November, December.
Small models say strange things, but they say them quickly and cheaply, which is all a test needs.
"""


def bytes_to_unicode() -> list[tuple[int, str]]:
    """GPT-2's reversible byte -> printable character map, in GPT-2's vocabulary order (ids 0-255)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) + list(
        range(ord("\u00ae"), ord("\u00ff") + 1)
    )
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [(b, chr(c)) for b, c in zip(bs, cs, strict=True)]


PRETOKEN = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""")


def learn_merges(corpus: str, byte_char: dict[int, str], n_merges: int) -> list[tuple[str, str]]:
    """A plain BPE training over GPT-2-style pre-tokens (deterministic: ties broken by the pair itself)."""
    words = collections.Counter(
        tuple(byte_char[b] for b in piece.encode("utf-8")) for piece in PRETOKEN.findall(corpus)
    )
    merges: list[tuple[str, str]] = []
    while len(merges) < n_merges:
        pairs: collections.Counter[tuple[str, str]] = collections.Counter()
        for word, count in words.items():
            for a, b in zip(word, word[1:], strict=False):
                pairs[(a, b)] += count
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        joined = best[0] + best[1]
        new_words: collections.Counter[tuple[str, ...]] = collections.Counter()
        for word, count in words.items():
            out: list[str] = []
            i = 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(joined)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            new_words[tuple(out)] += count
        words = new_words
    return merges


def build(out: Path) -> None:
    import gguf  # from .cache/live/venv-llama

    rng = np.random.default_rng(SEED)
    alphabet = bytes_to_unicode()
    byte_char = dict(alphabet)
    char_byte = {c: b for b, c in alphabet}

    tokens = [c for _, c in alphabet]  # ids 0-255: bytes in GPT-2 order
    merges = learn_merges(CORPUS, byte_char, N_MERGES)
    for a, b in merges:
        if a + b not in tokens:
            tokens.append(a + b)
    eos_id = len(tokens)
    tokens.append(EOS)
    n_vocab = len(tokens)
    token_types = [gguf.TokenType.NORMAL] * eos_id + [gguf.TokenType.CONTROL]

    def printable(token: str) -> bool:
        return all(0x20 <= char_byte[c] < 0x7F or char_byte[c] == 0x0A for c in token)

    bias = np.array([0.0 if printable(t) else BANNED_BIAS for t in tokens[:eos_id]] + [EOS_BIAS], dtype=np.float32)

    f32 = np.float32
    head_dim = N_EMBD // N_HEAD

    def small(*shape: int, std: float = 0.02) -> np.ndarray:
        return (rng.standard_normal(shape) * std).astype(f32)

    def keep_bias_unit(w: np.ndarray) -> np.ndarray:
        w[0, :] = 0.0  # the blocks never write to the residual's dimension 0
        return w

    embd = rng.standard_normal((n_vocab, N_EMBD)).astype(f32)
    embd[:, 0] = BIAS_UNIT
    # After the final RMS norm, hidden[0] ~ BIAS_UNIT / rms(embedding) for every position.
    h0 = BIAS_UNIT / float(np.sqrt((BIAS_UNIT**2 + (N_EMBD - 1)) / N_EMBD))
    output = (rng.standard_normal((n_vocab, N_EMBD)) * OUT_STD).astype(f32)
    output[:, 0] = bias / h0

    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    writer = gguf.GGUFWriter(str(tmp), "llama")
    writer.add_name("relaycheck-tiny")
    writer.add_context_length(N_CTX)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD_KV)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(10000.0)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    writer.add_token_list(tokens)
    writer.add_token_types(token_types)
    writer.add_token_merges([f"{a} {b}" for a, b in merges])
    writer.add_bos_token_id(eos_id)
    writer.add_eos_token_id(eos_id)
    writer.add_add_bos_token(False)  # like OpenAI: the prompt is sent as it is

    writer.add_tensor("token_embd.weight", embd)
    writer.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=f32))
    writer.add_tensor("output.weight", output)
    for i in range(N_LAYER):
        p = f"blk.{i}."
        writer.add_tensor(p + "attn_norm.weight", np.ones(N_EMBD, dtype=f32))
        writer.add_tensor(p + "attn_q.weight", small(N_EMBD, N_EMBD, std=0.3))
        writer.add_tensor(p + "attn_k.weight", small(N_HEAD_KV * head_dim, N_EMBD, std=0.3))
        writer.add_tensor(p + "attn_v.weight", small(N_HEAD_KV * head_dim, N_EMBD, std=0.3))
        writer.add_tensor(p + "attn_output.weight", keep_bias_unit(small(N_EMBD, N_EMBD, std=0.03)))
        writer.add_tensor(p + "ffn_norm.weight", np.ones(N_EMBD, dtype=f32))
        writer.add_tensor(p + "ffn_gate.weight", small(N_FF, N_EMBD, std=0.3))
        writer.add_tensor(p + "ffn_up.weight", small(N_FF, N_EMBD, std=0.3))
        writer.add_tensor(p + "ffn_down.weight", keep_bias_unit(small(N_EMBD, N_FF, std=0.03)))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(tmp, out)  # a running server that maps the old file keeps seeing the old file
    print(f"wrote {out} ({out.stat().st_size // 1024} KiB, {n_vocab} tokens, {len(merges)} merges, eos={eos_id})")


def main(argv: list[str] | None = None) -> int:
    root = Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=root / ".cache" / "live" / "tiny.gguf")
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    build(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
