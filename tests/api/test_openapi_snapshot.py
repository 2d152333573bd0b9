"""The OpenAPI document is the API's contract with every client: it changes only on
purpose. It is compared whole with the copy committed beside this test (issue 16: a
reshaping of the code leaves it as it was). After a deliberate API change, accept the new
document by copying the one this test writes on a mismatch over `openapi.json`."""

from __future__ import annotations

import json
from pathlib import Path

from guardpay.api.app import create_app
from guardpay.security.keys import Keyring
from guardpay.storage.engine.db import Database

SNAPSHOT = Path(__file__).with_name("openapi.json")


def test_the_openapi_document_is_the_committed_one(sqlite_db: Database, tmp_path: Path) -> None:
    document = create_app(sqlite_db, keyring=Keyring.generate()).openapi()
    committed = json.loads(SNAPSHOT.read_text())
    if document != committed:
        written = tmp_path / "openapi.json"
        written.write_text(json.dumps(document, indent=1, sort_keys=True))
        changed = sorted(
            path
            for path in set(document["paths"]) | set(committed["paths"])
            if document["paths"].get(path) != committed["paths"].get(path)
        )
        raise AssertionError(f"the OpenAPI document changed ({changed[:10]}); now: {written}")
