"""Regulatory reports, pure: which movements a jurisdiction's large-value rules make
reportable, and the rows a report holds."""
