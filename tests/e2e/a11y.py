"""Accessibility checks with axe-core, injected into the page the browser shows.

axe-core comes from the npm registry (``tests/e2e/package.json``, installed by the
e2e tox env with ``npm ci``). Every page the journey screenshots is checked against
the WCAG 2.0/2.1 A and AA rules; a serious or critical violation fails the test.
"""

from __future__ import annotations

import functools
from pathlib import Path

from hotelbook_chassis.testing import require_or_skip

AXE_JS = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
FAILING_IMPACTS = {"serious", "critical"}

RUN_AXE = """async (tags) => {
    const result = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
    return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                         targets: v.nodes.slice(0, 5).map(n => n.target.join(" "))}));
}"""


@functools.cache
def _axe_source() -> str:
    return AXE_JS.read_text(encoding="utf-8") + "\n;undefined"


def violations(page) -> list[dict]:
    """axe's WCAG A/AA violations on the page as it is now."""
    require_or_skip(AXE_JS.exists(), "axe-core (npm ci --prefix tests/e2e)")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol, so the site's strict CSP (no inline
        # scripts) stays on for the check and the page is tested as guests get it.
        page.evaluate(_axe_source())
    return page.evaluate(RUN_AXE, WCAG_TAGS)


def assert_accessible(page, where: str) -> None:
    """Fail on any serious or critical violation, naming the rule and the elements."""
    found = [v for v in violations(page) if v["impact"] in FAILING_IMPACTS]
    assert not found, f"accessibility violations on {where} ({page.url}):\n" + "\n".join(
        f"  {v['impact']} {v['id']}: {v['help']} -> {v['targets']}" for v in found)
