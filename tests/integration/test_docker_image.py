"""The Docker image builds and its container serves the home page, /healthz and /readyz, as a
non-root user (issue 7 acceptance). Needs a Docker daemon: without one the test is skipped
and says why (the suite runs with -ra, so the reason shows in its summary).
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT_S = 1800  # a cold build downloads and installs every wheel
START_TIMEOUT_S = 60


def _docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def _require_daemon() -> None:
    if shutil.which("docker") is None:
        pytest.skip("no Docker daemon: the docker CLI is not installed")
    try:
        info = _docker("info", "--format", "{{.ServerVersion}}", timeout=20)
    except subprocess.TimeoutExpired:
        pytest.skip("no Docker daemon: `docker info` did not answer within 20 s")
    if info.returncode != 0 or not info.stdout.strip():
        reason = (info.stderr.strip().splitlines() or ["`docker info` failed"])[-1]
        pytest.skip(f"no Docker daemon: {reason}")


@pytest.fixture
def image() -> Iterator[str]:
    _require_daemon()
    tag = f"sparkle-test:{secrets.token_hex(4)}"
    built = _docker("build", "--tag", tag, str(REPO), timeout=BUILD_TIMEOUT_S)
    assert built.returncode == 0, built.stderr[-4000:]
    try:
        yield tag
    finally:
        _docker("image", "rm", "--force", tag)


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.slow
@pytest.mark.timeout(BUILD_TIMEOUT_S + 300)
def test_the_image_builds_and_serves_the_home_page_and_health(image: str) -> None:
    name = f"sparkle-test-{secrets.token_hex(4)}"
    run = _docker(
        "run",
        "--detach",
        "--name",
        name,
        "--publish",
        "127.0.0.1::8080",
        "--env",
        "SPARKLE_API_KEY=APIdocker",
        "--env",
        f"SPARKLE_API_SECRET={secrets.token_urlsafe(32)}",
        image,
    )
    assert run.returncode == 0, run.stderr
    try:
        port = _docker("port", name, "8080/tcp").stdout.strip().rsplit(":", 1)[1]
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                if _get(base + "/healthz") == (200, b'{"status": "ok"}'):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, _docker("logs", name).stderr[-4000:]
            time.sleep(0.5)
        status, body = _get(base + "/")
        assert status == 200 and b"<html" in body.lower()
        status, body = _get(base + "/readyz")
        assert (status, json.loads(body)) == (200, {"status": "ready"})
        assert _docker("exec", name, "id", "-u").stdout.strip() == "10001"  # not root
        # Docker's own health check (the image's HEALTHCHECK on /readyz) agrees.
        deadline = time.monotonic() + START_TIMEOUT_S
        while (
            health := _docker("inspect", "--format", "{{.State.Health.Status}}", name)
        ).stdout.strip() != "healthy":
            assert time.monotonic() < deadline, health.stdout
            time.sleep(1)
        stopped = _docker("stop", "--time", "30", name, timeout=60)
        assert stopped.returncode == 0
        exit_code = _docker("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip()
        assert exit_code == "0"  # SIGTERM is a graceful shutdown, not a kill
    finally:
        _docker("rm", "--force", name)
