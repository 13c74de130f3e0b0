"""Identity and billing, measured: detection of each identity quirk, and the model-fingerprint rule's false alarms.

    python bench/identity_bench.py [--seeds 20] [--pairs 100] [--jitter 0.05] [--divergence 0.2] [--skip-checks]
                                   [--endpoint completions|chat|all]

1. Billing, tokenizer and cache quirks, through the catalogued checks (a full identity certification per seed).
2. The fingerprint rule (relaycheck/identity/fingerprint.py) between two *faithful* reference servers whose
   logprobs jitter (Gaussian, ``--jitter`` in logprob units) and whose temperature-0 answers diverge (with
   probability ``--divergence`` a request takes the runner-up token at a random position): every "different
   models" answer is a false alarm. Then against substitutes: another model (a new model salt per seed) under the
   same name, all requests, one in three at random (partial substitution) or one in three by a hash of the body
   (partial routing, a new subset per seed), and another tokenizer. For each, how the detections read: a swap
   (most prompts moved) or partial routing (some), and the largest first-token logprob gap between faithful pairs
   (what ``LOGPROB_MOVED`` must stay above).

Both endpoints by default: Chat Completions' checks (``chat.identity.*``, ``chat.logprobs.truth``) with its own
quirks, and its fingerprint (the ``chat-identity-fp-*`` conversations, ``chat-logprobs``, ``chat-basic``,
``chat-greedy``) under the same rule.

Everything runs against servers on 127.0.0.1 started here; bounded loops; prints one table.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from relaycheck.checks.catalogue import Catalogue, load_catalogue  # noqa: E402
from relaycheck.checks.model import Grade  # noqa: E402
from relaycheck.config.providers import embedded_reference  # noqa: E402
from relaycheck.endpoint import Endpoint  # noqa: E402
from relaycheck.identity.fingerprint import (  # noqa: E402
    LOGPROB_MOVED,
    SWAP_SHARE,
    TV_WEAK,
    Fingerprint,
    Match,
    fingerprint_from_bodies,
    fingerprint_probes,
    match,
)
from relaycheck.probes.catalogue import ProbeContext, probes_by_id  # noqa: E402
from relaycheck.runner.engine import certify  # noqa: E402
from relaycheck.server.config import DEFAULT_API_KEY, ServerConfig  # noqa: E402
from relaycheck.server.running import serve_in_thread  # noqa: E402
from relaycheck.spec.contracts import load_contracts  # noqa: E402

MODELS = {Endpoint.COMPLETIONS: "gpt-3.5-turbo-instruct", Endpoint.CHAT: "gpt-4"}  # the reference's claims
CHECK_QUIRKS = {
    Endpoint.COMPLETIONS: {
        "hidden-prompt-prefix": "identity.prompt-tokens",
        "usage-multiplied": "identity.prompt-tokens",
        "usage-from-characters": "identity.completion-tokens",
        "usage-inflated": "identity.completion-tokens",
        "tokenizer-swapped": "identity.tokenizer",
        "response-cache": "identity.response-cache",
    },
    Endpoint.CHAT: {
        "hidden-system-prompt": "chat.identity.message-overhead",
        "usage-content-only": "chat.identity.message-overhead",
        "usage-multiplied": "chat.identity.prompt-tokens",
        "usage-inflated": "chat.identity.completion-tokens",
        "stream-prompt-tokens-inflated": "chat.usage.stream-matches",
        "tokenizer-swapped": "chat.identity.tokenizer",
        "logprobs-bytes-bpe-raw": "chat.logprobs.truth",
        "response-cache": "chat.identity.response-cache",
    },
}


def check_detection(seeds: int, endpoint: Endpoint) -> list[tuple[str, str, int, int]]:
    catalogue = load_catalogue()
    rows = []
    for quirk, check_id in CHECK_QUIRKS[endpoint].items():
        selected = Catalogue((catalogue.get(check_id),))
        caught = 0
        for _ in range(seeds):
            (run,) = certify([embedded_reference(quirks=(quirk,))], selected, load_contracts())
            caught += run.verdicts[0].grade in (Grade.FAIL, Grade.WARN)
        rows.append((quirk, check_id, caught, seeds))
    feature = f"{endpoint.prefix}identity"
    (run,) = certify([embedded_reference()], Catalogue(tuple(c for c in catalogue.checks if c.feature == feature)),
                     load_contracts())
    clean = sum(v.grade is Grade.PASS for v in run.verdicts)
    rows.append(("(conformant reference)", f"{feature}.*", clean, len(run.verdicts)))
    return rows


def fingerprint(client: httpx.Client, base_url: str, endpoint: Endpoint) -> Fingerprint:
    probes = probes_by_id()
    bodies = {}
    for probe_id in fingerprint_probes(endpoint):
        body = probes[probe_id].build(ProbeContext(MODELS[endpoint], {}))
        response = client.post(f"{base_url}/{endpoint.path}", json=body,
                               headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"}, timeout=10)
        bodies[probe_id] = (body, response.json() if response.status_code == 200 else None)
    return fingerprint_from_bodies(bodies, MODELS[endpoint], endpoint)


def _reads_as(m: Match) -> str:
    return "swap" if len(m.differing) >= SWAP_SHARE * len(m.compared) else "partial"


def rule_rates(pairs: int, seeds: int, jitter: float, divergence: float,
               endpoint: Endpoint) -> list[tuple[str, int, int, str]]:
    faithful = ServerConfig(logprob_jitter=jitter, divergence=divergence)
    rows = []

    def fp(client: httpx.Client, base_url: str) -> Fingerprint:
        return fingerprint(client, base_url, endpoint)

    with httpx.Client() as client, serve_in_thread(faithful) as a, serve_in_thread(faithful) as b:
        alarms, worst, gap = 0, 0, 0.0
        for _ in range(pairs):
            m = match(fp(client, a.base_url), fp(client, b.base_url))
            alarms += m.same is False
            worst = max(worst, len(m.differing))
            gap = max([gap, *(p.gap for p in m.prompts if p.gap is not None)])
        rows.append(("faithful vs faithful: false alarms", alarms, pairs,
                     f"most prompts moved in one pair: {worst}; largest logprob gap {gap:.2f} (moved above "
                     f"{LOGPROB_MOVED}, TV {TV_WEAK})"))
        for quirks, label, reading in (
            (("model-salted",), "another model, every request", "swap"),
            (("partial-substitution",), "another model, 1 request in 3", "partial"),
            (("partial-routing",), "another model, 1 body in 3 (routed)", "partial"),
            (("tokenizer-swapped",), "another tokenizer", "swap"),
        ):
            caught, right, counts = 0, 0, []
            for seed in range(seeds):
                config = dataclasses.replace(faithful, quirks=frozenset(quirks), substitute_salt=1000 + seed)
                with serve_in_thread(config) as s:
                    m = match(fp(client, a.base_url), fp(client, s.base_url))
                if m.same is False:
                    caught += 1
                    right += _reads_as(m) == reading
                    counts.append(f"{len(m.differing)}/{len(m.compared)}")
            rows.append((f"{label}: detected", caught, seeds,
                         f"read as {reading}: {right}/{caught}; moved per detection: {' '.join(counts)}"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--jitter", type=float, default=0.05)
    parser.add_argument("--divergence", type=float, default=0.2)
    parser.add_argument("--skip-checks", action="store_true", help="only the fingerprint rule")
    parser.add_argument("--endpoint", choices=("completions", "chat", "all"), default="all")
    args = parser.parse_args()
    endpoints = list(Endpoint) if args.endpoint == "all" else [Endpoint.parse(args.endpoint)]
    start = time.perf_counter()
    print(f"identity bench: {args.seeds} seeds, {args.pairs} faithful pairs, jitter {args.jitter}, "
          f"divergence {args.divergence}")
    for endpoint in endpoints:
        print(f"\n== {endpoint.title} ({MODELS[endpoint]})")
        if not args.skip_checks:
            print("checks (quirk -> the check that names it): runs caught")
            for quirk, check_id, caught, total in check_detection(args.seeds, endpoint):
                print(f"  {quirk:30} {check_id:34} {caught}/{total}")
        print("fingerprint rule")
        for label, count, total, note in rule_rates(args.pairs, args.seeds, args.jitter, args.divergence, endpoint):
            print(f"  {label:40} {count}/{total}  ({note})")
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
