"""Subscribers: accounts with contact and consent, plans, value-based bundles."""
