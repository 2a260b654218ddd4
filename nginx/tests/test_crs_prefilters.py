"""The compiler's shortcuts (nginx/crs.py): a regex is skipped only when no match is
possible. Checked against Python's own regex engine on the attack corpus, and end to
end: long values meet the same CRS rules as short ones."""

from __future__ import annotations

import contextlib
import re
import sys
from pathlib import Path
from urllib.parse import unquote_to_bytes

import pytest
from conftest import Gateway
from crs_corpus import ATTACKS, BENIGN

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import crs


@pytest.mark.parametrize(("pattern", "factors"), [
    (r"(?i)union\s+select", ["select"]),
    (r"\%u[fF]{2}[0-9a-fA-F]{2}", ["%u"]),
    (r"abc|d", ["abc", "d"]),
    (r"a?bc", ["bc"]),
    (r"(?:get|post)\s+\S+(?:\s+http/\d|[\r\n])", ["get", "post"]),  # the rarer of the two
    (r"x*", None),             # nothing is required
    (r"[a-z]+", None),         # too wide to list
    (r"[[:alpha:]]+foo", None),  # PCRE syntax Python would misread
    (r"--[\v]", None),         # \v: any vertical space to PCRE, one byte to Python
])
def test_required_factors(pattern, factors):
    assert crs.required_factors(pattern) == factors


def test_required_chars_leave_misread_patterns_alone():
    assert crs.required_chars(r"a[\v]") is None
    assert crs.required_chars(r"a[\n]") is not None


def corpus_values() -> list[str]:
    """Every raw target and body of both corpora, URL-decoded once and twice."""
    values = []
    for _kind, _method, target, headers, body in ATTACKS + BENIGN:
        for raw in (target.encode(), body, *(v.encode() for v in headers.values())):
            once = unquote_to_bytes(raw)
            values += [raw.decode("latin-1"), once.decode("latin-1"), unquote_to_bytes(once).decode("latin-1")]
    return values


def test_every_match_holds_a_factor():
    """For each compiled rule with factors: whenever its regex matches a corpus value
    (Python's engine, where it reads the pattern), the value holds one of them."""
    rules = crs.compile_crs()["rules"]
    links = []
    for rule in rules:
        link = rule
        while link:
            if link.get("factors"):
                with contextlib.suppress(re.error):  # PCRE syntax Python does not read
                    links.append((rule["id"], re.compile(link["arg"], re.S), link["factors"]))
            link = link.get("chain")
    assert len(links) >= 30
    values = corpus_values()
    checked = 0
    for rule_id, regex, factors in links:
        for value in values:
            if regex.search(value):
                checked += 1
                assert any(f in value.lower() for f in factors), (rule_id, value[:200], factors)
    assert checked >= 100  # the corpus does reach these rules


PADDING = ("Quiet room on a high floor please, we arrive late after the theatre with two adults "
           "and a small child who needs a cot. ")
PAYLOADS = [
    "1 union all select @@version",
    "<script>alert(document.cookie)</script>",
    "; cat /etc/passwd",
    "get /admin http/1.1",
    "java.lang.Runtime.getRuntime().exec('id')",
    "1 AND SLEEP(5)",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_long_values_are_still_refused(gateway: Gateway, payload):
    """Long values are searched for literals before the regexes run (crs.lua,
    has_factor): an attack inside long prose is refused all the same."""
    for value in (payload, PADDING + payload, payload + " " + PADDING, PADDING + payload + " " + PADDING):
        response = gateway.get("/", params={"note": value})
        assert response.status_code == 403, (value, response.text[:300])
        response = gateway.request("POST", "/api/search/x", json={"note": value})
        assert response.status_code == 403, (value, response.text[:300])


def test_long_prose_passes(gateway: Gateway):
    for value in (PADDING * 3, PADDING.upper() * 2):
        assert gateway.get("/", params={"note": value}).status_code == 200
        assert gateway.request("POST", "/api/search/x", json={"note": value}).status_code == 200
