"""A seeded, deterministic simulation of a BSP (DESIGN.md section 8)."""
