"""Conformance: the 'chat.structured' checks of the catalogue (response_format json_object and json_schema), one
test per provider and check."""

from relaycheck.pytest_plugin import Certification

FEATURE = "structured"


def test_check(certification: Certification, provider_name: str, check_id: str) -> None:
    certification.report(provider_name, check_id)
