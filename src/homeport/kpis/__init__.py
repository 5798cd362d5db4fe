"""KPIs: one definition per KPI (formula, unit, direction, edge cases), computed from the other
domains' data with cuts (period, channel, team, agent, region, plan, journey stage, origin),
targets, snapshots that outlive data retention, and scheduled reports (DESIGN.md section 6)."""
