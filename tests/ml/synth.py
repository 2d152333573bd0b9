"""Small synthetic fraud data where the label depends on known features, so tests can
check that the model finds exactly those (and ignores pure noise)."""

from __future__ import annotations

import numpy as np

from guardpay.ml.train import TrainConfig

NAMES = ["amount", "speed_kmh", "device_accounts", "noise_a", "noise_b", "noise_c"]
SIGNAL = {"amount", "speed_kmh", "device_accounts"}
# fewer, bigger boosting steps: keeps the suite fast on a busy machine (the defaults are
# exercised by test_train.py's main model and the CLI)
FAST = TrainConfig(learning_rate=0.2, early_stopping_rounds=15)


def fraud_data(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, y, times): ~4 % fraud driven by large amounts, fast travel and shared devices;
    5 % of cells missing; times are shuffled epoch seconds over ~35 days."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(NAMES)))
    risk = 2.5 * X[:, 0] + 2.0 * (X[:, 1] > 1.0) + 1.5 * X[:, 2] - 6.0
    y = (rng.random(n) < 1 / (1 + np.exp(-2.0 * risk))).astype(np.int8)
    X[rng.random(X.shape) < 0.05] = np.nan
    times = 1_700_000_000.0 + rng.permutation(n) * 1000.0
    return X, y, times


def risky_row() -> dict[str, float]:
    """A payment every signal feature flags."""
    return {
        "amount": 3.0,
        "speed_kmh": 2.5,
        "device_accounts": 2.5,
        "noise_a": 0.0,
        "noise_b": 0.0,
        "noise_c": 0.0,
    }
