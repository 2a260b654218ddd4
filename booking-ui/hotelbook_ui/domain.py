"""The UI's own rules in plain Python: the search form, what a page shows (money, times, cities),
safe redirects after log-in, the card form's wording. Shared rules (money text, card checks, PKCE,
the clock) are the chassis's. No Flask here."""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hotelbook_chassis.cards import cvc_ok, expired, normalise_number, number_ok
from hotelbook_chassis.clock import utcnow
from hotelbook_chassis.money import format_money as format_amount

MAX_GUESTS = 10
MAX_NIGHTS = 30
SORTS = {
    "price": "Price: low to high",
    "price_desc": "Price: high to low",
    "stars": "Stars: high to low",
    "name": "Name",
}
# The same orders in search's words (``sort`` of ``GET /hotels``).
SEARCH_SORTS = {"price": "price", "price_desc": "-price", "stars": "-stars", "name": "name"}


# --- cities ----------------------------------------------------------------------------


def city_key(name: str) -> str:
    """How a guest's spelling is compared with the catalogue's: no accents, no case."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


def city_heading(typed: str, items: list[dict[str, Any]], known: list[dict[str, Any]] = ()) -> str:
    """The catalogue's spelling of the city a guest typed ("paris" -> "Paris")."""
    key = city_key(typed)
    for city in [*items, *known]:
        name = city.get("city") or city.get("name") or ""
        if city_key(name) == key:
            return name
    return typed


def suggest_cities(typed: str, known: list[dict[str, Any]], limit: int = 3) -> list[dict[str, Any]]:
    """Catalogue cities spelled like ``typed`` (for an empty result), closest first."""
    key = city_key(typed)
    scored = []
    for city in known:
        other = city_key(city.get("name") or "")
        if other and other != key:
            ratio = difflib.SequenceMatcher(None, key, other).ratio()
            if ratio >= 0.6:
                scored.append((-ratio, city.get("name"), city))
    return [city for _, _, city in sorted(scored)[:limit]]


# --- money and dates -------------------------------------------------------------------


def zone_label(zone_name: str) -> str:
    """How a guest names an IANA zone: "Europe/Paris" -> "Paris time"."""
    if not zone_name or zone_name.upper() == "UTC":
        return "UTC"
    return zone_name.rsplit("/", 1)[-1].replace("_", " ") + " time"


