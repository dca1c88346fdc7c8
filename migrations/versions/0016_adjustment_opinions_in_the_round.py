"""Art 22 adjustment opinions: the provincial round a city's opinion on a
provincial unit's change went up with, and which decided it

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-26 08:10:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('designation_change', schema=None) as batch_op:
        batch_op.add_column(sa.Column('round_instance_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_designation_change_round_instance_id'), ['round_instance_id'], unique=False)


def downgrade():
    with op.batch_alter_table('designation_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_designation_change_round_instance_id'))
        batch_op.drop_column('round_instance_id')
