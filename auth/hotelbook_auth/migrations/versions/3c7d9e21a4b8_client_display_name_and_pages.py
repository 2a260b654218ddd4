"""client display name and the pages the login page links to

Revision ID: 3c7d9e21a4b8
Revises: 801229c91fcd
Create Date: 2026-11-29 18:10:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '3c7d9e21a4b8'
down_revision = '801229c91fcd'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('display_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('signup_uri', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('password_reset_uri', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('password_reset_uri')
        batch_op.drop_column('signup_uri')
        batch_op.drop_column('display_name')
