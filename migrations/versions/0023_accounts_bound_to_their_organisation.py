"""Accounts bound to their organisation: an enterprise's or agency's own registration
(credit code, legal representative, registered address and its city, contact), confirmed
by that city, and the accounts acting for it

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05 04:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "registration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("legal_representative", sa.String(length=80), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("division_code", sa.String(length=6), nullable=False),
        sa.Column("jurisdiction", sa.String(length=12), nullable=False),
        sa.Column("contact_person", sa.String(length=80), nullable=False),
        sa.Column("mobile", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("registered_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by", sa.String(length=80), nullable=True),
        sa.Column("refusal_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("credit_code"),
    )
    op.create_index(op.f("ix_registration_jurisdiction"), "registration", ["jurisdiction"], unique=False)
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("registration_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_app_user_registration_id"), ["registration_id"], unique=False)
        batch_op.create_foreign_key("fk_app_user_registration_id_registration", "registration",
                                    ["registration_id"], ["id"])


def downgrade():
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_constraint("fk_app_user_registration_id_registration", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_app_user_registration_id"))
        batch_op.drop_column("registration_id")
    op.drop_index(op.f("ix_registration_jurisdiction"), table_name="registration")
    op.drop_table("registration")
