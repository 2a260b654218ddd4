from datetime import date

from hotelbook_chassis.stays import stay_errors
from hotelbook_search.domain import RoomOffer, cheapest_fitting, city_key

TODAY = date(2026, 11, 23)


def test_city_key_ignores_case_and_accents():
    assert city_key("Zürich") == city_key("zurich") == city_key(" ZÜRICH ")
    assert city_key("São Paulo") == "sao paulo"
    assert city_key("Gdańsk") == "gdansk"


def test_stay_rules():
    assert stay_errors(None, None, TODAY) == {}
    assert "checkout" in stay_errors(date(2026, 12, 1), None, TODAY)
    assert "checkin" in stay_errors(date(2026, 11, 1), date(2026, 11, 3), TODAY)
    assert "checkout" in stay_errors(date(2026, 12, 3), date(2026, 12, 3), TODAY)
    assert "checkout" in stay_errors(date(2026, 12, 1), date(2027, 1, 1), TODAY)
    assert stay_errors(date(2026, 12, 1), date(2026, 12, 31), TODAY) == {}


def test_cheapest_fitting_room_respects_guests_and_free_rooms():
    offers = [RoomOffer("single", 1, 5000, "EUR", 3), RoomOffer("double", 2, 9000, "EUR", 1),
              RoomOffer("family", 4, 15000, "EUR", 2)]
    assert cheapest_fitting(offers, 1).room_type_id == "single"
    assert cheapest_fitting(offers, 2).room_type_id == "double"
    assert cheapest_fitting(offers, 2, {"double": 0, "family": 1}).room_type_id == "family"
    assert cheapest_fitting(offers, 5) is None


def test_vat_table_is_plain_decimal_percentages_per_country():
    from hotelbook_search.domain.taxes import check_table, vat_percent

    check_table()
    assert vat_percent("CH") == "3.8" and vat_percent("fr") == "10"
    assert vat_percent("ZZ") is None and vat_percent("") is None
