"""HTTP telemetry ingest: ``POST /api/v1/telemetry`` for gateways and integrations."""
