"""Payments, the pure rules: the state machine, merchant fees, signed order QR codes,
customer payment codes and the QR limits by authentication strength. No I/O here."""
