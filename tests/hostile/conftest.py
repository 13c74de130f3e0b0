"""Fixtures for the hostile-provider tests: the planted key in the environment, the catalogue and contract."""

from __future__ import annotations

import pytest

from hostile.helpers import KEY_ENV, PLANTED_KEY
from relaycheck.checks.catalogue import Catalogue, load_catalogue
from relaycheck.spec.contracts import Contracts, load_contracts


@pytest.fixture(autouse=True)
def planted_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_ENV, PLANTED_KEY)
    return PLANTED_KEY


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="session")
def contract() -> Contracts:
    return load_contracts()
