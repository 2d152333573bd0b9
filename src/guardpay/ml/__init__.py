"""The risk model: training (LightGBM), held-out metrics, versioned artifacts, scoring
with per-decision explanations, and messy-CSV loading for bring-your-own data."""

from guardpay.ml.artifacts import ModelUnavailable
from guardpay.ml.csvdata import CsvData, load_scoring_csv, load_training_csv
from guardpay.ml.metrics import held_out_metrics, recall_at_rate
from guardpay.ml.model import TrainedModel, load_model
from guardpay.ml.train import TrainConfig, train_model

__all__ = [
    "CsvData",
    "ModelUnavailable",
    "TrainConfig",
    "TrainedModel",
    "held_out_metrics",
    "load_model",
    "load_scoring_csv",
    "load_training_csv",
    "recall_at_rate",
    "train_model",
]
