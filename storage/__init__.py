"""The schema (SQLModel tables, Alembic migrations) and the few queries the rest needs."""
