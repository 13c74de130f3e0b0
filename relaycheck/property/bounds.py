"""The Completions contract bounded to what the property phase sends: the document its cases are drawn from.

The contract allows ``best_of`` up to 20 and states two cross-field rules about it, "best_of must be greater
than n" and "results cannot be streamed", as ``anyOf`` lists spelled out value by value (21 and 22 branches: JSON
Schema cannot compare two members). Every drawn body is then clamped to ``best_of`` and ``n`` at most 2
(:mod:`relaycheck.property.clamp`), so all but three branches of each rule describe requests that are never sent;
and building strategies from them is most of the phase's cost: schemathesis canonicalizes the request schema
(``jsonschema_rs.canonicalize``), whose time grows with about the fourth power of an ``anyOf``'s branches (0.2 s
for 21, 4 ms for 8, on this machine), once for the positive body and again for each schema a negative case
mutates, each leaving a canonical form of up to 40 MB behind (bench/property_bench.py measures it).

:func:`generation_document` states ``best_of`` at most :data:`~relaycheck.property.clamp.MAX_N` and spells both
rules for that range: the same requests as the contract where ``best_of`` is at most 2, and nothing else. Which
bodies are valid is still judged by the contract itself (a positive case must validate against it, a negative
case must not), so this changes what is drawn from, never what is called valid. A contract whose rules no longer
read as expected is drawn from as it is (slower, as correct): ``tests/property/test_bounds.py`` says so first.
"""

from __future__ import annotations

import copy
from typing import Any

from relaycheck.property.clamp import MAX_N

Branches = list[dict[str, Any]]
REQUEST = "CreateCompletionRequest"


def best_of_rules(top: int) -> tuple[Branches, Branches]:
    """The contract's two best_of rules, spelled for ``best_of`` up to ``top`` (the contract: ``top`` = 20).

    "best_of must be greater than n" (OpenAI accepts equal; n defaults to 1): best_of absent or null, or best_of k
    with n at most k. "Results cannot be streamed": not streamed, or best_of 1 or null, or n k with best_of at most
    k (with the first rule: equal), n from ``top`` up needing no bound since best_of cannot exceed it.
    """
    at_least_n = [{"properties": {"best_of": {"type": "null"}}}] + [
        {"required": ["best_of"], "properties": {"best_of": {"const": k}, "n": {"maximum": k}}}
        for k in range(1, top + 1)
    ]
    not_streamed = [
        {"properties": {"stream": {"enum": [False, None]}}},
        {"properties": {"best_of": {"enum": [1, None]}}},
        {"required": ["n"], "properties": {"n": {"type": "integer", "minimum": top}}},
    ] + [{"required": ["n"], "properties": {"n": {"const": k}, "best_of": {"maximum": k}}} for k in range(2, top)]
    return at_least_n, not_streamed


def generation_document(document: dict[str, Any], top: int = MAX_N) -> dict[str, Any]:
    """A copy of the Completions contract with best_of at most ``top`` and its rules spelled for that range; the
    document itself (a copy) when its rules are not spelled as :func:`best_of_rules` says."""
    out = copy.deepcopy(document)
    request = out.get("components", {}).get("schemas", {}).get(REQUEST)
    if not isinstance(request, dict):
        return out
    best_of = request.get("properties", {}).get("best_of", {})
    stated = best_of.get("maximum")
    if not isinstance(stated, int) or stated <= top:
        return out
    rules = [rule for rule in request.get("allOf", []) if isinstance(rule, dict)]
    wanted, narrowed = best_of_rules(stated), best_of_rules(top)
    found = [next((rule for rule in rules if rule.get("anyOf") == branches), None) for branches in wanted]
    if any(rule is None for rule in found):
        return out
    for rule, branches in zip(found, narrowed, strict=True):
        rule["anyOf"] = branches  # type: ignore[index]  # found holds no None here
    best_of["maximum"] = top
    return out
