"""Core: settings, database, events, clock and errors. Imports nothing from Homeport."""
