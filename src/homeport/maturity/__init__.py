"""The maturity stage (DESIGN.md section 7): where the BSP stands on the five-stage service
continuum, computed from its own data with evidence, and the gap to the next stage."""
