"""unknown_sign_ins: failed sign-ins of usernames that are not accounts, locked like an account's

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "unknown_sign_ins",
        sa.Column("username", sa.String(80), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_unknown_sign_ins")),
    )


def downgrade() -> None:
    op.drop_table("unknown_sign_ins")
