"""Progress: one row per provider, what runs, requests sent and tokens spent.

On a terminal (the stream is a TTY) the rows are a live table, redrawn in place by rich (one row per provider,
however many run in parallel, cropped to the terminal's width); elsewhere (CI logs, a pipe) one plain line when a
provider starts, is skipped or stops being sent requests, and one when it is done, so logs stay readable.

Spend is shown as relaycheck counts it next to what the provider reported and what the requests reserved (their
worst case), so a provider whose usage under-reports, or a budget that was mostly headroom, shows at a glance.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, TextIO

from relaycheck.report.escape import terminal
from relaycheck.runner.engine import ProviderRun


def row_text(run: ProviderRun, state: str = "running") -> str:
    """``alpha: done · 50/50 probes · 60 requests · 79 completion tokens (reported 79, reserved 320)``: the state
    first, so a row cropped to the terminal's width still says it."""
    s = run.spend
    return (f"{run.name}: {state} · {len(run.exchanges)}/{run.probes_total} probes · {s.requests} requests · "
            f"{s.tokens_text()}")


@dataclass
class Progress:
    stream: TextIO
    enabled: bool = True
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _rows: dict[str, str] = field(default_factory=dict)  # provider -> its row, in the order they started
    _live: Any = None  # rich.live.Live while the table is shown

    @property
    def live(self) -> bool:
        return self.enabled and self.stream.isatty()

    def __call__(self, event: str, run: ProviderRun) -> None:
        if not self.enabled:
            return
        with self._lock:
            if self.live:
                self._table_event(event, run)
            else:
                self._line_event(event, run)

    def close(self) -> None:
        """Leave the final rows on screen (a terminal); nothing to do for plain lines."""
        with self._lock:
            if self._live is not None:
                self._live.update(self._table(), refresh=True)
                self._live.stop()
                self._live = None

    # -- plain lines (CI, pipes) ----------------------------------------------------------------------------------

    def _line_event(self, event: str, run: ProviderRun) -> None:
        if event == "start":
            self._write(f"{run.name}: certifying {run.target.label if run.target else ''}")
        elif event == "skipped":
            self._write(f"{run.name}: skipped: {run.skipped}")
        elif event == "stopped":
            self._write(f"{run.name}: {run.stopped}; its remaining requests are not sent")
        elif event == "done" and not run.skipped:
            self._write(row_text(run, "done"))

    def _write(self, line: str) -> None:
        self.stream.write(terminal(line) + "\n")  # names and reasons may quote a provider: escaped
        self.stream.flush()

    # -- the live table (a terminal) ------------------------------------------------------------------------------

    def _table_event(self, event: str, run: ProviderRun) -> None:
        if event == "skipped":
            self._rows[run.name] = f"{run.name}: skipped: {run.skipped}"
        elif event == "stopped":
            self._rows[run.name] = row_text(run, f"stopped: {run.stopped}")
        elif event == "done" and not run.skipped:
            self._rows[run.name] = row_text(run, "done")
        elif event in ("start", "probe") and not self._rows.get(run.name, "").startswith(f"{run.name}: done"):
            self._rows[run.name] = row_text(run, "stopped" if run.stopped else "running")
        if self._live is None:
            from rich.console import Console
            from rich.live import Live

            console = Console(file=self.stream, highlight=False, soft_wrap=False)
            self._live = Live(self._table(), console=console, refresh_per_second=8, transient=False)
            self._live.start()
        else:
            self._live.update(self._table())

    def _table(self) -> Any:
        from rich.table import Table
        from rich.text import Text

        table = Table.grid()
        table.add_column(no_wrap=True, overflow="ellipsis")
        for row in self._rows.values():
            table.add_row(Text(terminal(row)))  # Text: provider strings are shown as they are, never read as markup
        return table
