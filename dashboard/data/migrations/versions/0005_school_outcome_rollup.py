"""school_outcome_rollup: each school's outcomes per school year and metric, tiers summed

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "school_outcome_rollup",
        sa.Column("metric", sa.String(20), nullable=False),
        sa.Column("school_year", sa.String(7), nullable=False),
        sa.Column("school_id", sa.String(40), nullable=False),
        sa.Column("eligible", sa.BigInteger(), nullable=False),
        sa.Column("met", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("metric", "school_year", "school_id", name=op.f("pk_school_outcome_rollup")),
    )
    # Filled by migrate.upgrade, which refreshes every rollup once the last of them exists.


def downgrade() -> None:
    op.drop_table("school_outcome_rollup")
