"""A clean refusal of an optional feature is graded once, `unsupported`, by the feature's own check.

vLLM refuses ``suffix`` on a model without fill-in-the-middle; ``params.suffix`` grades that `unsupported`, and
the contract's examples that use suffix must not fail ``property.examples`` a second time for the same refusal.
And no probe may depend on a combination of options a conformant server may refuse (vLLM refuses n > 1 at
temperature 0): that one is a benign quirk, so the pair test's benign run covers it; here it is run alone.
"""

from __future__ import annotations

from relaycheck.checks.catalogue import load_catalogue
from relaycheck.checks.model import Grade
from relaycheck.config.providers import embedded_reference
from relaycheck.probes.catalogue import PROBES
from relaycheck.runner.engine import certify
from relaycheck.spec import load_contract
from relaycheck.spec.contracts import load_contracts

CATALOGUE = load_catalogue()


def _verdicts(quirks: tuple[str, ...]) -> dict[str, object]:
    (run,) = certify([embedded_reference(quirks=quirks)], CATALOGUE, load_contracts())
    return {v.check: v for v in run.verdicts}


def test_a_refused_suffix_is_unsupported_once_and_fails_nothing_else() -> None:
    verdicts = _verdicts(("refuse-suffix",))
    suffix = verdicts["params.suffix"]
    assert suffix.grade is Grade.UNSUPPORTED, suffix
    examples = verdicts["property.examples"]
    assert examples.grade is Grade.PASS, examples
    assert "refused because suffix is not supported" in examples.message
    others = {k: (v.grade, v.message) for k, v in verdicts.items()
              if k != "params.suffix" and v.grade not in (Grade.PASS, Grade.SKIPPED)}
    assert not others


def test_refusing_greedy_n_fails_no_check() -> None:
    verdicts = _verdicts(("refuse-greedy-n",))
    not_passed = {k: (v.grade, v.message) for k, v in verdicts.items() if v.grade is not Grade.PASS}
    assert not not_passed


def test_an_unexcused_refusal_still_fails() -> None:
    """The excuse needs the feature's own probe refused too: a provider that refuses suffix only inside other
    requests has no `unsupported` verdict covering it, so those refusals still count."""
    from relaycheck.checks.model import Recorded
    from relaycheck.transport.exchange import Exchange, RecordedRequest

    refusal = b'{"error": {"message": "suffix not supported", "type": "invalid_request_error"}}'
    request = RecordedRequest("POST", "http://127.0.0.1/v1/completions", {}, '{"prompt": "x", "suffix": "y"}')
    example = Exchange(probe="property-example-0", request=request, started_at=0.0, status=400,
                       headers={"content-type": "application/json"}, body=refusal)
    accepted = Exchange(probe="suffix", request=request, started_at=0.0, status=200,
                        headers={"content-type": "application/json"}, body=b"{}")
    refused = Exchange(probe="suffix", request=request, started_at=0.0, status=400,
                       headers={"content-type": "application/json"}, body=refusal)
    contract = load_contract()
    assert Recorded({"suffix": accepted, example.probe: example}, contract, "m").excused(example) is None
    excused = Recorded({"suffix": refused, example.probe: example}, contract, "m").excused(example)
    assert excused is not None and excused.fields == ("suffix",) and excused.probe == "suffix"
    null_suffix = Exchange(probe="property-example-1", request=RecordedRequest(
        "POST", "http://127.0.0.1/v1/completions", {}, '{"prompt": "x", "suffix": null}'), started_at=0.0,
        status=400, headers={"content-type": "application/json"}, body=refusal)
    assert Recorded({"suffix": refused}, contract, "m").excused(null_suffix) is None  # null is no use of suffix


def test_every_optional_probe_is_graded_by_a_refusable_check() -> None:
    """The excuse rests on the refusal being graded `unsupported` somewhere: by a refusable check of that probe."""
    refusable = {p for c in CATALOGUE.checks if c.refusable for p in c.probes}
    optional = {p.id for p in PROBES if p.optional}
    assert optional and optional <= refusable, optional - refusable


def test_usage_sent_unasked_is_graded_once_by_its_own_check() -> None:
    """LiteLLM 1.102.4 in front of a server without usage sends usage zeros on every chunk of a stream that asked
    for none. stream.no-usage-unasked grades that; the usage checks judge only the usage a request asked for, so
    the zeros are not failed again as a bill (one prompt, two counts; fewer tokens than the text shows)."""
    usage = CATALOGUE.select(("usage", "stream.no-usage-unasked"))
    (run,) = certify([embedded_reference(quirks=("usage-zeros-unasked",))], usage, load_contracts())
    verdicts = {v.check: v for v in run.verdicts}
    assert verdicts["stream.no-usage-unasked"].grade is Grade.FAIL
    others = {k: (v.grade, v.message) for k, v in verdicts.items()
              if k != "stream.no-usage-unasked" and v.grade is not Grade.PASS}
    assert not others


def test_token_prompts_refused_are_not_failed_again_as_the_context_window() -> None:
    """llama-cpp-python answers every token-id prompt with a 500 (params.prompt-tokens fails, D09). The context
    overflow probe is a token-id prompt too: its 500 says nothing of the window, so context-refused is skipped."""
    selected = CATALOGUE.select(("params.context-refused", "params.prompt-tokens"))
    (run,) = certify([embedded_reference(quirks=("token-prompt-500",))], selected, load_contracts())
    verdicts = {v.check: v for v in run.verdicts}
    assert verdicts["params.prompt-tokens"].grade is Grade.FAIL
    assert verdicts["params.context-refused"].grade is Grade.SKIPPED, verdicts["params.context-refused"]
