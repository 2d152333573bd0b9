"""Model directories on disk: LightGBM's text format plus a JSON description.

Text, never pickle: loading a pickle runs code, and a model directory is something an
operator copies between machines. `meta.json` carries the SHA-256 of `model.txt`, so a
truncated copy or a hand edit is caught at load time, and the service can fall back to
rules only instead of scoring with a damaged model.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from guardpay.errors import GuardpayError, InvalidRequest

MODEL_FILE: Final = "model.txt"
META_FILE: Final = "meta.json"
FORMAT: Final = 1
REQUIRED_META: Final = ("format", "version", "feature_names", "model_sha256", "created_at")


class ModelUnavailable(GuardpayError):
    """A model directory is missing, incomplete or corrupt: score with rules only.
    Codes: `model_missing`, `model_corrupt`."""

    code = "model_unavailable"


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def make_version(model_text: str, created_at: datetime) -> str:
    """`m-YYYYMMDD-HHMM-<hash8>`: sorts by time, and the hash tells two models trained in
    the same minute apart (and identifies identical ones)."""
    return f"m-{created_at:%Y%m%d-%H%M}-{sha256_text(model_text)[:8]}"


def _write_atomic(path: Path, text: str) -> None:
    """Write then rename, so a crash never leaves a half-written file under the real name."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def ensure_new_model_dir(directory: Path) -> None:
    """Fail unless a model can be written to `directory` (checked before training too,
    so a long run does not end in this error)."""
    if (directory / MODEL_FILE).exists() or (directory / META_FILE).exists():
        raise InvalidRequest(
            f"{directory} already holds a model; choose a new directory",
            code="model_exists",
            param="out",
        )
    if directory.exists() and not directory.is_dir():
        raise InvalidRequest(f"{directory} is not a directory", code="model_exists", param="out")


def write_model_dir(directory: Path, model_text: str, meta: dict[str, Any]) -> Path:
    """Create `directory` with model.txt and meta.json. An existing model is never
    overwritten: versions are immutable, so what was activated stays what was reviewed.
    meta.json is written last: a directory without it is visibly incomplete."""
    directory = Path(directory)
    ensure_new_model_dir(directory)
    directory.mkdir(parents=True, exist_ok=True)
    full = {**meta, "format": FORMAT, "model_sha256": sha256_text(model_text)}
    _write_atomic(directory / MODEL_FILE, model_text)
    _write_atomic(directory / META_FILE, json.dumps(full, indent=2, sort_keys=True) + "\n")
    return directory


def _read(path: Path) -> str:
    if not path.is_file():
        raise ModelUnavailable(f"model file missing: {path}", code="model_missing")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelUnavailable(f"cannot read {path}: {exc}", code="model_corrupt") from exc


def _check_meta(meta: Any) -> None:
    if not isinstance(meta, dict):
        raise ModelUnavailable(f"{META_FILE} is not a JSON object", code="model_corrupt")
    if absent := [k for k in REQUIRED_META if k not in meta]:
        raise ModelUnavailable(f"{META_FILE} lacks {', '.join(absent)}", code="model_corrupt")
    if meta["format"] != FORMAT:
        raise ModelUnavailable(
            f"model format {meta['format']!r} is not supported (want {FORMAT})",
            code="model_corrupt",
        )
    names = meta["feature_names"]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ModelUnavailable(f"{META_FILE} has no valid feature_names", code="model_corrupt")


def read_model_dir(directory: Path) -> tuple[str, dict[str, Any]]:
    """(model text, meta) after checking that both files exist, meta.json is a complete
    description in a format this code understands, and model.txt matches its checksum."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelUnavailable(f"no model directory at {directory}", code="model_missing")
    meta_text = _read(directory / META_FILE)
    model_text = _read(directory / MODEL_FILE)
    try:
        meta = json.loads(meta_text)
    except json.JSONDecodeError as exc:
        raise ModelUnavailable(f"{META_FILE} is not JSON: {exc}", code="model_corrupt") from exc
    _check_meta(meta)
    if sha256_text(model_text) != meta["model_sha256"]:
        raise ModelUnavailable(
            f"{MODEL_FILE} does not match its checksum in {META_FILE}", code="model_corrupt"
        )
    return model_text, meta
