"""partner_year_rollup and partner_category_rollup: the Partners page's national figures per school year

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partner_year_rollup",
        sa.Column("school_year", sa.String(7), nullable=False),
        sa.Column("partner_id", sa.String(40), nullable=False),
        sa.Column("schools_reached", sa.Integer(), nullable=False),
        sa.Column("in_kind_usd", sa.Float(), nullable=False),
        sa.Column("volunteer_hours", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("school_year", "partner_id", name=op.f("pk_partner_year_rollup")),
    )
    op.create_index(
        "ix_partner_year_rollup_top", "partner_year_rollup", ["school_year", sa.text("in_kind_usd DESC"), "partner_id"]
    )
    op.create_table(
        "partner_category_rollup",
        sa.Column("school_year", sa.String(7), nullable=False),
        sa.Column("partner_category", sa.String(20), nullable=False),
        sa.Column("support_category", sa.String(30), nullable=False),
        sa.Column("partners", sa.Integer(), nullable=False),
        sa.Column("schools_reached", sa.Integer(), nullable=False),
        sa.Column("in_kind_usd", sa.Float(), nullable=False),
        sa.Column("volunteer_hours", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(
            "school_year", "partner_category", "support_category", name=op.f("pk_partner_category_rollup")
        ),
    )
    # Filled by migrate.upgrade, which refreshes every rollup once the last of them exists.


def downgrade() -> None:
    op.drop_table("partner_category_rollup")
    op.drop_table("partner_year_rollup")
