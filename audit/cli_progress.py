"""What a run is doing while it runs: on a terminal's stderr, which checks are still waiting.

A single `audit domain` can wait tens of seconds on a silent DNS server or a slow MX host; a
line that names the checks still running (and for how long) says which. Nothing is shown when
stderr is not a terminal or with -q, and the display is erased when the run ends, so reports on
stdout and logs stay clean.
"""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.text import Text

from audit.cli_common import progress_wanted
from audit.model import CheckOutcome, Report

REFRESH_EVERY_S = 0.25
MAX_NAMED = 4  # checks named on the line; the rest are counted


class LiveChecks:
    """A CheckObserver that keeps one erasable status line on stderr."""

    def __init__(self, targets: int, *, enabled: bool | None = None) -> None:
        if enabled is None:
            enabled = progress_wanted()
        self.targets = targets
        self.running: dict[tuple[str, str], float] = {}
        self.finished = 0
        self.reports = 0
        self.live: Live | None = None
        if enabled:
            self.live = Live(
                console=Console(stderr=True),
                get_renderable=self._line,
                refresh_per_second=1 / REFRESH_EVERY_S,
                transient=True,
            )

    def __enter__(self) -> LiveChecks:
        if self.live is not None:
            self.live.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.live is not None:
            self.live.stop()

    def check_started(self, target: str, check: str) -> None:
        self.running[(target, check)] = time.monotonic()

    def check_finished(self, outcome: CheckOutcome) -> None:
        self.running.pop((outcome.target, outcome.check), None)
        self.finished += 1

    def target_done(self, report: Report) -> None:
        """One line per finished target when there are several (it stays; the status moves)."""
        self.reports += 1
        if self.live is not None and self.targets > 1:
            self.live.console.print(f"audited {report.target}", markup=False, highlight=False)

    def _line(self) -> Text:
        now = time.monotonic()
        oldest = sorted(self.running.items(), key=lambda item: item[1])
        named = [
            f"{check}{'' if self.targets == 1 else ' (' + target + ')'} {now - began:.0f}s"
            for (target, check), began in oldest[:MAX_NAMED]
        ]
        if len(oldest) > MAX_NAMED:
            named.append(f"+{len(oldest) - MAX_NAMED} more")
        head = f"auditing: {self.finished} checks done"
        if self.targets > 1:
            head += f", {self.reports}/{self.targets} targets"
        tail = f"; waiting on {', '.join(named)}" if named else ""
        return Text(head + tail, no_wrap=True, overflow="ellipsis")
