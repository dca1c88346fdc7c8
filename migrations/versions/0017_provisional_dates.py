"""Dates counted on a provisional holiday calendar are marked so until the
year's official arrangement settles them

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 21:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

# the first year a date was counted on provisionally, until that year's notice settles it
YEARS = [("human_task", "due_provisional_year"), ("pending_timer", "provisional_year"),
         ("public_notice", "provisional_year")]


def upgrade():
    for table, column in YEARS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column(column, sa.Integer(), nullable=True))
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.add_column(sa.Column("due_provisional", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_column("due_provisional")
    for table, column in YEARS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column(column)
