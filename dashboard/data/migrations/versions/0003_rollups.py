"""rollup tables by school year, state and affiliate; index for distinct partners per year

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outcome_rollup",
        sa.Column("school_year", sa.String(7), primary_key=True),
        sa.Column("state", sa.String(2), primary_key=True),
        sa.Column("affiliate_id", sa.String(40), primary_key=True),
        sa.Column("tier", sa.Integer(), primary_key=True),
        sa.Column("metric", sa.String(20), primary_key=True),
        sa.Column("eligible", sa.BigInteger(), nullable=False),
        sa.Column("met", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "school_year", "state", "affiliate_id", "tier", "metric", name=op.f("pk_outcome_rollup")
        ),
    )
    op.create_table(
        "school_year_rollup",
        sa.Column("school_year", sa.String(7), primary_key=True),
        sa.Column("state", sa.String(2), primary_key=True),
        sa.Column("affiliate_id", sa.String(40), primary_key=True),
        sa.Column("schools", sa.Integer(), nullable=False),
        *(
            sa.Column(name, sa.BigInteger(), nullable=False)
            for name in ("enrollment", "students_served", "tier1_students", "tier2_students", "tier3_students")
        ),
        sa.Column("site_coordinators", sa.Float(), nullable=False),
        sa.Column("volunteers", sa.BigInteger(), nullable=False),
        sa.Column("volunteer_hours", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("school_year", "state", "affiliate_id", name=op.f("pk_school_year_rollup")),
    )
    op.create_index("ix_partnerships_year_partner", "partnerships", ["school_year", "partner_id"])
    # Filled by migrate.upgrade, which refreshes every rollup once the last of them exists.


def downgrade() -> None:
    op.drop_index("ix_partnerships_year_partner", table_name="partnerships")
    op.drop_table("school_year_rollup")
    op.drop_table("outcome_rollup")
