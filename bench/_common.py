"""Small helpers shared by the benchmarks: interleaved timing and signed test tokens."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from joserfc.jwk import ECKey, KeySet

from hotelbook_chassis.testing import TEST_ISSUER, make_token


def interleaved(a: Callable[[], Any], b: Callable[[], Any], rounds: int = 7, repeat: int = 5
                ) -> tuple[float, float]:
    """Median seconds per call of ``a`` and ``b``, measured in alternating rounds (noise hits both)."""
    times_a, times_b = [], []
    for _ in range(rounds):
        for fn, out in ((a, times_a), (b, times_b)):
            started = time.perf_counter()
            for _ in range(repeat):
                fn()
            out.append((time.perf_counter() - started) / repeat)
    return statistics.median(times_a), statistics.median(times_b)


class Tokens:
    """A signing key, its JWKS and tokens for apps configured with them."""

    def __init__(self) -> None:
        self.key = ECKey.generate_key("P-256", parameters={"kid": "bench"})
        self.jwks = KeySet([self.key]).as_dict(private=False)

    def config(self, audience: str) -> dict[str, Any]:
        return {"TESTING": True, "JWKS": self.jwks, "OAUTH_ISSUER": TEST_ISSUER, "TOKEN_AUDIENCE": audience,
                "SECRET_KEY": "bench", "JSON_LOGS": False, "LOG_LEVEL": "WARNING"}

    def bearer(self, scope: str, audience: str, sub: str = "bench-user") -> dict[str, str]:
        return {"Authorization": f"Bearer {make_token(self.key, scope=scope, aud=audience, sub=sub)}"}
