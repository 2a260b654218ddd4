"""Use cases of booking-ui: the logged-in guest and a fresh token for them, server-side browser sessions."""
