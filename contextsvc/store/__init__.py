"""Persistence: SQLAlchemy 2 Core over SQLite (default) or PostgreSQL."""
