"""Adapters to the outside world, one folder per protocol or source."""
