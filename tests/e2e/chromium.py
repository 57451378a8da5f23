"""Headless Chromium for the e2e tests: found on PATH, installed from Debian's ``chromium`` package if missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import pytest

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def _find() -> str | None:
    for name in _CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def ensure_chromium() -> str:
    """The browser's path; installs Debian's ``chromium`` when missing, and skips only if that is impossible."""
    found = _find()
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt is None:
        pytest.skip("chromium is not installed and apt-get is not available to install it")
    sudo = [] if os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else None)
    if sudo is None:
        pytest.skip("chromium is not installed and installing it needs root (no sudo)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in ([*sudo, apt, "update", "-qq"], [*sudo, apt, "install", "-y", "-qq", "chromium"]):
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)
        if result.returncode != 0:
            pytest.skip(f"chromium could not be installed ({' '.join(command)}): {result.stderr.strip()[-400:]}")
    found = _find()
    if not found:
        pytest.skip("apt-get installed chromium but no chromium binary is on PATH")
    return found


def dump_dom(url: str, *, budget_ms: int = 10_000) -> str:
    """The page's DOM after its scripts ran (virtual time lets fetches and rendering finish first)."""
    browser = ensure_chromium()
    with tempfile.TemporaryDirectory(prefix="pregen-chromium-") as profile:
        result = subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                f"--virtual-time-budget={budget_ms}",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    if result.returncode != 0 or "<html" not in result.stdout:
        pytest.fail(f"chromium failed ({result.returncode}): {result.stderr[-2000:]}")
    return result.stdout
