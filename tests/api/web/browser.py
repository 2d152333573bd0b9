"""Driving the screens in a real browser: the app served by uvicorn on a loopback port,
Debian's Chromium (headless) driven by Playwright for Python, axe-core's accessibility
check on every page, and a screenshot of every page kept under `test-artifacts/`.

Chromium is installed by the test command (`make test`) when it is missing; where it
cannot be, the browser tests fail with that said, rather than skip: they are what shows
the screens work.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = os.environ.get("GUARDPAY_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("GUARDPAY_ARTIFACTS", "test-artifacts")) / "screenshots"
#: flags for a closed network: no background fetches, no sandbox as root
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: axe-core impacts a page may not have
BLOCKING = {"serious", "critical"}


@contextmanager
def served(app: Any) -> Iterator[str]:
    """The app on a free loopback port, in a thread, for as long as the block runs."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def chromium() -> Iterator[Browser]:
    path = shutil.which(CHROMIUM) or CHROMIUM
    assert Path(path).exists(), (
        f"no Chromium at {CHROMIUM}: `make test` installs Debian's chromium package "
        "(set GUARDPAY_CHROMIUM to use another)"
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, headless=True, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def checked(page: Page, name: str) -> None:
    """The page as it is now: no serious accessibility violation, and a screenshot kept."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    found = Axe().run(page).response["violations"]
    blocking = [(v["id"], v["impact"], len(v["nodes"])) for v in found if v["impact"] in BLOCKING]
    assert blocking == [], f"{name}: {blocking}"
