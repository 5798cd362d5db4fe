"""Telemetry: the report contract, validation, batched storage and rollups (DESIGN.md 5)."""
