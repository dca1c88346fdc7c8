"""Accounts with a life cycle: deactivation, a session epoch that signing out
raises, token expiry; no more account lock (sign-in failures are throttled per
name and address in rate_hit). Attachments know when they are personal evidence.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 10:00:00

"""
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

# tokens issued before they had an expiry get the lifetime a new one gets, from the upgrade
TOKEN_DAYS = 365


def upgrade():
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_expires_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("deactivated_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("session_epoch", sa.Integer(), server_default="0", nullable=False))
        batch_op.drop_column("locked_until")
        batch_op.drop_column("failed_logins")
    until = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=TOKEN_DAYS)  # stored as UTC
    op.execute(sa.text("UPDATE app_user SET token_expires_at = :until WHERE token_hash IS NOT NULL")
               .bindparams(until=until))

    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("personal", sa.Boolean(), server_default=sa.false(), nullable=False))
    # evidence the public handed in was stored under the name of the person, never under an account's
    op.execute(sa.text("UPDATE attachment SET personal = :yes WHERE uploaded_by IS NOT NULL "
                       "AND uploaded_by NOT IN (SELECT name FROM app_user)").bindparams(yes=True))


def downgrade():
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.drop_column("personal")
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(), nullable=True))
        batch_op.drop_column("session_epoch")
        batch_op.drop_column("deactivated_at")
        batch_op.drop_column("token_expires_at")
