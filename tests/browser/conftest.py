"""Real-browser fixtures: Debian Chromium (via scripts/browser_deps.sh), Playwright, and a
JupyterLab server on 127.0.0.1 with a private config, a random token and no pop-ups.

Without Chromium or Playwright the browser tests are skipped on a developer machine, but
under ``CI=true`` that is a failure: CI must run them (see /work/shared/notes/browser-testing.md
for the settings that make this work offline).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("NBSCHED_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _unavailable(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"browser test cannot run under CI=true: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium, installed by scripts/browser_deps.sh when missing."""
    script = REPO / "scripts" / "browser_deps.sh"
    result = subprocess.run(["bash", str(script)], capture_output=True, text=True,
                            timeout=600)
    if result.returncode != 0 or not CHROMIUM.exists():
        _unavailable(f"chromium is not available ({result.stderr.strip() or 'not installed'})")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium) -> Iterator[object]:
    """Playwright's sync API keeps an asyncio loop set on the main thread while it is open;
    module scope closes it before any later test (which may call ``asyncio.run``) starts."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install playwright; never run "
                     "`playwright install`: Debian's chromium is used)")
    with sync_playwright() as driver:
        instance = driver.chromium.launch(executable_path=str(chromium), headless=True,
                                          args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Lab:
    """A running JupyterLab: where it is and how to get in."""

    url: str
    token: str
    root: Path
    runtime_dir: Path

    def api(self, path: str) -> object:
        with urllib.request.urlopen(f"{self.url}{path}?token={self.token}", timeout=5) as resp:
            return json.loads(resp.read())


def _write_settings(settings: Path) -> None:
    """Settings that keep JupyterLab from blocking the page with dialogs and news."""
    tracker = settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True, exist_ok=True)
    tracker.write_text(json.dumps({"autoStartDefaultKernel": True}))
    notes = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notes.parent.mkdir(parents=True, exist_ok=True)
    notes.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))


@pytest.fixture
def lab(tmp_path) -> Iterator[Lab]:
    """JupyterLab serving a copy of notebooks/ on 127.0.0.1 (the repo files stay untouched)."""
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        _unavailable("jupyterlab is not installed (pip install nbsched[lab])")
    root = tmp_path / "root"
    shutil.copytree(REPO / "notebooks", root)
    home = tmp_path / "jupyter"
    env = dict(os.environ)
    env.update({
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "NBSCHED_STORE_URL": f"sqlite:///{tmp_path / 'jobs.sqlite'}",
        "PYTHONUNBUFFERED": "1",
    })
    _write_settings(home / "settings")
    port, token = _free_port(), secrets.token_hex(16)
    log = (tmp_path / "lab.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
         f"--IdentityProvider.token={token}", "--ServerApp.allow_root=True",
         f"--ServerApp.root_dir={root}", "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         "--LabApp.expose_app_in_browser=True"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    server = Lab(f"http://127.0.0.1:{port}", token, root, home / "runtime")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                server.api("/api/status")
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    raise RuntimeError("JupyterLab did not start:\n"
                                       + (tmp_path / "lab.log").read_text()[-3000:]) from None
                time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
