"""Merchants' side of the platform: how their API requests are signed."""
