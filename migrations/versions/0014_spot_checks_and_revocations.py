"""spot checks and revocations

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-26 03:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('revocation_announcement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('designation_id', sa.Integer(), nullable=False),
    sa.Column('ground', sa.String(length=40), nullable=False),
    sa.Column('article', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decided_on', sa.Date(), nullable=False),
    sa.Column('public_on', sa.Date(), nullable=False),
    sa.Column('timing', sa.String(length=20), nullable=False),
    sa.Column('bars_reapplication', sa.Boolean(), nullable=False),
    sa.Column('decision', sa.Text(), nullable=True),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['designation_id'], ['designation.id'], name=op.f('fk_revocation_announcement_designation_id_designation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_revocation_announcement')),
    sa.UniqueConstraint('designation_id', name=op.f('uq_revocation_announcement_designation_id'))
    )
    with op.batch_alter_table('revocation_announcement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_revocation_announcement_public_on'), ['public_on'], unique=False)


def downgrade():
    with op.batch_alter_table('revocation_announcement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_revocation_announcement_public_on'))

    op.drop_table('revocation_announcement')
