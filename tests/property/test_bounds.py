"""The document cases are drawn from: the contract where best_of is at most 2, and nothing beyond."""

from __future__ import annotations

import copy
import itertools

from relaycheck.property.bounds import REQUEST, best_of_rules, generation_document
from relaycheck.property.clamp import MAX_N
from relaycheck.spec import load_contract
from relaycheck.spec.contract import Contract

ABSENT = object()


def _request(document: dict) -> dict:
    return document["components"]["schemas"][REQUEST]


def test_the_contract_rules_are_recognised_and_bounded() -> None:
    contract = load_contract().document
    bounded = generation_document(contract)
    assert _request(bounded)["properties"]["best_of"]["maximum"] == MAX_N
    spelled = [len(rule["anyOf"]) for rule in _request(contract)["allOf"]]
    assert [len(rule["anyOf"]) for rule in _request(bounded)["allOf"]] == [spelled[0], MAX_N + 1, 3]
    assert _request(contract)["allOf"][1]["anyOf"] == best_of_rules(20)[0]  # the contract is left as it was
    assert generation_document(bounded) == bounded  # already bounded


def test_bounded_rules_accept_what_the_contract_accepts_up_to_best_of_2() -> None:
    full = load_contract().validator(REQUEST)
    bounded = Contract(generation_document(load_contract().document)).validator(REQUEST)
    values = {"best_of": (ABSENT, None, 0, 1, 2, 3, 20), "n": (ABSENT, None, 1, 2, 3, 19, 20, 128),
              "stream": (ABSENT, None, False, True)}
    for combination in itertools.product(*values.values()):
        body = {"model": "m", "prompt": "x"}
        body |= {k: v for k, v in zip(values, combination, strict=True) if v is not ABSENT}
        expected = full.is_valid(body) and body.get("best_of") in (None, 0, 1, 2)
        assert bounded.is_valid(body) is expected, body


def test_a_contract_spelling_its_rules_otherwise_is_drawn_from_as_it_is() -> None:
    document = copy.deepcopy(load_contract().document)
    _request(document)["allOf"][2]["anyOf"].pop()
    assert generation_document(document) == document
