"""Art 18 at every gate and Art 23 per level: a national recommendation record keeps
why its unit could not be recommended (the Art 18 facts or the refused report); an agency's evaluation projects are
counted per case and candidate, so a provincial or national round counts each
candidate's evaluation at its level

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05 04:10:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('national_recommendation') as batch:
        batch.add_column(sa.Column('refused_reason', sa.Text(), nullable=True))
    with op.batch_alter_table('agency_engagement') as batch:
        batch.add_column(sa.Column('subject', sa.String(length=80), server_default='', nullable=False))
        batch.drop_constraint('uq_agency_engagement_instance_id', type_='unique')
        batch.create_unique_constraint('uq_agency_engagement_instance_id_subject', ['instance_id', 'subject'])


def downgrade():
    with op.batch_alter_table('agency_engagement') as batch:
        batch.drop_constraint('uq_agency_engagement_instance_id_subject', type_='unique')
        batch.create_unique_constraint('uq_agency_engagement_instance_id', ['instance_id'])
        batch.drop_column('subject')
    with op.batch_alter_table('national_recommendation') as batch:
        batch.drop_column('refused_reason')
