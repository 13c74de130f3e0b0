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

With ``--hf-out DIR`` it also writes the model's Hugging Face twin for vLLM: the same weights (Q/K rows put back
from llama.cpp's RoPE order into Hugging Face's rotate-half order) and the same byte-level BPE as a
``tokenizer.json``, so greedy output is the same text with either engine.

Usage: make_tiny_gguf.py [--out .cache/live/tiny.gguf] [--hf-out .cache/live/tiny-hf]   (always rewritten)
Needs the ``gguf`` and ``numpy`` packages (installed in .cache/live/venv-llama by setup.sh).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import struct
import sys
from dataclasses import dataclass
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

# The chat template (GGUF ``tokenizer.chat_template``; ``chat_template`` in the twin's tokenizer_config.json), kept in
# tiny-chat-template.jinja. ChatML's layout, its markers as plain text (the vocabulary has no ChatML tokens, and
# adding any would change the weights' random draws and so the Completions behaviour):
# ``<|im_start|>ROLE\nCONTENT<|im_end|>\n`` per message, tool definitions first in a system turn, an assistant's
# tool calls as ``<tool_call>{...}</tool_call>`` (the Hermes layout vLLM's hermes parser reads), content given as an
# array of parts rendered from its text parts (other parts are left out), then ``<|im_start|>assistant\n``. It is
# deliberately not llama-cpp-python's CHATML_CHAT_TEMPLATE string, so that server formats chat with this template
# (Jinja2ChatFormatter, "chat_template.default") instead of guessing its built-in "chatml" format. Generation ends at
# EOS, which both servers stop on. One line: whitespace never depends on a Jinja environment's trim settings.
CHAT_TEMPLATE = (Path(__file__).with_name("tiny-chat-template.jinja")).read_text(encoding="utf-8").rstrip("\n")

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


@dataclass(frozen=True)
class TinyModel:
    tokens: list[str]  # GPT-2 byte-alphabet strings
    merges: list[tuple[str, str]]
    eos_id: int
    tensors: dict[str, np.ndarray]  # GGUF names, llama.cpp's layout (Q/K rows in its RoPE order)


def make_model(seed: int = SEED) -> TinyModel:
    """The model's vocabulary and weights: deterministic (fixed seed, fixed order of draws)."""
    rng = np.random.default_rng(seed)
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

    tensors = {
        "token_embd.weight": embd,
        "output_norm.weight": np.ones(N_EMBD, dtype=f32),
        "output.weight": output,
    }
    for i in range(N_LAYER):
        p = f"blk.{i}."
        tensors[p + "attn_norm.weight"] = np.ones(N_EMBD, dtype=f32)
        tensors[p + "attn_q.weight"] = small(N_EMBD, N_EMBD, std=0.3)
        tensors[p + "attn_k.weight"] = small(N_HEAD_KV * head_dim, N_EMBD, std=0.3)
        tensors[p + "attn_v.weight"] = small(N_HEAD_KV * head_dim, N_EMBD, std=0.3)
        tensors[p + "attn_output.weight"] = keep_bias_unit(small(N_EMBD, N_EMBD, std=0.03))
        tensors[p + "ffn_norm.weight"] = np.ones(N_EMBD, dtype=f32)
        tensors[p + "ffn_gate.weight"] = small(N_FF, N_EMBD, std=0.3)
        tensors[p + "ffn_up.weight"] = small(N_FF, N_EMBD, std=0.3)
        tensors[p + "ffn_down.weight"] = keep_bias_unit(small(N_EMBD, N_FF, std=0.03))
    return TinyModel(tokens, merges, eos_id, tensors)


def build(out: Path, model: TinyModel) -> None:
    import gguf  # from .cache/live/venv-llama

    head_dim = N_EMBD // N_HEAD
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
    writer.add_token_list(model.tokens)
    writer.add_token_types([gguf.TokenType.NORMAL] * model.eos_id + [gguf.TokenType.CONTROL])
    writer.add_token_merges([f"{a} {b}" for a, b in model.merges])
    writer.add_bos_token_id(model.eos_id)
    writer.add_eos_token_id(model.eos_id)
    writer.add_add_bos_token(False)  # like OpenAI: the prompt is sent as it is
    writer.add_chat_template(CHAT_TEMPLATE)  # metadata only: the Completions behaviour is unchanged
    for name, array in model.tensors.items():
        writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(tmp, out)  # a running server that maps the old file keeps seeing the old file
    print(f"wrote {out.name} ({out.stat().st_size // 1024} KiB, {len(model.tokens)} tokens, "
          f"{len(model.merges)} merges, eos={model.eos_id})")


