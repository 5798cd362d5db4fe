"""SMS: the inbound webhook (Twilio-compatible) and the outbound provider adapter."""
