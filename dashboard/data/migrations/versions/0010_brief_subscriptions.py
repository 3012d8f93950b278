"""brief_subscriptions: accounts' briefs sent by email, monthly or after each load

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "brief_subscriptions",
        sa.Column("subscription_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(80), nullable=False),
        sa.Column("place", sa.String(80), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("cadence", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sent_load", sa.Integer(), nullable=True),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint("format IN ('pdf', 'pptx')", name=op.f("ck_brief_subscriptions_format")),
        sa.CheckConstraint("cadence IN ('monthly', 'after_load')", name=op.f("ck_brief_subscriptions_cadence")),
        sa.ForeignKeyConstraint(["username"], ["users.username"], ondelete="CASCADE",
                                name=op.f("fk_brief_subscriptions_username_users")),  # fmt: skip
        sa.PrimaryKeyConstraint("subscription_id", name=op.f("pk_brief_subscriptions")),
        sa.UniqueConstraint("username", "place", "format", name=op.f("one_per_place_and_format")),
    )


def downgrade() -> None:
    op.drop_table("brief_subscriptions")