# -- the Hugging Face twin (for vLLM) ------------------------------------------------------------------------


def _unpermute(w: np.ndarray, n_head: int) -> np.ndarray:
    """Q/K rows from llama.cpp's RoPE order back to Hugging Face's rotate-half order.

    The inverse of the ``permute`` in llama.cpp's convert_hf_to_gguf.py (``reshape(n_head, 2, d/2, in)
    .swapaxes(1, 2)``), so both engines compute the same attention from the same weights.
    """
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def hf_tensors(model: TinyModel) -> dict[str, np.ndarray]:
    t = model.tensors
    out = {
        "model.embed_tokens.weight": t["token_embd.weight"],
        "model.norm.weight": t["output_norm.weight"],
        "lm_head.weight": t["output.weight"],
    }
    names = {"attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
             "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj",
             "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}
    for i in range(N_LAYER):
        p, hp = f"blk.{i}.", f"model.layers.{i}."
        out[hp + "self_attn.q_proj.weight"] = _unpermute(t[p + "attn_q.weight"], N_HEAD)
        out[hp + "self_attn.k_proj.weight"] = _unpermute(t[p + "attn_k.weight"], N_HEAD_KV)
        for gguf_name, hf_name in names.items():
            out[hp + hf_name + ".weight"] = t[p + gguf_name + ".weight"]
    return out


def write_safetensors(path: Path, tensors: dict[str, np.ndarray]) -> None:
    """The safetensors format by hand (an 8-byte header length, a JSON header, the raw little-endian data)."""
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    blobs = []
    for name, array in tensors.items():
        data = np.ascontiguousarray(array, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)
    with path.open("wb") as handle:
        handle.write(struct.pack("<Q", len(head)))
        handle.write(head)
        for blob in blobs:
            handle.write(blob)


def build_hf(out_dir: Path, model: TinyModel) -> None:
    """The same model as a Hugging Face directory: config.json, tokenizer files, model.safetensors."""
    tmp = out_dir.with_name(out_dir.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": N_EMBD,
        "intermediate_size": N_FF, "num_hidden_layers": N_LAYER, "num_attention_heads": N_HEAD,
        "num_key_value_heads": N_HEAD_KV, "head_dim": N_EMBD // N_HEAD, "vocab_size": len(model.tokens),
        "max_position_embeddings": N_CTX, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "hidden_act": "silu",
        "tie_word_embeddings": False, "bos_token_id": model.eos_id, "eos_token_id": model.eos_id,
        "torch_dtype": "float32", "attention_bias": False, "mlp_bias": False,
    }
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": model.eos_id, "content": EOS, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True}],
        "normalizer": None,
        # GPT-2's pre-tokenizer, as llama.cpp's "gpt-2" pre-tokenizer; no BOS is added (no post-processor)
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": {token: i for i, token in enumerate(model.tokens)},
                  "merges": [[a, b] for a, b in model.merges]},
    }
    tokenizer_config = {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": EOS, "eos_token": EOS,
                        "add_bos_token": False, "add_eos_token": False, "model_max_length": N_CTX,
                        "clean_up_tokenization_spaces": False, "chat_template": CHAT_TEMPLATE}
    (tmp / "config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
    (tmp / "tokenizer.json").write_text(json.dumps(tokenizer, ensure_ascii=False), encoding="utf-8")
    (tmp / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=1), encoding="utf-8")
    write_safetensors(tmp / "model.safetensors", hf_tensors(model))
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(tmp, out_dir)
    print(f"wrote {out_dir.name}/ (Hugging Face twin: config.json, tokenizer.json, model.safetensors)")


def main(argv: list[str] | None = None) -> int:
    root = Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=root / ".cache" / "live" / "tiny.gguf")
    parser.add_argument("--hf-out", type=Path, help="also write the Hugging Face twin (for vLLM) to this directory")
    parser.add_argument("--seed", type=int, default=SEED,
                        help="the weights' seed: another seed, another model with the same tokenizer (identity pair)")
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model = make_model(args.seed)
    build(args.out, model)
    if args.hf_out is not None:
        build_hf(args.hf_out, model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
