"""The ``homeport`` command: thin wrappers over domain actions."""
