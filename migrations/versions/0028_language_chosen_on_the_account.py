"""The language a person chose for the pages, kept on the account so that it follows them
from one sign-in and one browser to the next

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-05 21:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('app_user') as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))


def downgrade():
    with op.batch_alter_table('app_user') as batch_op:
        batch_op.drop_column('language')
