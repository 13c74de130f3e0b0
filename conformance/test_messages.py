"""Conformance: the 'messages' checks of the catalogue, one test per provider and check."""

from relaycheck.pytest_plugin import Certification

FEATURE = "messages"


def test_check(certification: Certification, provider_name: str, check_id: str) -> None:
    certification.report(provider_name, check_id)
