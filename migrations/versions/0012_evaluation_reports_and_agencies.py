"""evaluation reports and agencies

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 03:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('agency',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=False),
    sa.Column('legal_representative', sa.String(length=80), nullable=False),
    sa.Column('jurisdiction', sa.String(length=12), nullable=True),
    sa.Column('account', sa.String(length=80), nullable=True),
    sa.Column('named_for_fraud_on', sa.Date(), nullable=True),
    sa.Column('results_refused_until', sa.Date(), nullable=True),
    sa.Column('named_reason', sa.Text(), nullable=True),
    sa.Column('named_by_instance', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agency')),
    sa.UniqueConstraint('account', name=op.f('uq_agency_account')),
    sa.UniqueConstraint('credit_code', name=op.f('uq_agency_credit_code'))
    )
    with op.batch_alter_table('agency', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agency_jurisdiction'), ['jurisdiction'], unique=False)
        batch_op.create_index(batch_op.f('ix_agency_legal_representative'), ['legal_representative'], unique=False)

    op.create_table('agency_engagement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('legal_representative', sa.String(length=80), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('unit_type', sa.String(length=40), nullable=True),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('engaged_on', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_agency_engagement_agency_id_agency')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agency_engagement')),
    sa.UniqueConstraint('instance_id', name=op.f('uq_agency_engagement_instance_id'))
    )
    with op.batch_alter_table('agency_engagement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agency_engagement_agency_id'), ['agency_id'], unique=False)
        batch_op.create_index('ix_agency_engagement_count', ['legal_representative', 'level', 'year'], unique=False)

    op.create_table('evaluation_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=False),
    sa.Column('organisation_name', sa.String(length=200), nullable=False),
    sa.Column('unit_type', sa.String(length=40), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('evaluation_mode', sa.String(length=16), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=True),
    sa.Column('basic_requirements', sa.JSON(), nullable=False),
    sa.Column('indicators', sa.JSON(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('pass_mark', sa.Float(), nullable=False),
    sa.Column('verdict', sa.String(length=16), nullable=False),
    sa.Column('vetoed_by', sa.JSON(), nullable=False),
    sa.Column('attachment_id', sa.Integer(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(), nullable=False),
    sa.Column('submitted_by', sa.String(length=80), nullable=True),
    sa.Column('version_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_evaluation_report_agency_id_agency')),
    sa.ForeignKeyConstraint(['attachment_id'], ['attachment.id'], name=op.f('fk_evaluation_report_attachment_id_attachment')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluation_report'))
    )
    with op.batch_alter_table('evaluation_report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evaluation_report_credit_code'), ['credit_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_evaluation_report_instance_id'), ['instance_id'], unique=False)



def downgrade():
    with op.batch_alter_table('evaluation_report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evaluation_report_instance_id'))
        batch_op.drop_index(batch_op.f('ix_evaluation_report_credit_code'))

    op.drop_table('evaluation_report')
    with op.batch_alter_table('agency_engagement', schema=None) as batch_op:
        batch_op.drop_index('ix_agency_engagement_count')
        batch_op.drop_index(batch_op.f('ix_agency_engagement_agency_id'))

    op.drop_table('agency_engagement')
    with op.batch_alter_table('agency', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agency_legal_representative'))
        batch_op.drop_index(batch_op.f('ix_agency_jurisdiction'))

    op.drop_table('agency')
