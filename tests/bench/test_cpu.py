"""The server CPU figure of `bench api`: a process tree's CPU, children included."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from guardpay.bench.cpu import process_tree_seconds


def _burn(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_a_process_that_works_is_seen_working() -> None:
    before = process_tree_seconds(os.getpid())
    assert before is not None
    _burn(0.3)
    after = process_tree_seconds(os.getpid())
    assert after is not None
    assert after - before >= 0.25


def test_a_childs_cpu_counts_for_its_parent() -> None:
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\nend = time.process_time() + 0.6\n"
            "while time.process_time() < end: pass\ntime.sleep(30)",
        ]
    )
    try:
        deadline = time.monotonic() + 20
        while (process_tree_seconds(child.pid) or 0.0) < 0.6 and time.monotonic() < deadline:
            time.sleep(0.05)
        with_child = process_tree_seconds(os.getpid())
    finally:
        child.kill()
        child.wait()
    without = process_tree_seconds(os.getpid())  # reaped: no longer a descendant
    assert with_child is not None
    assert without is not None
    assert with_child - without >= 0.5


def test_an_unknown_process_is_unknown() -> None:
    assert process_tree_seconds(2**22 + 12345) is None
