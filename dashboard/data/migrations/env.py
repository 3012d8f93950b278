"""Alembic environment: runs on the connection dashboard.data.db.upgrade hands it."""

from alembic import context

from dashboard.data.db import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # `alembic` run from the command line: use the configured database
    from dashboard.data.db import create_engine

    connectable = create_engine()
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
