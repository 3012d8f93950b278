"""partner_rollup: distinct partners per school year for the nation, each state and each affiliate

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partner_rollup",
        sa.Column("school_year", sa.String(7), nullable=False),
        sa.Column("grain", sa.String(10), nullable=False),
        sa.Column("place", sa.String(40), nullable=False),
        sa.Column("partners", sa.Integer(), nullable=False),
        sa.Column("schools_reached", sa.Integer(), nullable=False),
        sa.Column("in_kind_usd", sa.Float(), nullable=False),
        sa.Column("volunteer_hours", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("school_year", "grain", "place", name=op.f("pk_partner_rollup")),
    )
    # Filled by migrate.upgrade, which refreshes every rollup once the last of them exists.


def downgrade() -> None:
    op.drop_table("partner_rollup")
