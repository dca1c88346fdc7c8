"""A draft's task no longer cascades its id to it (ON UPDATE CASCADE): on SQLite a parent key
with an ON UPDATE action makes every UPDATE of it rewrite all of the inbox's indexes, three
pages more in a step's commit; the step locks the entry it hands over instead, so that no
draft can be saved for it meanwhile

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-06 06:30:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0034'
down_revision = '0033'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('task_draft', schema=None) as batch_op:
        batch_op.drop_constraint('fk_task_draft_task_id_human_task', type_='foreignkey')
        batch_op.create_foreign_key('fk_task_draft_task_id_human_task', 'human_task', ['task_id'], ['id'],
                                    ondelete='CASCADE')


def downgrade():
    with op.batch_alter_table('task_draft', schema=None) as batch_op:
        batch_op.drop_constraint('fk_task_draft_task_id_human_task', type_='foreignkey')
        batch_op.create_foreign_key('fk_task_draft_task_id_human_task', 'human_task', ['task_id'], ['id'],
                                    ondelete='CASCADE', onupdate='CASCADE')
