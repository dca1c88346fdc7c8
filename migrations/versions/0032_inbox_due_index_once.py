"""The inbox's due date indexed once: the list order's index (due_at, created_at, id) serves
every query the due date's own index served, and each index is written again by every step

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-06 01:00:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0032'
down_revision = '0031'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_human_task_due_at', table_name='human_task')


def downgrade():
    op.create_index('ix_human_task_due_at', 'human_task', ['due_at'], unique=False)
