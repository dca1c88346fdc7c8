"""A task's case from its id alone: a completion that comes after the task was done
answers 409 to whoever may see the case

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 22:35:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('instance_task', schema=None) as batch_op:
        batch_op.create_index('ix_instance_task_task_id', ['task_id'], unique=False)


def downgrade():
    with op.batch_alter_table('instance_task', schema=None) as batch_op:
        batch_op.drop_index('ix_instance_task_task_id')
