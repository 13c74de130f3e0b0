"""A live progress line per provider: what runs, requests and tokens spent.

On a terminal the line is redrawn in place; elsewhere (CI logs) one line is printed when a provider starts and
one when it ends, so logs stay readable.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TextIO

from relaycheck.runner.engine import ProviderRun


@dataclass
class Progress:
    stream: TextIO
    enabled: bool = True
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def live(self) -> bool:
        return self.enabled and self.stream.isatty()

    def __call__(self, event: str, run: ProviderRun) -> None:
        if not self.enabled:
            return
        with self._lock:
            if event == "probe" and self.live:
                self.stream.write("\r\033[K" + self._line(run))
                self.stream.flush()
            elif event == "start":
                self.stream.write(f"{run.name}: certifying {run.target.label if run.target else ''}\n")
            elif event == "skipped":
                self.stream.write(f"{run.name}: skipped: {run.skipped}\n")
            elif event == "done" and not run.skipped:
                prefix = "\r\033[K" if self.live else ""
                self.stream.write(prefix + self._line(run) + " · done\n")
            self.stream.flush()

    @staticmethod
    def _line(run: ProviderRun) -> str:
        s = run.spend
        return (
            f"{run.name}: {len(run.exchanges)}/{run.probes_total} probes · {s.requests} requests · "
            f"{s.prompt_tokens}+{s.completion_tokens} tokens"
        )
