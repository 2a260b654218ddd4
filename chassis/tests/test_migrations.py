import sys

import pytest

from hotelbook_chassis.migrations import _versions_folder


@pytest.fixture
def package(tmp_path, monkeypatch):
    """``mypkg`` with its own revisions, ``mypkg.inner`` with its own, ``mypkg.plain`` without."""
    for folder in ("mypkg", "mypkg/inner", "mypkg/plain"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "__init__.py").write_text("")
    for folder in ("mypkg", "mypkg/inner"):
        (tmp_path / folder / "migrations" / "versions").mkdir(parents=True)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [n for n in sys.modules if n == "mypkg" or n.startswith("mypkg.")]:
        del sys.modules[name]


def test_an_app_inside_a_package_keeps_its_own_revisions(package):
    assert _versions_folder("mypkg.inner") == package / "mypkg" / "inner" / "migrations" / "versions"


def test_otherwise_the_top_packages_revisions(package):
    assert _versions_folder("mypkg") == package / "mypkg" / "migrations" / "versions"
    assert _versions_folder("mypkg.plain") == package / "mypkg" / "migrations" / "versions"


def test_no_revisions_anywhere_is_an_error(package):
    (package / "mypkg" / "migrations" / "versions").rmdir()
    with pytest.raises(RuntimeError):
        _versions_folder("mypkg.plain")
