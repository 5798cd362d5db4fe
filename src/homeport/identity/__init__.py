"""Identity: staff users, teams, subscriber accounts, API tokens, login throttling."""
