"""``python -m homeport.cli`` runs the ``homeport`` command."""

from homeport.cli.main import main

main()
