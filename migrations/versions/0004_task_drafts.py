"""task drafts: entries saved on a task's form before it is submitted

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 02:10:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('task_draft',
    sa.Column('task_id', sa.String(length=36), nullable=False),
    sa.Column('user_name', sa.String(length=80), nullable=False),
    sa.Column('values', sa.JSON(), nullable=False),
    sa.Column('saved_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['human_task.id'], name=op.f('fk_task_draft_task_id_human_task'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('task_id', 'user_name', name=op.f('pk_task_draft'))
    )


def downgrade():
    op.drop_table('task_draft')
