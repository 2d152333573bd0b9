"""Settings from the environment, resolved once per process edge (CLI command, app)."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DATA_DIR = Path("guardpay-data")
DATABASE_URL_ENV = "GUARDPAY_DATABASE_URL"


def default_database_url() -> str:
    """`GUARDPAY_DATABASE_URL`, else an SQLite file under ./guardpay-data/."""
    url = os.environ.get(DATABASE_URL_ENV)
    if url:
        return url
    return f"sqlite:///{DEFAULT_DATA_DIR / 'guardpay.db'}"
