"""CPU seconds a process and its descendants have used, read from Linux's /proc.

Why: this machine is shared and its speed swings by half from one hour to the next, so
requests per second alone cannot compare two runs; the server's own CPU per request can
(the load generator runs in another process and is not counted). Elsewhere (no /proc)
the figure is simply unknown.
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")


def _own_seconds(pid: int) -> tuple[float, list[int]]:
    """utime + stime of one process (all its threads), and its children's pids."""
    stat = (PROC / str(pid) / "stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()  # the name, in parentheses, may hold spaces
    ticks = int(fields[11]) + int(fields[12])
    children: list[int] = []
    for task in (PROC / str(pid) / "task").iterdir():
        children.extend(int(c) for c in (task / "children").read_text().split())
    return ticks / os.sysconf("SC_CLK_TCK"), children


def process_tree_seconds(pid: int) -> float | None:
    """CPU seconds of `pid` and every live descendant; None where /proc cannot say."""
    total, todo = 0.0, [pid]
    try:
        while todo:
            seconds, children = _own_seconds(todo.pop())
            total += seconds
            todo.extend(children)
    except (OSError, ValueError, IndexError):
        return None
    return total
