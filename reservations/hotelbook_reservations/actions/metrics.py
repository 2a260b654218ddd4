"""Business metrics of reservations, next to the chassis' per-route ones on /metrics."""

from prometheus_client import Counter

BOOKINGS_CONFIRMED = Counter("hotelbook_bookings_confirmed_total", "Reservations confirmed after payment")
HOLDS_EXPIRED = Counter("hotelbook_holds_expired_total", "Holds that ended unpaid and gave their nights back")
