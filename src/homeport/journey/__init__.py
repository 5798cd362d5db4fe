"""The subscriber journey: journey events with their owning department, surveys (NPS, CSAT,
CES) at the right moments with the closed loop for detractors, and frontline feedback."""
