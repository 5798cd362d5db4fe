"""Health: detectors, findings with hysteresis, experience score, outage correlation,
auto-remediation policies (DESIGN.md 5a)."""
