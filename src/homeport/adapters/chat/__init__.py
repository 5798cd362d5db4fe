"""Live and async chat: WebSockets between a signed-in subscriber and agents."""
