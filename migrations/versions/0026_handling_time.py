"""How long each step with a statutory time limit took, beside its limit (办理用时), for the
dashboard's chart of time taken per procedure step

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-05 22:10:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'handling_time',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('process_id', sa.String(length=255), nullable=False),
        sa.Column('element', sa.String(length=255), nullable=False),
        sa.Column('jurisdiction', sa.String(length=12), nullable=True),
        sa.Column('began_at', sa.DateTime(), nullable=False),
        sa.Column('due_at', sa.DateTime(), nullable=False),
        sa.Column('done_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_handling_time_instance_id', 'handling_time', ['instance_id'])
    op.create_index('ix_handling_time_done_at', 'handling_time', ['done_at'])


def downgrade():
    op.drop_index('ix_handling_time_done_at', table_name='handling_time')
    op.drop_index('ix_handling_time_instance_id', table_name='handling_time')
    op.drop_table('handling_time')
