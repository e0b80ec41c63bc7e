"""Run a command with its stderr on a pseudo-terminal: what a user at a terminal sees (progress
bars and status lines are drawn only there)."""

from __future__ import annotations

import os
import pty
import subprocess


def stderr_on_a_terminal(args: list[str], timeout: float = 120) -> tuple[int, str]:
    """The exit code and everything written to the terminal (stdout is discarded)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stderr=slave, stdout=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    code = proc.wait(timeout=timeout)
    os.close(master)
    return code, b"".join(chunks).decode(errors="replace")
