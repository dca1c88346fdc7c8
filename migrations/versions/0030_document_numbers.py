"""Document numbers (文号): each department's pattern, its yearly sequence, and the numbers issued

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-05 21:50:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'document_number_pattern',
        sa.Column('department', sa.String(length=12), nullable=False),
        sa.Column('pattern', sa.String(length=60), nullable=False),
        sa.Column('set_at', sa.DateTime(), nullable=False),
        sa.Column('set_by', sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint('department'),
    )
    op.create_table(
        'document_sequence',
        sa.Column('department', sa.String(length=12), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('last', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('department', 'year'),
    )
    op.create_table(
        'document_number',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('department', sa.String(length=12), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('reference', sa.String(length=80), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('issued_at', sa.DateTime(), nullable=False),
        sa.Column('issued_by', sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('reference'),
        sa.UniqueConstraint('department', 'year', 'number', name='uq_document_number'),
        sa.UniqueConstraint('instance_id', 'kind', name='uq_document_of_case'),
    )
    op.create_index(op.f('ix_document_number_instance_id'), 'document_number', ['instance_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_document_number_instance_id'), table_name='document_number')
    op.drop_table('document_number')
    op.drop_table('document_sequence')
    op.drop_table('document_number_pattern')
