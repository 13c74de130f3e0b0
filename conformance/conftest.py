"""relaycheck's conformance suite as a pytest suite: ``pytest --pyargs conformance --provider NAME``.

The plugin (``relaycheck.pytest_plugin``) is registered by relaycheck's ``pytest11`` entry point, so nothing is
declared here: the suite runs the same from a clone and from an installed package.
"""
