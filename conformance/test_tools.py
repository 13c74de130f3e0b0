"""Conformance: the 'chat.tools' checks of the catalogue (tool calls, their streamed deltas, tool_choice), one test
per provider and check."""

from relaycheck.pytest_plugin import Certification

FEATURE = "tools"


def test_check(certification: Certification, provider_name: str, check_id: str) -> None:
    certification.report(provider_name, check_id)
