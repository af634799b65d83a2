"""The README's ./dev script: what it installs and when (a stand-in virtualenv at the seam)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _fake_venv(tmp_path: Path) -> Path:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    log = tmp_path / "calls.log"
    for name in ("python", "sparkle"):
        script = venv / "bin" / name
        script.write_text(f'#!/bin/sh\necho "{name} $*" >> {log}\n')
        script.chmod(0o755)
    _checkout(tmp_path)
    return venv


def _checkout(tmp_path: Path) -> Path:
    """A copy of the two files ./dev reads, so mtimes can be set without touching the repo."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for name in ("dev", "pyproject.toml"):
        shutil.copy2(REPO / name, checkout / name)
    return checkout


def _run(venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SPARKLE_VENV": str(venv)}
    checkout = venv.parent / "checkout"
    return subprocess.run(
        [str(checkout / "dev"), *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_serve_reuses_a_venv_that_has_the_test_extras(tmp_path: Path) -> None:
    # Regression: after `./dev test` had installed everything, `./dev serve` still ran pip
    # (its own stamp was missing), which fails on a machine without network.
    venv = _fake_venv(tmp_path)
    (venv / ".sparkle-installed-test").touch()
    os.utime(tmp_path / "checkout" / "pyproject.toml", (1, 1))  # older than the stamp
    result = _run(venv, "serve", "--port", "9999")
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert calls == ["sparkle serve --port 9999"]


def test_serve_installs_when_nothing_is_installed(tmp_path: Path) -> None:
    venv = _fake_venv(tmp_path)
    result = _run(venv, "serve")
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert calls[-1] == "sparkle serve"
    assert any(c.startswith("python -m pip install -q -e .") for c in calls)
    assert (venv / ".sparkle-installed-base").exists()


def test_unknown_command_explains_usage(tmp_path: Path) -> None:
    result = _run(_fake_venv(tmp_path), "frobnicate")
    assert result.returncode == 2
    assert "usage: ./dev serve" in result.stderr
