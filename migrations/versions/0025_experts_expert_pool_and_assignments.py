"""Expert review as the province runs it (Art 15): the expert pool, the conflicts each
expert declares, who was assigned to review which candidate, and what each task is about

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05 04:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'expert',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('field', sa.String(length=200), nullable=False),
        sa.Column('organisation', sa.String(length=200), nullable=False),
        sa.Column('account', sa.String(length=80), nullable=False),
        sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column('added_at', sa.DateTime(), nullable=False),
        sa.Column('added_by', sa.String(length=80), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('account'),
    )
    op.create_table(
        'expert_conflict',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('expert_id', sa.Integer(), nullable=False),
        sa.Column('credit_code', sa.String(length=18), nullable=False),
        sa.Column('unit_name', sa.String(length=200), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('worked_until', sa.Date(), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('declared_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['expert_id'], ['expert.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_expert_conflict_expert_id', 'expert_conflict', ['expert_id'], unique=False)
    op.create_index('ix_expert_conflict_credit_code', 'expert_conflict', ['credit_code'], unique=False)
    op.create_table(
        'expert_assignment',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('candidate', sa.String(length=80), nullable=False),
        sa.Column('credit_code', sa.String(length=18), nullable=False),
        sa.Column('unit_type', sa.String(length=40), nullable=False),
        sa.Column('unit_name', sa.String(length=200), nullable=True),
        sa.Column('expert_id', sa.Integer(), nullable=False),
        sa.Column('assigned_at', sa.DateTime(), nullable=False),
        sa.Column('assigned_by', sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(['expert_id'], ['expert.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_expert_assignment_instance_id', 'expert_assignment', ['instance_id'], unique=False)
    op.create_index('ix_expert_assignment_expert', 'expert_assignment', ['expert_id', 'instance_id'], unique=False)
    op.add_column('human_task', sa.Column('subject', sa.String(length=255), nullable=True))


def downgrade():
    op.drop_column('human_task', 'subject')
    op.drop_index('ix_expert_assignment_expert', table_name='expert_assignment')
    op.drop_index('ix_expert_assignment_instance_id', table_name='expert_assignment')
    op.drop_table('expert_assignment')
    op.drop_index('ix_expert_conflict_credit_code', table_name='expert_conflict')
    op.drop_index('ix_expert_conflict_expert_id', table_name='expert_conflict')
    op.drop_table('expert_conflict')
    op.drop_table('expert')
