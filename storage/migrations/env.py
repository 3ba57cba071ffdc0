"""Alembic environment: one history for mailbot's and the portal stand-in's tables."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import portal_stub.models  # the portal stand-in's tables share the history
import storage.models  # noqa: F401  (registers the tables)
from storage.db import make_engine

config = context.config
target_metadata = SQLModel.metadata
# The FTS5 search table is created by hand in 0002: autogenerate must not propose to drop it.
INCLUDE_NAME = portal_stub.models.include_in_autogenerate


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        include_name=INCLUDE_NAME,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            include_name=INCLUDE_NAME,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
