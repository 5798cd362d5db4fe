"""Homeport: the broadband experience platform for broadband service providers."""

__version__ = "0.1.0"
