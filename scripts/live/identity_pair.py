"""The identity live pair: does the model-fingerprint rule tell two real models apart, and one model from itself?

    .venv/bin/python scripts/live/identity_pair.py reports/live/llama-cpp.json reports/live/litellm.json \
        reports/live/identity-pair/litellm-other.json        # run_live.py runs it after the certification

run_live.py serves two tiny models that share one tokenizer and differ only in their weights (make_tiny_gguf.py
--seed) under the same name, gpt-3.5-turbo-instruct: ``llama-cpp`` serves the first directly, ``litellm`` the
same model behind LiteLLM, and ``litellm-other`` the second model behind another LiteLLM. relaycheck's same-model
rule (relaycheck/identity/fingerprint.py, the one ``compare`` and ``diff`` apply) must say "same model" for the
first two and "different models" for the first and the third. The tokenizer cannot tell them apart (it is the
same); only the fingerprint can, as with a substitute that shares the claimed model's tokenizer.

Prints one line per pair with the rule's verdict and every prompt's first-token distance, and exits 0 when both
verdicts are the expected ones, 1 otherwise, 2 when a report is missing.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from relaycheck.identity.fingerprint import Match, match, report_fingerprint
from relaycheck.report.model import Report

DIRECT, SAME_BEHIND, OTHER_BEHIND = "llama-cpp", "litellm", "litellm-other"


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    same_expected: bool

    def judge(self, reports: dict[str, Report]) -> tuple[bool, Match]:
        result = match(report_fingerprint(reports[self.a]), report_fingerprint(reports[self.b]))
        return result.same is self.same_expected, result


PAIRS = (Pair(DIRECT, SAME_BEHIND, True), Pair(DIRECT, OTHER_BEHIND, False))


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
    ok = True
    for pair in PAIRS:
        right, result = pair.judge(reports)
        ok = ok and right
        expected = "same model" if pair.same_expected else "different models"
        distances = ", ".join(f"{p.distance:.3f}" for p in result.prompts if p.distance is not None)
        print(f"identity pair {pair.a} vs {pair.b}: {'OK' if right else 'WRONG'} (expected {expected}): "
              f"{result.summary()}; first-token TV per prompt: [{distances}]")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
