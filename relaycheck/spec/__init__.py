"""The relaycheck OpenAPI contracts (POST /v1/completions, POST /v1/chat/completions), served as JSON Schema.

>>> from relaycheck.endpoint import Endpoint
>>> from relaycheck.spec import load_contract
>>> contract = load_contract()
>>> contract.validator("CreateCompletionRequest").is_valid({"model": "m", "prompt": "hi"})
True
>>> chat = load_contract(endpoint=Endpoint.CHAT)
>>> chat.validator(chat.operation.request).is_valid({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
True
"""

from relaycheck.spec.contract import (
    JSON_SCHEMA_DIALECT,
    PAGE_KEYS,
    Contract,
    ContractError,
    Disagreement,
    Operation,
    SeedPage,
    contract_path,
    default_document_path,
    load_contract,
)

__all__ = [
    "JSON_SCHEMA_DIALECT",
    "PAGE_KEYS",
    "Contract",
    "ContractError",
    "Disagreement",
    "Operation",
    "SeedPage",
    "contract_path",
    "default_document_path",
    "load_contract",
]
