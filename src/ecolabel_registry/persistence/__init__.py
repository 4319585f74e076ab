"""Persistence: SQLAlchemy tables, engine set-up and repositories."""
