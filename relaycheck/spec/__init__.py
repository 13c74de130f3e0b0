"""The relaycheck OpenAPI contract for POST /v1/completions, served as JSON Schema.

>>> from relaycheck.spec import load_contract
>>> contract = load_contract()
>>> contract.validator("CreateCompletionRequest").is_valid({"model": "m", "prompt": "hi"})
True
"""

from relaycheck.spec.contract import (
    JSON_SCHEMA_DIALECT,
    PAGE_KEYS,
    Contract,
    ContractError,
    Disagreement,
    SeedPage,
    default_document_path,
    load_contract,
)

__all__ = [
    "JSON_SCHEMA_DIALECT",
    "PAGE_KEYS",
    "Contract",
    "ContractError",
    "Disagreement",
    "SeedPage",
    "default_document_path",
    "load_contract",
]
