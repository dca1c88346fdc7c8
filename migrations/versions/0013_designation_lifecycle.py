"""designation lifecycle: start requests (the engine's outbox), lifecycle cases, yearly
dynamic-management filings, missed filings, on-site reviews, Art 22 changes, incident reports

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 03:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('designation_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('designation_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('old_value', sa.Text(), nullable=True),
    sa.Column('new_value', sa.Text(), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=True),
    sa.Column('city_opinion', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('province_opinion', sa.Text(), nullable=True),
    sa.Column('applied', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['designation_id'], ['designation.id'], name=op.f('fk_designation_change_designation_id_designation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_designation_change'))
    )
    with op.batch_alter_table('designation_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_designation_change_designation_id'), ['designation_id'], unique=False)

    op.create_table('designation_lifecycle',
    sa.Column('designation_id', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('first_filing_year', sa.Integer(), nullable=False),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['designation_id'], ['designation.id'], name=op.f('fk_designation_lifecycle_designation_id_designation')),
    sa.PrimaryKeyConstraint('designation_id', name=op.f('pk_designation_lifecycle')),
    sa.UniqueConstraint('instance_id', name=op.f('uq_designation_lifecycle_instance_id'))
    )
    op.create_table('dynamic_table_filing',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('designation_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('filed_at', sa.DateTime(), nullable=False),
    sa.Column('on_time', sa.Boolean(), nullable=False),
    sa.Column('values', sa.JSON(), nullable=False),
    sa.Column('filed_by', sa.String(length=80), nullable=True),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['designation_id'], ['designation.id'], name=op.f('fk_dynamic_table_filing_designation_id_designation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dynamic_table_filing')),
    sa.UniqueConstraint('designation_id', 'year', name=op.f('uq_dynamic_table_filing_designation_id'))
    )
    with op.batch_alter_table('dynamic_table_filing', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dynamic_table_filing_designation_id'), ['designation_id'], unique=False)

    op.create_table('incident_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('designation_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('severity', sa.String(length=24), nullable=False),
    sa.Column('occurred_on', sa.Date(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('reference', sa.String(length=200), nullable=True),
    sa.Column('revokes', sa.Boolean(), nullable=False),
    sa.Column('reported_at', sa.DateTime(), nullable=False),
    sa.Column('reported_by', sa.String(length=80), nullable=True),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['designation_id'], ['designation.id'], name=op.f('fk_incident_report_designation_id_designation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_report'))
    )
    with op.batch_alter_table('incident_report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_report_designation_id'), ['designation_id'], unique=False)

    op.create_table('missed_filing',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('designation_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('file_by', sa.Date(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=False),
    sa.Column('decided_by', sa.String(length=80), nullable=True),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['designation_id'], ['designation.id'], name=op.f('fk_missed_filing_designation_id_designation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_missed_filing'))
    )
    with op.batch_alter_table('missed_filing', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_missed_filing_designation_id'), ['designation_id'], unique=False)

    op.create_table('onsite_review',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('designation_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('visited_on', sa.Date(), nullable=False),
    sa.Column('result', sa.String(length=16), nullable=False),
    sa.Column('findings', sa.Text(), nullable=False),
    sa.Column('follow_up', sa.Text(), nullable=True),
    sa.Column('follow_up_by', sa.Date(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(), nullable=False),
    sa.Column('reviewer', sa.String(length=80), nullable=True),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['designation_id'], ['designation.id'], name=op.f('fk_onsite_review_designation_id_designation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_onsite_review')),
    sa.UniqueConstraint('designation_id', 'year', name=op.f('uq_onsite_review_designation_id'))
    )
    with op.batch_alter_table('onsite_review', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_onsite_review_designation_id'), ['designation_id'], unique=False)

    op.create_table('start_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('process_id', sa.String(length=255), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('jurisdiction', sa.String(length=12), nullable=True),
    sa.Column('party', sa.String(length=80), nullable=True),
    sa.Column('requested_at', sa.DateTime(), nullable=False),
    sa.Column('requested_by', sa.Integer(), nullable=True),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], name=op.f('fk_start_request_instance_id_process_instance'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_start_request')),
    sa.UniqueConstraint('key', name=op.f('uq_start_request_key'))
    )
    with op.batch_alter_table('start_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_start_request_instance_id'), ['instance_id'], unique=False)



def downgrade():
    with op.batch_alter_table('start_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_start_request_instance_id'))

    op.drop_table('start_request')
    with op.batch_alter_table('onsite_review', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_onsite_review_designation_id'))

    op.drop_table('onsite_review')
    with op.batch_alter_table('missed_filing', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_missed_filing_designation_id'))

    op.drop_table('missed_filing')
    with op.batch_alter_table('incident_report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_report_designation_id'))

    op.drop_table('incident_report')
    with op.batch_alter_table('dynamic_table_filing', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dynamic_table_filing_designation_id'))

    op.drop_table('dynamic_table_filing')
    op.drop_table('designation_lifecycle')
    with op.batch_alter_table('designation_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_designation_change_designation_id'))

    op.drop_table('designation_change')
