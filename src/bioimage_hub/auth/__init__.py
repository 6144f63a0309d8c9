"""API tokens and principals (who is calling, with which role)."""
