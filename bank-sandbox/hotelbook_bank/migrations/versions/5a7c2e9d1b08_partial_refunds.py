"""partial refunds

Revision ID: 5a7c2e9d1b08
Revises: 8eed01f77cca
Create Date: 2026-11-29 15:25:00
"""

from alembic import op
import sqlalchemy as sa


revision = '5a7c2e9d1b08'
down_revision = '8eed01f77cca'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('charges', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refunded_amount', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('charges', schema=None) as batch_op:
        batch_op.drop_column('refunded_amount')
