"""outbox jobs carry when they were written and the trace context of the request that wrote them

Revision ID: b7c1d2e3f4a5
Revises: b3e8f1a2c6d4
Create Date: 2026-11-29 15:20:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = 'b7c1d2e3f4a5'
down_revision = 'b3e8f1a2c6d4'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('created_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('traceparent', sa.String(length=55), nullable=True))


def downgrade():
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('traceparent')
        batch_op.drop_column('created_at')
