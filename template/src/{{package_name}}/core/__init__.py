"""Core services every module builds on: settings, database, money, country, audit, security."""
