"""The identity live pair: does the model-fingerprint rule tell two real models apart, and one model from itself?

    .venv/bin/python scripts/live/identity_pair.py reports/live/llama-cpp.json reports/live/litellm.json \
        reports/live/identity-pair/litellm-other.json        # run_live.py runs it after the certification

run_live.py serves two tiny models that share one tokenizer and differ only in their weights (make_tiny_gguf.py
--seed) under the same name, gpt-3.5-turbo-instruct: ``llama-cpp`` serves the first directly, ``litellm`` the
same model behind LiteLLM, and ``litellm-other`` the second model behind another LiteLLM. relaycheck's same-model
rule (relaycheck/identity/fingerprint.py, the one ``compare`` and ``diff`` apply) must say "same model" for the
first two and "different models" for the first and the third. The tokenizer cannot tell them apart (it is the
same); only the fingerprint can, as with a substitute that shares the claimed model's tokenizer.

Each pair is judged on Completions and, when both sides certified Chat Completions, on chat too: the chat
fingerprint (``chat-identity-fp-*``, relaycheck/identity/fingerprint.py) is its own, as ``compare`` groups them per
endpoint. Prints one line per pair and endpoint with the rule's verdict and every prompt's first-token distance,
and exits 0 when every verdict is the expected one, 1 otherwise, 2 when a report is missing.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from relaycheck.endpoint import Endpoint
from relaycheck.identity.fingerprint import Fingerprint, Match, match, report_fingerprint
from relaycheck.report.model import Report

DIRECT, SAME_BEHIND, OTHER_BEHIND = "llama-cpp", "litellm", "litellm-other"


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    same_expected: bool

    def judge(self, reports: dict[str, Report], endpoint: Endpoint = Endpoint.COMPLETIONS,
              fingerprint: Callable[[Report, Endpoint], Fingerprint] = report_fingerprint) -> tuple[bool, Match]:
        result = match(fingerprint(reports[self.a], endpoint), fingerprint(reports[self.b], endpoint))
        return result.same is self.same_expected, result


PAIRS = (Pair(DIRECT, SAME_BEHIND, True), Pair(DIRECT, OTHER_BEHIND, False))


def endpoints_judged(reports: dict[str, Report], pair: Pair,
                     fingerprint: Callable[[Report, Endpoint], Fingerprint] = report_fingerprint) -> list[Endpoint]:
    """Completions always (an empty fingerprint there is a failure of the pair); chat where both sides served its
    fingerprint (a run with --completions-only certifies no chat)."""
    chat = all(fingerprint(reports[name], Endpoint.CHAT) for name in (pair.a, pair.b))
    return [Endpoint.COMPLETIONS, *([Endpoint.CHAT] if chat else [])]


def judge_all(reports: dict[str, Report],
              fingerprint: Callable[[Report, Endpoint], Fingerprint] = report_fingerprint) -> tuple[bool, list[str]]:
    """Every pair on every endpoint both sides serve: whether all verdicts are right, and one line each."""
    ok, lines = True, []
    for pair in PAIRS:
        for endpoint in endpoints_judged(reports, pair, fingerprint):
            right, result = pair.judge(reports, endpoint, fingerprint)
            ok = ok and right
            expected = "same model" if pair.same_expected else "different models"
            distances = ", ".join(f"{p.distance:.3f}" for p in result.prompts if p.distance is not None)
            on = "" if endpoint is Endpoint.COMPLETIONS else f" on {endpoint.title}"
            lines.append(f"identity pair {pair.a} vs {pair.b}{on}: {'OK' if right else 'WRONG'} (expected "
                         f"{expected}): {result.summary()}; first-token TV per prompt: [{distances}]")
    return ok, lines


def load(path: Path) -> Report:
    return Report.from_json(json.loads(path.read_text(encoding="utf-8")))


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: identity_pair.py LLAMA_CPP.json LITELLM.json LITELLM_OTHER.json")
        return 2
    try:
        reports = {name: load(Path(path)) for name, path in zip((DIRECT, SAME_BEHIND, OTHER_BEHIND), argv, strict=True)}
    except (OSError, ValueError, KeyError) as exc:
        print(f"identity pair: a report is missing or unreadable ({exc.__class__.__name__}: {exc})")
        return 2
    ok, lines = judge_all(reports)
    for line in lines:
        print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
