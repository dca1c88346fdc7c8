"""A draft saved while its task's inbox row is being handed over to the next task follows the
row (ON UPDATE CASCADE) instead of failing the step: the step deletes the drafts of the task
done first, and on PostgreSQL one saved in between would otherwise make its UPDATE fail

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-06 05:00:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0033'
down_revision = '0032'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('task_draft', schema=None) as batch_op:
        batch_op.drop_constraint('fk_task_draft_task_id_human_task', type_='foreignkey')
        batch_op.create_foreign_key('fk_task_draft_task_id_human_task', 'human_task', ['task_id'], ['id'],
                                    ondelete='CASCADE', onupdate='CASCADE')


def downgrade():
    with op.batch_alter_table('task_draft', schema=None) as batch_op:
        batch_op.drop_constraint('fk_task_draft_task_id_human_task', type_='foreignkey')
        batch_op.create_foreign_key('fk_task_draft_task_id_human_task', 'human_task', ['task_id'], ['id'],
                                    ondelete='CASCADE')