def local_time(value: str | None, zone_name: str | None) -> str:
    """An ISO moment on the hotel's own clock, the zone named: "29 Nov 2026, 15:31 Paris time"."""
    moment = parse_timestamp(value)
    if moment is None:
        return "—"
    try:
        zone = ZoneInfo(zone_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone, zone_name = ZoneInfo("UTC"), "UTC"
    return moment.astimezone(zone).strftime("%a %d %b %Y, %H:%M ") + zone_label(zone_name or "UTC")

def format_money(money: dict[str, Any] | None) -> str:
    """``{"amount": 12345, "currency": "EUR"}`` -> ``€123.45`` (minor units, never floats)."""
    if not money:
        return "—"
    return format_amount(int(money.get("amount", 0)), str(money.get("currency", "EUR")), symbol=True)


def nights(checkin: date, checkout: date) -> int:
    return (checkout - checkin).days


def parse_timestamp(value: str | None) -> datetime | None:
    """ISO 8601 (``Z`` or offset) -> aware UTC datetime; None when absent or malformed."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def seconds_left(expires_at: str | None, now: datetime | None = None) -> int:
    moment = parse_timestamp(expires_at)
    if moment is None:
        return 0
    return max(0, int((moment - (now or utcnow().replace(tzinfo=UTC))).total_seconds()))


# --- the search form ---------------------------------------------------------------------

@dataclass
class StayQuery:
    city: str = ""
    checkin: date | None = None
    checkout: date | None = None
    guests: int = 2
    min_stars: int | None = None
    max_price: int | None = None  # whole euros per night, as typed
    sort: str = "price"
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def nights(self) -> int | None:
        if self.checkin and self.checkout:
            return nights(self.checkin, self.checkout)
        return None

    def search_params(self) -> dict[str, Any]:
        """Query parameters for search's ``GET /hotels``: the stay, the filters and the order,
        so that paging with ``next_token`` stays right."""
        params: dict[str, Any] = {"city": self.city, **self.stay_params(), "sort": SEARCH_SORTS[self.sort]}
        if self.min_stars:
            params["stars"] = self.min_stars
        if self.max_price:
            params["max_price"] = self.max_price * 100
        return params

    def stay_params(self) -> dict[str, Any]:
        """What a page passes on in its links (dates and guests)."""
        params: dict[str, Any] = {"guests": self.guests}
        if self.checkin and self.checkout:
            params["checkin"] = self.checkin.isoformat()
            params["checkout"] = self.checkout.isoformat()
        return params


def default_dates(today: date) -> tuple[date, date]:
    return today + timedelta(days=14), today + timedelta(days=16)


def _parse_date(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def parse_stay(args: dict[str, str], today: date, *, need_city: bool = True) -> StayQuery:
    """Read and check the search form; errors are keyed by field name, worded for a guest."""
    query = StayQuery()
    errors = query.errors
    query.city = (args.get("city") or "").strip()[:100]
    if need_city and not query.city:
        errors["city"] = "Enter a city to search in."
    raw_in, raw_out = args.get("checkin"), args.get("checkout")
    query.checkin, query.checkout = _parse_date(raw_in), _parse_date(raw_out)
    if raw_in and query.checkin is None:
        errors["checkin"] = "Enter the check-in date as YYYY-MM-DD."
    if raw_out and query.checkout is None:
        errors["checkout"] = "Enter the check-out date as YYYY-MM-DD."
    if bool(query.checkin) != bool(query.checkout) and not errors.get("checkin") and not errors.get("checkout"):
        errors["checkout" if query.checkin else "checkin"] = "Enter both dates, or neither."
    if query.checkin and query.checkout:
        if query.checkin < today:
            errors["checkin"] = "Check-in cannot be in the past."
        elif query.checkout <= query.checkin:
            errors["checkout"] = "Check-out must be after check-in."
        elif nights(query.checkin, query.checkout) > MAX_NIGHTS:
            errors["checkout"] = f"A stay can be at most {MAX_NIGHTS} nights."
    try:
        query.guests = int(args.get("guests") or 2)
        if not 1 <= query.guests <= MAX_GUESTS:
            raise ValueError
    except ValueError:
        errors["guests"] = f"Guests must be a number from 1 to {MAX_GUESTS}."
        query.guests = 2
    stars = args.get("stars") or ""
    if stars.isdigit() and 1 <= int(stars) <= 5:
        query.min_stars = int(stars)
    max_price = args.get("max_price") or ""
    if max_price.isdigit() and int(max_price) > 0:
        query.max_price = int(max_price)
    query.sort = args.get("sort") if args.get("sort") in SORTS else "price"
    return query


def _price(item: dict[str, Any], key: str = "stay_price") -> int | None:
    price = item.get(key) or (item.get("nightly_price_from") if key == "stay_price" else None)
    return int(price["amount"]) if isinstance(price, dict) and "amount" in price else None


def refine(items: list[dict[str, Any]], query: StayQuery) -> list[dict[str, Any]]:
    """Apply the filters and the sort to one page of results (search may have done so already:
    doing it again is harmless and keeps the page right when it did not)."""
    kept = []
    for item in items:
        if query.min_stars and int(item.get("stars") or 0) < query.min_stars:
            continue
        nightly = _price(item, "nightly_price_from")
        if query.max_price and nightly is not None and nightly > query.max_price * 100:
            continue
        kept.append(item)
    big = 1 << 62
    if query.sort == "price":
        kept.sort(key=lambda h: (_price(h) is None, _price(h) or big, h.get("name", "")))
    elif query.sort == "price_desc":
        kept.sort(key=lambda h: (_price(h) is None, -(_price(h) or 0), h.get("name", "")))
    elif query.sort == "stars":
        kept.sort(key=lambda h: (-int(h.get("stars") or 0), h.get("name", "")))
    else:
        kept.sort(key=lambda h: str(h.get("name", "")).lower())
    return kept


# --- where to go after log-in ----------------------------------------------------------------

# Browsers drop these anywhere in a URL (WHATWG URL parser), and Werkzeug drops control
# characters from a Location header: "/\t/evil.example" arrives as "//evil.example".
_TAB_OR_NEWLINE = str.maketrans("", "", "\t\n\r")
_C0_OR_SPACE = "".join(chr(code) for code in range(0x21))
MAX_NEXT_LENGTH = 2000


def safe_next(target: str | None, default: str = "/") -> str:
    """A same-site path to go to after log-in, or ``default`` (no open redirect).

    The target is first normalised the way a browser reads a Location header (leading and
    trailing C0 controls and spaces stripped, tabs and newlines removed, ``\\`` read as
    ``/``); only then is it checked, and the normalised form is what gets redirected to.
    It must be an absolute path (one leading ``/``, not ``//``), with no scheme, no host and
    no control characters left.
    """
    if not target or len(target) > MAX_NEXT_LENGTH:
        return default
    path = target.strip(_C0_OR_SPACE).translate(_TAB_OR_NEWLINE)
    end = min((i for i in (path.find("?"), path.find("#")) if i >= 0), default=len(path))
    path = path[:end].replace("\\", "/") + path[end:]  # in the path part only, as browsers do
    if not path.startswith("/") or path.startswith("//"):
        return default
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in path):
        return default
    parts = urlsplit(path)
    if parts.scheme or parts.netloc:
        return default
    return path


# --- the card form --------------------------------------------------------------------------

@dataclass
class Card:
    number: str
    exp_month: int
    exp_year: int
    cvc: str
    holder: str

    def as_json(self) -> dict[str, Any]:
        return {"number": self.number, "exp_month": self.exp_month, "exp_year": self.exp_year,
                "cvc": self.cvc, "holder": self.holder}


_EXPIRY = re.compile(r"^\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*$")


def parse_card(form: dict[str, str], today: date) -> tuple[Card | None, dict[str, str]]:
    """Check the card form before anything is sent; errors keyed by field."""
    errors: dict[str, str] = {}
    number = normalise_number(form.get("card_number") or "")
    if not number_ok(number):
        errors["card_number"] = "Enter a valid card number."
    month = year = 0
    match = _EXPIRY.match(form.get("expiry") or "")
    if not match:
        errors["expiry"] = "Enter the expiry date as MM/YY."
    else:
        month, year = int(match.group(1)), int(match.group(2))
        year = year + 2000 if year < 100 else year
        if not 1 <= month <= 12:
            errors["expiry"] = "Enter the expiry date as MM/YY."
        elif expired(month, year, today):
            errors["expiry"] = "This card has expired."
    cvc = (form.get("cvc") or "").strip()
    if not cvc_ok(cvc):
        errors["cvc"] = "Enter the 3 or 4 digit security code."
    holder = (form.get("holder") or "").strip()[:100]
    if not holder:
        errors["holder"] = "Enter the name on the card."
    if errors:
        return None, errors
    return Card(number, month, year, cvc, holder), errors


UUID_RE = re.compile(r"^[0-9a-fA-F-]{32,36}$")


def is_uuidish(value: str | None) -> bool:
    return bool(value and UUID_RE.match(value))
