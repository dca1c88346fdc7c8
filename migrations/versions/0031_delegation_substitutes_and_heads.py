"""Delegation and supervision: the substitutes officials name for a range of days (委托代办),
and the heads (负责人) an administrator marks, who assign their role's tasks

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-05 22:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "delegation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("principal", sa.String(length=80), nullable=False),
        sa.Column("substitute", sa.String(length=80), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_delegation_substitute_ends_on", "delegation", ["substitute", "ends_on"], unique=False)
    op.create_index("ix_delegation_principal", "delegation", ["principal"], unique=False)
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("is_head", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_column("is_head")
    op.drop_index("ix_delegation_principal", table_name="delegation")
    op.drop_index("ix_delegation_substitute_ends_on", table_name="delegation")
    op.drop_table("delegation")
