"""The risk model: training (LightGBM), held-out metrics, versioned artifacts, scoring
with per-decision explanations, and messy-CSV loading for bring-your-own data.

Import the submodules (`guardpay.ml.model`, `.train`, `.csvdata`, `.metrics`) directly:
this package re-exports nothing, so loading a model for scoring never pulls in the
training stack (scikit-learn), and the CLI starts fast."""
