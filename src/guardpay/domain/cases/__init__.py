"""Alerts and cases, pure: the case workflow, its SLA clock, alert de-duplication and the
money's path around an account that an alert keeps for the console to draw."""
