"""the VAT rate kept with each reservation (receipts state the tax included)

Revision ID: 5e8a1c3f7b20
Revises: d2b7c9e4a5f1
Create Date: 2026-11-29 18:20:00
"""

from alembic import op
import sqlalchemy as sa


revision = '5e8a1c3f7b20'
down_revision = 'd2b7c9e4a5f1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('vat_percent', sa.String(length=8), nullable=True))


def downgrade():
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.drop_column('vat_percent')
