"""Build the container images with buildah, from ``deploy/Containerfile`` and the service list.

    python -m hotelbook_stack.images [--only search,gateway] [--registry R] [--tag T]

One image per project folder (``hotelbook/<folder>``, ``hotelbook/bank-sandbox``
too) and ``hotelbook/gateway``. The base is the public
``debian:bookworm-slim`` when buildah has it or can pull it; otherwise (no
registry reachable) the same Debian release is built from Debian packages with
``debootstrap --variant=minbase`` and kept in buildah's image store, so the next
build on this machine reuses it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from hotelbook_stack.services import ROOT, SERVICES

CONTAINERFILE = ROOT / "deploy" / "Containerfile"
PUBLIC_BASE = "docker.io/library/debian:bookworm-slim"
LOCAL_BASE = "localhost/hotelbook/debian:bookworm-minbase"
MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
SECURITY_MIRROR = os.environ.get("DEBIAN_SECURITY_MIRROR", "http://deb.debian.org/debian-security")
# Debian packages a service needs at run time beyond Python (WeasyPrint: Pango, fonts).
RUNTIME_PACKAGES = {"pdf-reporting": "libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core"}


@dataclass(frozen=True)
class Image:
    name: str  # hotelbook/<name>
    target: str
    build_args: tuple[tuple[str, str], ...] = ()


def images() -> list[Image]:
    """The service images (first service of each folder is its default command) and the gateway."""
    found: dict[str, Image] = {}
    for service in SERVICES:
        if service.folder in found:
            continue
        found[service.folder] = Image(service.folder, "service", (
            ("FOLDER", service.folder), ("APP", service.app), ("PORT", str(service.port)),
            ("WORKERS", str(service.workers)), ("APT_PACKAGES", RUNTIME_PACKAGES.get(service.folder, "")),
        ))
    return [*found.values(), Image("gateway", "gateway")]


def buildah(*args: str, check: bool = True, capture: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["buildah", *args], check=check, text=True,
                          capture_output=capture)


def has_image(reference: str) -> bool:
    return buildah("inspect", "--type", "image", reference, check=False).returncode == 0


def ensure_base() -> str:
    """The image to build FROM: the public one if at hand, else one made with debootstrap."""
    for reference in (PUBLIC_BASE, LOCAL_BASE):
        if has_image(reference):
            return reference
    if os.environ.get("HOTELBOOK_PULL_BASE", "1") == "1":
        try:
            pulled = subprocess.run(["buildah", "pull", "-q", PUBLIC_BASE], capture_output=True, text=True,
                                    timeout=60, check=False)
            if pulled.returncode == 0:
                return PUBLIC_BASE
        except subprocess.TimeoutExpired:
            pass
    debootstrap_base()
    return LOCAL_BASE


def debootstrap_base() -> None:
    """Debian bookworm (minbase) from Debian's packages, committed as ``LOCAL_BASE``."""
    if not shutil.which("debootstrap"):
        sys.exit("no base image and no debootstrap: apt-get install debootstrap (or make a registry reachable)")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hotelbook-base-") as folder:
        rootfs = Path(folder) / "rootfs"
        subprocess.run(["debootstrap", "--variant=minbase", "bookworm", str(rootfs), MIRROR], check=True,
                       stdout=subprocess.DEVNULL)
        (rootfs / "etc/apt/sources.list").write_text(
            f"deb {MIRROR} bookworm main\ndeb {MIRROR} bookworm-updates main\n"
            f"deb {SECURITY_MIRROR} bookworm-security main\n")
        # What the public slim image leaves out too: downloaded packages, lists, docs.
        for pattern in ("var/cache/apt/archives/*.deb", "var/lib/apt/lists/*", "usr/share/doc/*",
                        "usr/share/man/*", "var/log/*.log"):
            for path in rootfs.glob(pattern):
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        container = buildah("from", "scratch").stdout.strip()
        try:
            mount = buildah("mount", container).stdout.strip()
            subprocess.run(["cp", "-a", f"{rootfs}/.", mount], check=True)
            buildah("umount", container)
            buildah("config", "--env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "--cmd", "bash", container)
            buildah("commit", "-q", "--rm", container, LOCAL_BASE)
        except BaseException:
            buildah("rm", container, check=False)
            raise
    print(f"base {LOCAL_BASE} built with debootstrap in {time.monotonic() - started:.0f}s", file=sys.stderr)


def build(image: Image, base: str, tags: list[str]) -> None:
    command = ["build", "--isolation", "chroot", "--format", "docker", "--layers", "-f", str(CONTAINERFILE),
               "--target", image.target, "--build-arg", f"BASE={base}"]
    bundle = Path(os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt")
    if bundle.is_file():
        command += ["--secret", f"id=ca,src={bundle}"]
    for key, value in image.build_args:
        command += ["--build-arg", f"{key}={value}"]
    for tag in tags:
        command += ["-t", tag]
    result = buildah(*command, str(ROOT), check=False)
    if result.returncode != 0:
        sys.exit(f"building {image.name} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")


def size(reference: str) -> str:
    """The image's size as buildah reports it (uncompressed layers, e.g. ``446 MB``)."""
    return json.loads(buildah("images", "--json", reference).stdout)[0]["size"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hotelbook_stack.images", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated image names (default: all)")
    parser.add_argument("--registry", default="", help="also tag as REGISTRY/<name>:TAG, ready for buildah push")
    parser.add_argument("--tag", default="latest")
    args = parser.parse_args(argv)
    wanted = [image for image in images() if not args.only or image.name in args.only.split(",")]
    if not wanted:
        parser.error(f"--only: choose from {', '.join(i.name for i in images())}")
    if not shutil.which("buildah"):
        sys.exit("buildah is needed: apt-get install buildah")
    started = time.monotonic()
    base = ensure_base()
    print(f"base: {base} ({time.monotonic() - started:.0f}s)")
    for image in wanted:
        began = time.monotonic()
        tags = [f"localhost/hotelbook/{image.name}:{args.tag}"]
        if args.registry:
            tags.append(f"{args.registry.rstrip('/')}/{image.name}:{args.tag}")
        build(image, base, tags)
        print(f"{tags[0]}: {size(tags[0])}, built in {time.monotonic() - began:.0f}s", flush=True)
    print(f"all done in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
