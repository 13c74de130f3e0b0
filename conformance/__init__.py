"""relaycheck's conformance suite as a pytest suite: ``pytest conformance --provider NAME``."""
