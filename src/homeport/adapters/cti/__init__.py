"""Phone: the CTI webhook (call started, answered, ended) and screen pops."""
