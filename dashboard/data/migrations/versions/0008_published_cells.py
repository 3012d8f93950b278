"""published_cells: every figure a page can show, with its one suppression decision (dashboard/disclosure.py)

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "published_cells",
        sa.Column("school_year", sa.String(7), nullable=False),
        sa.Column("measure", sa.String(20), nullable=False),
        sa.Column("unit", sa.String(10), nullable=False),
        sa.Column("unit_id", sa.String(40), nullable=False),
        sa.Column("slice", sa.String(60), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(2), nullable=False),
        sa.Column("affiliate_id", sa.String(40), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("met", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(6), nullable=False),
        sa.PrimaryKeyConstraint(
            "school_year", "measure", "unit", "slice", "tier", "unit_id", name=op.f("pk_published_cells")
        ),
    )
    # Filled by migrate.upgrade, which refreshes every rollup once the last of them exists.


def downgrade() -> None:
    op.drop_table("published_cells")
