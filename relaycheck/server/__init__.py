"""The reference provider: a conformant OpenAI Completions and Chat Completions server with switchable quirks.

>>> from relaycheck.server import ServerConfig, serve_in_thread
>>> with serve_in_thread(ServerConfig(quirks=frozenset({"no-done"}))) as server:
...     server.base_url  # doctest: +ELLIPSIS
'http://127.0.0.1:.../v1'
"""

from relaycheck.server.app import create_app
from relaycheck.server.config import ServerConfig
from relaycheck.server.quirks import Quirk, all_quirks, get_quirk
from relaycheck.server.running import RunningServer, serve_in_thread

__all__ = [
    "Quirk",
    "RunningServer",
    "ServerConfig",
    "all_quirks",
    "create_app",
    "get_quirk",
    "serve_in_thread",
]
