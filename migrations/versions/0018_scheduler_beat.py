"""The timer scheduler leaves the time of its last sweep, so /healthz on any web
worker can tell whether timers are being fired

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 10:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('scheduler_beat',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('swept_at', sa.DateTime(), nullable=False),
    sa.Column('holder', sa.String(length=120), nullable=False),
    sa.Column('leading_since', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scheduler_beat'))
    )


def downgrade():
    op.drop_table('scheduler_beat')
