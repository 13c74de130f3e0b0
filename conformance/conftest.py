pytest_plugins = ["relaycheck.runner.pytest_plugin"]
