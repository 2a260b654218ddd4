"""cancellation policies on room types, time zones on hotels

Revision ID: c4a1d0e2f7b3
Revises: abf101ca328a
Create Date: 2026-11-29 15:10:00
"""

from alembic import op
import sqlalchemy as sa


revision = 'c4a1d0e2f7b3'
down_revision = 'abf101ca328a'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('hotels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('timezone', sa.String(length=64), server_default='UTC', nullable=False))
    with op.batch_alter_table('room_types', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refundable', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('free_cancellation_hours', sa.Integer(), server_default='48', nullable=False))
        batch_op.add_column(sa.Column('nights_kept', sa.Integer(), server_default='1', nullable=False))

    # Existing hotels get their city's time zone (one UPDATE per city, not per hotel).
    from hotelbook_search.domain.timezones import timezone_of

    conn = op.get_bind()
    hotels = sa.table('hotels', sa.column('city', sa.String), sa.column('country', sa.String),
                      sa.column('timezone', sa.String))
    for city, country in conn.execute(sa.select(hotels.c.city, hotels.c.country).distinct()).all():
        zone = timezone_of(city, country)
        if zone != 'UTC':
            conn.execute(hotels.update().where(hotels.c.city == city, hotels.c.country == country)
                         .values(timezone=zone))


def downgrade():
    with op.batch_alter_table('room_types', schema=None) as batch_op:
        batch_op.drop_column('nights_kept')
        batch_op.drop_column('free_cancellation_hours')
        batch_op.drop_column('refundable')
    with op.batch_alter_table('hotels', schema=None) as batch_op:
        batch_op.drop_column('timezone')
