"""Allure integration for the pytest front-end (``conformance/``): labels and evidence for one verdict.

Call :func:`attach_verdict` from inside a test that reports one check's verdict. When allure-pytest is active
(``pytest --alluredir=…``) it labels the test (parent suite = provider, suite = feature, sub-suite = check id,
severity from the check's level) and attaches, redacted, every exchange the verdict read plus the verdict itself.
Without an active allure listener it does nothing and returns ``False``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from relaycheck.checks.model import Check, Level, Verdict
from relaycheck.transport.exchange import Exchange
from relaycheck.transport.redact import Redactor

SEVERITY = {Level.MUST: "critical", Level.SHOULD: "normal", Level.INFO: "trivial"}


def allure_active() -> bool:
    """True when an allure listener (allure-pytest with --alluredir) is registered."""
    try:
        from allure_commons import plugin_manager
    except ImportError:
        return False
    # allure-pytest registers helper plugins on every run; only the listener (``--alluredir``) stores attachments
    return bool(plugin_manager.hook.attach_data.get_hookimpls())


def attach_verdict(
    verdict: Verdict,
    check: Check,
    exchanges: Mapping[str, Exchange],
    redactor: Redactor,
    provider: str | None = None,
) -> bool:
    """Label the running allure test with the verdict's provider/feature/check and attach its evidence.

    ``exchanges`` maps probe id → :class:`Exchange` (e.g. ``ProviderRun.exchanges``); only those the verdict read
    (``verdict.probes``) are attached, each as redacted JSON. ``provider`` is the provider name used as the
    parent suite (omit it to leave the parent suite alone). Returns whether anything was recorded.
    """
    if not allure_active():
        return False
    import allure

    if provider:
        allure.dynamic.parent_suite(provider)
    allure.dynamic.suite(check.feature)
    allure.dynamic.sub_suite(check.id)
    allure.dynamic.title(f"{check.id}: {check.title}")
    allure.dynamic.description(f"{check.level.value}: {check.clause}")
    allure.dynamic.severity(SEVERITY.get(check.level, "normal"))
    allure.dynamic.label("grade", verdict.grade.value)
    allure.dynamic.tag(verdict.grade.value)
    for probe in verdict.probes:
        exchange = exchanges.get(probe)
        if exchange is None:
            continue
        # redacted as a value, then serialised (ASCII escapes: a lone surrogate a provider sent stays writable)
        body = json.dumps(redactor.exchange(exchange).to_dict(), indent=2)
        allure.attach(body, name=f"exchange {probe}", attachment_type=allure.attachment_type.JSON)
    allure.attach(
        json.dumps(redactor.tree(verdict.to_dict()), indent=2),
        name=f"verdict {verdict.grade.value}",
        attachment_type=allure.attachment_type.JSON,
    )
    return True

