"""cancellation policy kept with each reservation, refunded amount, cancellation notes

Revision ID: d2b7c9e4a5f1
Revises: a1953645cbdd
Create Date: 2026-11-29 15:20:00
"""

from alembic import op
import sqlalchemy as sa


revision = 'd2b7c9e4a5f1'
down_revision = 'a1953645cbdd'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancellation_policy', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('refunded_amount', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('cancelled_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=20), server_default='receipt', nullable=False))


def downgrade():
    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.drop_column('kind')
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.drop_column('cancelled_at')
        batch_op.drop_column('refunded_amount')
        batch_op.drop_column('cancellation_policy')
