"""The job panel in a real browser: JupyterLab + Playwright + Debian Chromium.

Opens notebooks/panel.ipynb, runs it, finds the panel, clicks *Pause* on a job and checks in
the kernel itself (through a second kernel client on the same kernel) that the job is paused.
Saves a screenshot (also to ``$NBSCHED_SCREENSHOT`` when set; docs/img/panel.png is made so).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

JOB = "heartbeat"


def _kernel_client(lab, kernel_id: str):
    from jupyter_client import BlockingKernelClient

    client = BlockingKernelClient(connection_file=str(lab.runtime_dir / f"kernel-{kernel_id}.json"))
    client.load_connection_file()
    client.start_channels()
    client.wait_for_ready(timeout=20)
    return client


def _evaluate(client, expression: str) -> str:
    """Evaluate ``expression`` in the kernel and return its repr (via user_expressions)."""
    reply = client.execute("", silent=True, user_expressions={"value": expression},
                           reply=True, timeout=20)
    value = reply["content"]["user_expressions"]["value"]
    if value["status"] != "ok":
        raise AssertionError(f"{expression!r} failed in the kernel: {value}")
    return value["data"]["text/plain"]


def _wait_idle_kernel(lab, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sessions = lab.api("/api/sessions")
        for session in sessions:
            kernel = session.get("kernel") or {}
            if session.get("path", "").endswith("panel.ipynb") and \
                    kernel.get("execution_state") == "idle":
                return kernel["id"]
        time.sleep(0.2)
    raise AssertionError(f"no idle kernel for panel.ipynb after {timeout} s: "
                         f"{lab.api('/api/sessions')}")


def test_pause_button_pauses_the_job_in_the_kernel(browser, lab, tmp_path):
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    page.set_default_timeout(30_000)
    try:
        page.goto(f"{lab.url}/lab/tree/panel.ipynb?token={lab.token}")
        page.wait_for_selector(".jp-Notebook .jp-Cell")
        kernel_id = _wait_idle_kernel(lab)
        page.wait_for_function("() => window.jupyterapp !== undefined")
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")

        pause = page.locator(f".nbsched-panel .nbsched-pause-{JOB}")
        pause.wait_for(state="visible")
        state = page.locator(f".nbsched-panel .nbsched-state-{JOB}")
        assert state.inner_text().strip() == "scheduled"

        client = _kernel_client(lab, kernel_id)
        try:
            assert _evaluate(client, f"sched.get_job({JOB!r}).next_run_time is None") == "False"
            pause.click()
            page.locator(f".nbsched-panel .nbsched-resume-{JOB}").wait_for(state="visible")
            page.wait_for_function(
                "sel => document.querySelector(sel).innerText.trim() === 'paused'",
                arg=f".nbsched-panel .nbsched-state-{JOB}")
            # The truth is in the kernel: the scheduler's job has no next run time.
            assert _evaluate(client, f"sched.get_job({JOB!r}).next_run_time is None") == "True"
            assert _evaluate(client, f"sched.get_job({JOB!r}).pending") == "False"
        finally:
            client.stop_channels()

        # Let the failing job and the progress bar show up for the picture.
        page.locator(".nbsched-panel .nbsched-builder-description, .nbsched-builder-description")\
            .first.wait_for(state="attached")
        page.wait_for_function(
            "() => [...document.querySelectorAll('.nbsched-panel .nbsched-row')]"
            ".some(r => r.innerText.includes('error'))")
        page.locator(".nbsched-panel").scroll_into_view_if_needed()
        shot = tmp_path / "panel.png"
        page.locator(".nbsched-panel").screenshot(path=str(shot))
        assert shot.stat().st_size > 10_000
        target = os.environ.get("NBSCHED_SCREENSHOT")
        if target:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, target)
    finally:
        page.close()
