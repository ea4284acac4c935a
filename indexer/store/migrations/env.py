"""Alembic's entry point for clipdex's store: migrations run on the connection the Store
hands over (config.attributes["connection"]), never on a URL of their own."""

from alembic import context

from indexer.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
