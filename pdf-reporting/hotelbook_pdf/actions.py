"""Template + data -> PDF, with the data kept harmless.

* Jinja runs in a ``SandboxedEnvironment`` with autoescape: data is text, never
  markup or code, and templates cannot reach Python internals.
* WeasyPrint gets a URL fetcher that serves only files inside the service's own
  ``templates`` folder and refuses everything else (http, https, ``file:`` outside,
  ``data:``), so nothing in a document can make the service fetch a URL (SSRF)
  or read a local file.
* The Jinja environment, the stylesheet and the font configuration are built once
  per process; a render then costs what WeasyPrint itself costs.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher

from hotelbook_chassis.money import format_money

TEMPLATES = Path(__file__).parent / "templates"


class RefusedURL(ValueError):
    pass


class OwnFilesOnly(URLFetcher):
    """Serves ``file:`` URLs inside ``root`` only; every other URL is refused (and remembered)."""

    def __init__(self, root: Path) -> None:
        super().__init__(timeout=2, allowed_protocols=("file",), allow_redirects=False)
        self.root = root.resolve()
        self.refused: list[str] = []

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> Any:
        parts = urlsplit(url)
        path = Path(unquote(parts.path)).resolve() if parts.scheme == "file" and parts.netloc in ("", "localhost") \
            else None
        if path is None or not path.is_relative_to(self.root) or not path.is_file():
            self.refused.append(url)
            raise RefusedURL(f"refused to fetch {url[:200]}")
        return super().fetch(url, headers)


def money(value: dict[str, Any]) -> str:
    """``{"amount": 12345, "currency": "EUR"}`` -> ``123.45 EUR`` (two-decimal currencies)."""
    return format_money(int(value["amount"]), value["currency"])


class Renderer:
    def __init__(self, root: Path = TEMPLATES) -> None:
        self.root = root
        self.env = SandboxedEnvironment(
            loader=FileSystemLoader(root), autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined, auto_reload=False,
        )
        self.env.filters["money"] = money
        self.fonts = FontConfiguration()
        self._styles: dict[str, CSS] = {}
        self._lock = threading.Lock()
        self._render_lock = threading.Lock()

    def stylesheet(self, name: str) -> CSS:
        with self._lock:
            if name not in self._styles:
                self._styles[name] = CSS(filename=str(self.root / name), font_config=self.fonts,
                                         url_fetcher=OwnFilesOnly(self.root))
            return self._styles[name]

    def html(self, template: str, data: dict[str, Any]) -> str:
        return self.env.get_template(f"{template}.html").render(**data)

    def pdf(self, template: str, data: dict[str, Any], stylesheet: str | None = None,
            fetcher: OwnFilesOnly | None = None) -> bytes:
        source = self.html(template, data)
        return self.pdf_from_html(source, stylesheet, fetcher)

    def pdf_from_html(self, source: str, stylesheet: str | None = None, fetcher: OwnFilesOnly | None = None
                      ) -> bytes:
        document = HTML(string=source, base_url=self.root.as_uri() + "/",
                        url_fetcher=fetcher or OwnFilesOnly(self.root))
        styles = [self.stylesheet(stylesheet)] if stylesheet else []
        # One layout at a time per process: two threads laying out at once with the
        # shared font configuration corrupt the native heap (seen as a SIGABRT,
        # "realloc(): invalid next size", when a receipt download met its background render).
        with self._render_lock:
            return document.write_pdf(stylesheets=styles, font_config=self.fonts)
