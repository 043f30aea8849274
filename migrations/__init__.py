"""Alembic environment and revisions of the harvest database."""
