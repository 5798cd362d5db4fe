"""Support: cases and interactions. This first version holds the minimal proactive case that
health opens; the support-desk issue grows it (channels, SLAs, routing, console)."""
