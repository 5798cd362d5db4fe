"""Campaigns to a segment (email and portal, consent and opt-out respected) and experiments:
random, stable assignment to variants, the KPI compared, and the result with a confidence
interval and a plain verdict."""
