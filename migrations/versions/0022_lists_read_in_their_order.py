"""Lists read in their order: the task lists' due-date order and the registry's
and the public lists' orders as indexes, so a keyset page is an index range, not a sort of the table

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 00:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_human_task_due_order', 'human_task', ['due_at', 'created_at', 'id'], unique=False)
    op.create_index('ix_designation_listed_on_id', 'designation', ['listed_on', 'id'], unique=False)
    op.create_index('ix_designation_public_order', 'designation',
                    [sa.text('level DESC'), 'unit_type', sa.text('listed_on DESC'), sa.text('id DESC')], unique=False)


def downgrade():
    op.drop_index('ix_designation_public_order', table_name='designation')
    op.drop_index('ix_designation_listed_on_id', table_name='designation')
    op.drop_index('ix_human_task_due_order', table_name='human_task')
