"""Network: topology (region > access node > port) and each home's network."""
