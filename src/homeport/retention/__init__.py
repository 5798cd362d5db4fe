"""Retention and value: churn risk per subscriber with its reasons, the retention queue with
saves and losses, lifestyle segments inferred from the home network, and value-based bundle
recommendations with the reason and their acceptance."""
