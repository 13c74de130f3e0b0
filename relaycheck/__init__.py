"""relaycheck: conformance suite for OpenAI-compatible POST /v1/completions."""

__version__ = "0.1.0"

