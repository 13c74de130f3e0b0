"""The contract of each endpoint: what a check of that endpoint validates against."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from relaycheck.endpoint import ENDPOINTS, Endpoint
from relaycheck.spec.contract import Contract, ContractError, default_document_path, load_contract


@dataclass(frozen=True)
class Contracts:
    by_endpoint: Mapping[Endpoint, Contract]

    def of(self, endpoint: Endpoint) -> Contract:
        try:
            return self.by_endpoint[endpoint]
        except KeyError:
            raise ContractError(f"no contract for {endpoint.route}") from None


def load_contracts() -> Contracts:
    """Every endpoint's packaged contract (``completions.yaml``, ``chat.yaml``; each loaded once per process)."""
    found = {}
    for endpoint in ENDPOINTS:
        path = default_document_path().with_name(f"{endpoint.value}.yaml")
        if path.exists():
            found[endpoint] = load_contract(path)
    return Contracts(found)
