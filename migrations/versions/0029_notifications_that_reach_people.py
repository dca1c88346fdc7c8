"""Notifications that reach people: each reader's own read mark, the channels each person
chose (e-mail, SMS, DingTalk), and the outbox of deliveries the worker sends after the step

A notification's shared `read_at` gives way to one read mark per reader: one official reading
a notice to the city's role no longer reads it for the others. Earlier read marks cannot be
told apart by reader and are not carried over.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-05 22:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'notification_read',
        sa.Column('notification_id', sa.Integer(), nullable=False),
        sa.Column('account', sa.String(length=80), nullable=False),
        sa.Column('read_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['notification_id'], ['notification.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('notification_id', 'account'),
    )
    op.create_table(
        'notification_channels',
        sa.Column('account', sa.String(length=80), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=True),
        sa.Column('mobile', sa.String(length=20), nullable=True),
        sa.Column('email_on', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('sms_on', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('dingtalk_on', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('account'),
    )
    op.create_table(
        'notification_delivery',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('notification_id', sa.Integer(), nullable=False),
        sa.Column('account', sa.String(length=80), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('address', sa.String(length=254), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
        sa.Column('lease_until', sa.DateTime(), nullable=True),
        sa.Column('sent_at', sa.DateTime(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['notification_id'], ['notification.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('notification_delivery', schema=None) as batch_op:
        batch_op.create_index('ix_notification_delivery_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_delivery_notification_id'), ['notification_id'],
                              unique=False)
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_assignee'), ['assignee'], unique=False)
        batch_op.drop_column('read_at')


def downgrade():
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.add_column(sa.Column('read_at', sa.DateTime(), nullable=True))
        batch_op.drop_index(batch_op.f('ix_notification_assignee'))
    with op.batch_alter_table('notification_delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_delivery_notification_id'))
        batch_op.drop_index('ix_notification_delivery_due')
    op.drop_table('notification_delivery')
    op.drop_table('notification_channels')
    op.drop_table('notification_read')
