"""CSV import of subscribers, plans and topology from billing/OSS exports."""
