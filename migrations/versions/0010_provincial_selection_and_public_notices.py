"""public notices of proposed lists, and objections to them

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 03:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('public_notice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('working_days', sa.Integer(), nullable=False),
    sa.Column('published_on', sa.Date(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('listed', sa.JSON(), nullable=True),
    sa.Column('struck_off', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], name=op.f('fk_public_notice_instance_id_process_instance'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_public_notice'))
    )
    with op.batch_alter_table('public_notice', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_public_notice_ends_at'), ['ends_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_public_notice_instance_id'), ['instance_id'], unique=False)

    op.create_table('notice_objection',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notice_id', sa.Integer(), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=False),
    sa.Column('real_name', sa.String(length=100), nullable=False),
    sa.Column('organisation', sa.String(length=200), nullable=True),
    sa.Column('contact', sa.String(length=200), nullable=False),
    sa.Column('reasons', sa.Text(), nullable=False),
    sa.Column('attachment_ids', sa.JSON(), nullable=False),
    sa.Column('submitted_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['notice_id'], ['public_notice.id'], name=op.f('fk_notice_objection_notice_id_public_notice'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notice_objection'))
    )
    with op.batch_alter_table('notice_objection', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notice_objection_notice_id'), ['notice_id'], unique=False)


def downgrade():
    op.drop_table('notice_objection')
    op.drop_table('public_notice')
