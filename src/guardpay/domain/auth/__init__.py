"""Authentication rules as pure functions: password policy, lockout and rate limits,
session validity, step-up decisions and the operator role hierarchy. No I/O here; the
services in `services/auth*.py` and `services/auth/operators.py` apply these rules to what
storage holds."""
