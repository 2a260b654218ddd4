"""Receipts and cancellation notes: rendered by pdf-reporting on the first download, then kept.

Most receipts are never downloaded, so none is rendered when a booking is confirmed.
A paid reservation's document is its receipt; once cancelled it is a cancellation
note (paid, refunded, kept) and the receipt is no longer served as proof of payment.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy.exc import IntegrityError

from hotelbook_chassis.stays import money, nights
from hotelbook_reservations import clients, domain
from hotelbook_reservations.actions import utcnow
from hotelbook_reservations.models import Receipt, Reservation, db


def receipt_data(reservation: Reservation, guest: dict[str, Any]) -> dict[str, Any]:
    return {
        "reservation_id": reservation.id,
        "receipt_number": domain.receipt_number(reservation.id),
        "tax": domain.tax_line(reservation.total_amount, reservation.currency, reservation.vat_percent),
        "payment_id": reservation.payment_id,
        "hotel": {"name": reservation.hotel_name, "address": reservation.hotel_address,
                  "city": reservation.hotel_city, "country": reservation.hotel_country},
        "guest": {"name": guest.get("name") or "", "email": guest.get("email") or ""},
        "room_type": reservation.room_type_name,
        "checkin": reservation.checkin.isoformat(),
        "checkout": reservation.checkout.isoformat(),
        "nights": nights(reservation.checkin, reservation.checkout),
        "guests": reservation.guests,
        "nightly_price": money(reservation.nightly_amount, reservation.currency),
        "total": money(reservation.total_amount, reservation.currency),
        "issued_at": utcnow().replace(microsecond=0).isoformat() + "Z",
        "cancellation_policy": domain.CancellationPolicy.from_json(reservation.cancellation_policy).description,
    }


def document_kind(reservation: Reservation) -> str:
    return "cancellation" if reservation.status == domain.CANCELLED else "receipt"


def document_data(reservation: Reservation, guest: dict[str, Any]) -> dict[str, Any]:
    data = receipt_data(reservation, guest)
    if document_kind(reservation) == "cancellation":
        total = reservation.total_amount
        refunded = total if reservation.refunded_amount is None else reservation.refunded_amount
        # The VAT is in what was kept: a refund gives its share of the tax back too.
        data["tax"] = domain.tax_line(total - refunded, reservation.currency, reservation.vat_percent)
        data.update(paid=money(total, reservation.currency), refunded=money(refunded, reservation.currency),
                    kept=money(total - refunded, reservation.currency),
                    cancelled_at=(reservation.cancelled_at or utcnow()).replace(microsecond=0).isoformat() + "Z")
    return data


def ensure_receipt(reservation: Reservation) -> Receipt:
    """The kept document for the reservation's status, rendering it first if needed (raises PeerUnavailable)."""
    kind = document_kind(reservation)
    kept = db.session.get(Receipt, reservation.id)
    if kept is not None and kept.kind == kind:
        return kept
    pdf = clients.render_pdf(kind, document_data(reservation, clients.guest(reservation.user_id)))
    etag = hashlib.sha256(pdf).hexdigest()[:32]
    if kept is not None:  # the receipt of a reservation since cancelled: the note replaces it
        kept.kind, kept.pdf, kept.etag, kept.created_at = kind, pdf, etag, utcnow()
        db.session.commit()
        return kept
    receipt = Receipt(reservation_id=reservation.id, kind=kind, pdf=pdf, etag=etag, created_at=utcnow())
    db.session.add(receipt)
    try:
        db.session.commit()
    except IntegrityError:  # rendered twice at once: keep the first
        db.session.rollback()
        return ensure_receipt(db.session.get(Reservation, reservation.id))
    return receipt
