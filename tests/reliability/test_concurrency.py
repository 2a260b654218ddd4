"""Many guests booking the same few rooms at once, through the gateway."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

from tests.journey import stay


def test_no_night_is_ever_overbooked(stack, guests):
    rooms = 3
    hotel = stack.create_hotel(city="Basel", rooms=rooms)
    room_type = hotel["room_types"][0]["id"]
    checkin, checkout = stay(60, 3)

    with ThreadPoolExecutor(max_workers=len(guests)) as pool:
        answers = list(pool.map(lambda g: (g, g.hold(hotel["id"], room_type, checkin, checkout)), guests))

    statuses = sorted(response.status_code for _, response in answers)
    assert statuses.count(201) == rooms, statuses
    assert set(statuses) <= {201, 409}, statuses
    for guest, response in answers:
        if response.status_code == 201:
            held = guest.reservation(response.json()["id"]).json()
            assert held["status"] == "held"  # every 2xx really is a hold
        else:
            assert response.headers["Content-Type"].startswith("application/problem+json")


def test_overlapping_stays_share_nights_correctly(stack, guests):
    # One room; stays overlapping on some nights: only non-overlapping ones may all win.
    hotel = stack.create_hotel(city="Basel", rooms=1)
    room_type = hotel["room_types"][0]["id"]
    base = date.today() + timedelta(days=70)
    stays = [(base + timedelta(days=offset), base + timedelta(days=offset + 2)) for offset in range(0, 8)]
    jobs = [(guests[i % len(guests)], stays[i % len(stays)]) for i in range(len(guests))]

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        results = list(pool.map(lambda job: (job[1], job[0].hold(hotel["id"], room_type, job[1][0].isoformat(),
                                                                 job[1][1].isoformat())), jobs))

    won = [span for span, response in results if response.status_code == 201]
    assert {response.status_code for _, response in results} <= {201, 409}
    nights: dict[date, int] = {}
    for checkin, checkout in won:
        night = checkin
        while night < checkout:
            nights[night] = nights.get(night, 0) + 1
            night += timedelta(days=1)
    assert nights and max(nights.values()) == 1, nights
