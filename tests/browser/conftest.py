"""Browser tests run real Chromium, and only ever inside a network namespace with just ``lo``.

Plain ``python -m pytest`` (as root, the CI case) works like this:

* The pytest process that collected the tests is not isolated, so it does not run their
  bodies. The first browser test starts one child pytest for all selected browser tests
  under ``unshare -n sh -c 'ip link set lo up && exec ...'``, bounded by a timeout, and every
  browser test then reports its child's outcome (with the child's failure text).
* The child sees only ``lo`` (``network_isolated()``), so it runs the tests for real and
  writes each outcome to the JSON file named by ``SPARKLE_BROWSER_RESULTS``.

Nothing a browser does can leave the machine. A browser test is skipped, with the reason,
only when Chromium/Playwright are missing or the process is not root; CI installs both
(scripts/install-test-packages.sh) and runs as root, so there they run.

Running pytest yourself inside ``unshare -n`` (lo up) runs the tests directly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.browser import (
    Browsers,
    isolation_requirements,
    missing_requirements,
    network_isolated,
)

RESULTS_ENV = "SPARKLE_BROWSER_RESULTS"
HERE = Path(__file__).resolve().parent
CHILD_SESSION_TIMEOUT_S = 240  # all browser tests together; each one is bounded below that
CHILD_TEST_TIMEOUT_S = 90
OUTPUT_TAIL_LINES = 60

_RESULTS: pytest.StashKey[dict[str, dict[str, str]]] = pytest.StashKey()


def _is_browser_test(item: pytest.Item) -> bool:
    return HERE in Path(str(item.path)).resolve().parents


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if not _is_browser_test(item):
            continue
        item.add_marker(pytest.mark.browser)
        item.add_marker(pytest.mark.slow)
        if not network_isolated():
            # This item only waits for the child session (which has its own per-test limit).
            item.add_marker(pytest.mark.timeout(CHILD_SESSION_TIMEOUT_S + 30))


def pytest_runtest_setup(item: pytest.Item) -> None:
    if not _is_browser_test(item):
        return
    reason = missing_requirements()
    if reason is None and not network_isolated():
        reason = isolation_requirements()
    if reason is not None:
        pytest.skip(reason)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Outside the namespace, report the child's outcome instead of running the body."""
    if not _is_browser_test(pyfuncitem) or network_isolated():
        return None
    results = _child_results(pyfuncitem.session)
    outcome = results.get(pyfuncitem.nodeid)
    if outcome is None:
        pytest.fail(
            "the isolated browser test session did not report this test\n"
            + results.get("__session__", {}).get("text", ""),
            pytrace=False,
        )
    if outcome["outcome"] == "skipped":
        pytest.skip(outcome["text"])
    if outcome["outcome"] != "passed":
        pytest.fail(
            "failed inside the isolated network namespace:\n" + outcome["text"], pytrace=False
        )
    return True


def _child_results(session: pytest.Session) -> dict[str, dict[str, str]]:
    """Runs every selected browser test once in a child pytest under ``unshare -n``."""
    stash = session.config.stash
    if _RESULTS in stash:
        return stash[_RESULTS]
    nodeids = [item.nodeid for item in session.items if _is_browser_test(item)]
    rootdir = Path(str(session.config.rootpath))
    out_dir = Path(os.environ.get("TMPDIR", "/tmp"))
    results_path = out_dir / f"sparkle-browser-results-{os.getpid()}.json"
    log_path = out_dir / f"sparkle-browser-output-{os.getpid()}.log"
    results_path.unlink(missing_ok=True)
    command = [
        "unshare",
        "--net",
        "--",
        "sh",
        "-c",
        'ip link set lo up && exec "$0" "$@"',
        sys.executable,
        "-m",
        "pytest",
        *nodeids,
        "-p",
        "no:cacheprovider",
        "-q",
        "-o",
        f"timeout={CHILD_TEST_TIMEOUT_S}",
    ]
    env = {**os.environ, RESULTS_ENV: str(results_path)}
    with open(log_path, "wb") as log:
        child = subprocess.Popen(
            command, cwd=rootdir, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            code = child.wait(timeout=CHILD_SESSION_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=30)
            code = None
    output = log_path.read_text(errors="replace").splitlines()
    tail = "\n".join(output[-OUTPUT_TAIL_LINES:])
    results: dict[str, dict[str, str]] = {}
    if results_path.exists():
        results = json.loads(results_path.read_text())
        results_path.unlink()
    if code is None:
        summary = f"the isolated browser session exceeded {CHILD_SESSION_TIMEOUT_S} s"
    else:
        summary = f"the isolated browser session exited with {code}"
    results["__session__"] = {"outcome": "info", "text": f"{summary}; its output:\n{tail}"}
    log_path.unlink(missing_ok=True)
    stash[_RESULTS] = results
    return results


# ---- inside the namespace: record outcomes for the parent --------------------------------


class _ResultRecorder:
    """Collects each browser test's outcome and writes them all at the end of the session."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.outcomes: dict[str, dict[str, str]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        current = self.outcomes.get(report.nodeid)
        if report.failed:
            text = report.longreprtext or f"failed in {report.when}"
            self.outcomes[report.nodeid] = {"outcome": "failed", "text": f"[{report.when}] {text}"}
        elif report.skipped and (current is None or current["outcome"] == "passed"):
            longrepr = report.longrepr
            reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
            self.outcomes[report.nodeid] = {"outcome": "skipped", "text": str(reason)}
        elif report.passed and report.when == "call" and current is None:
            self.outcomes[report.nodeid] = {"outcome": "passed", "text": ""}

    def pytest_sessionfinish(self) -> None:
        self.path.write_text(json.dumps(self.outcomes))


def pytest_configure(config: pytest.Config) -> None:
    path = os.environ.get(RESULTS_ENV)
    if path and network_isolated():
        config.pluginmanager.register(_ResultRecorder(Path(path)), "sparkle-browser-results")


# ---- fixtures -----------------------------------------------------------------------------


@pytest.fixture
async def browsers(tmp_path: Path) -> AsyncIterator[Browsers]:
    """Launches Chromium participants on demand (nothing starts until ``launch``)."""
    async with Browsers(tmp_path) as pool:
        yield pool


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    del config
    if network_isolated() and RESULTS_ENV in os.environ:
        return ["sparkle: browser tests running inside a loopback-only network namespace"]
    return None
