"""The email channel: Homeport's own SMTP listener for inbound support mail (``server``,
``message``, ``inbound``) and the sender of queued replies through the BSP's relay (``sender``).
See docs/support.md, "Email"."""
