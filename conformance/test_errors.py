"""Conformance: the 'errors' checks of the catalogue, one test per provider and check."""

from relaycheck.runner.pytest_plugin import Certification, assert_verdict

FEATURE = "errors"


def test_check(certification: Certification, provider_name: str, check_id: str) -> None:
    assert_verdict(certification.verdict(provider_name, check_id))
