"""The contract of each endpoint: what a check of that endpoint validates against."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from relaycheck.endpoint import ENDPOINTS, Endpoint
from relaycheck.spec.contract import Contract, ContractError, load_contract


@dataclass(frozen=True)
class Contracts:
    by_endpoint: Mapping[Endpoint, Contract]

    def of(self, endpoint: Endpoint) -> Contract:
        try:
            return self.by_endpoint[endpoint]
        except KeyError:
            raise ContractError(f"no contract for {endpoint.route}") from None


def load_contracts() -> Contracts:
    """Every endpoint's packaged contract (each loaded once per process)."""
    return Contracts({endpoint: load_contract(endpoint=endpoint) for endpoint in ENDPOINTS})
