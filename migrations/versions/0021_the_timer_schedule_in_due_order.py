"""The timer scheduler reads its schedule from the due-time index in (due time, id) order,
a batch at a time: with the id in the index, a batch reads its own 200 rows rather than every
case due at that moment (10,000 on 15 April, so every batch read all of them on PostgreSQL)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 00:40:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.create_index('ix_process_instance_due', ['next_timer_at', 'id'], unique=False)
        batch_op.drop_index(batch_op.f('ix_process_instance_next_timer_at'))


def downgrade():
    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_process_instance_next_timer_at'), ['next_timer_at'], unique=False)
        batch_op.drop_index('ix_process_instance_due')
