"""refunded amount: a cancellation may refund part of a payment

Revision ID: b3e8f1a2c6d4
Revises: 9040942b6018
Create Date: 2026-11-29 15:25:00
"""

from alembic import op
import sqlalchemy as sa


revision = 'b3e8f1a2c6d4'
down_revision = '9040942b6018'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refunded_amount', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_column('refunded_amount')
