"""Risk control's pure core: the feature schema, the rule language, decisions."""
