"""The ``sparkle`` command: tokens in-process, the server as a real subprocess."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from signaling.cli import main, parse_duration
from signaling.config_doc import render
from signaling.tokens import Grants, TokenService

REPO = Path(__file__).resolve().parents[2]
STRONG = "Hq4-vT9xLm2Pw7Rz_K3bN8cY5dJf6gA0eU1s"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SPARKLE_"):
            monkeypatch.delenv(name)


def verifier(key: str = "APIcli", secret: str = STRONG) -> TokenService:
    return TokenService(key, secret, max_ttl_s=6 * 3600, clock_skew_s=30)


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86400), ("45", 45)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "10x", "-5m", "1.5h", "m", "10 m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="invalid duration"):
        parse_duration(text)


def test_token_create_with_env_credentials(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("SPARKLE_API_KEY", "APIcli")
    monkeypatch.setenv("SPARKLE_API_SECRET", STRONG)
    argv = ["token", "create", "--room", "standup", "--identity", "alice", "--name", "Alice"]
    assert main([*argv, "--ttl", "10m", "--data-dir", str(tmp_path)]) == 0
    token = verifier().verify(capsys.readouterr().out.strip())
    assert (token.room, token.identity, token.name) == ("standup", "alice", "Alice")
    assert token.grants == Grants.participant()
    assert token.expires_at - token.issued_at == 600
    assert main([*argv, "--host", "--data-dir", str(tmp_path)]) == 0
    host = verifier().verify(capsys.readouterr().out.strip())
    assert host.grants == Grants.host()
    assert not (tmp_path / "credentials.toml").exists()  # nothing generated


def test_token_create_with_stored_credentials(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "credentials.toml").write_text(f'api_key = "APIstored"\napi_secret = "{STRONG}"\n')
    args = ["token", "create", "--room", "r1", "--identity", "bob", "--data-dir", str(tmp_path)]
    assert main(args) == 0
    assert verifier("APIstored").verify(capsys.readouterr().out.strip()).identity == "bob"


def test_token_create_without_credentials_explains(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = ["token", "create", "--room", "r1", "--identity", "bob", "--data-dir", str(tmp_path)]
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no API credentials: set SPARKLE_API_KEY and SPARKLE_API_SECRET" in captured.err
    assert not (tmp_path / "credentials.toml").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--room", "*"], "invalid room name '*'"),
        (["--ttl", "7h"], "ttl 25200s exceeds the maximum of 21600s"),
    ],
)
def test_token_create_refuses_bad_input(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    monkeypatch.setenv("SPARKLE_API_KEY", "APIcli")
    monkeypatch.setenv("SPARKLE_API_SECRET", STRONG)
    args = ["token", "create", "--room", "ok", "--identity", "a", *extra]
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_config_doc(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config-doc"]) == 0
    assert capsys.readouterr().out == render()


def test_room_commands_report_an_unreachable_server(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SPARKLE_API_KEY", "APIcli")
    monkeypatch.setenv("SPARKLE_API_SECRET", STRONG)
    assert main(["room", "list", "--url", f"http://127.0.0.1:{free_port()}"]) == 1
    assert "cannot reach" in capsys.readouterr().err


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPARKLE_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    port = free_port()
    data = tmp_path / "data"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "signaling.cli",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data),
        ],
        cwd=REPO,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc, f"http://127.0.0.1:{port}", data
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def wait_healthy(proc: subprocess.Popen[str], base: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate(timeout=5)
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1) as response:
                assert json.loads(response.read()) == {"status": "ok"}
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"server not healthy within {timeout}s")


def test_serve_rooms_and_graceful_sigterm(
    serve: tuple[subprocess.Popen[str], str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    proc, base, data = serve
    wait_healthy(proc, base)
    stored = tomllib.loads((data / "credentials.toml").read_text())
    common = ["--url", base, "--data-dir", str(data)]

    assert main(["room", "create", "standup", *common]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "standup"
    assert main(["room", "create", "standup", *common]) == 1
    assert "conflict: room 'standup' already exists (HTTP 409)" in capsys.readouterr().err
    assert main(["room", "create", *common]) == 0
    random_name = json.loads(capsys.readouterr().out)["name"]
    assert main(["room", "list", *common]) == 0
    assert [r["name"] for r in json.loads(capsys.readouterr().out)] == ["standup", random_name]
    assert main(["room", "delete", "standup", *common]) == 0
    assert capsys.readouterr().out.strip() == "deleted room standup"
    assert main(["room", "delete", "standup", *common]) == 1
    assert "not_found" in capsys.readouterr().err
    # API keys for integrators (issue 7): created with their origins, listed, revoked.
    args = ["key", "create", "--name", "Acme", "--origin", "https://app.acme.example"]
    assert main([*args, *common]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["embed_origins"] == ["https://app.acme.example"] and created["secret"]
    assert main(["key", "list", *common]) == 0
    assert [k["name"] for k in json.loads(capsys.readouterr().out)] == ["primary", "Acme"]
    assert main(["key", "revoke", created["key"], *common]) == 0
    assert main(["key", "create", "--name", "x", "--origin", "ftp://x", *common]) == 1
    assert "must be scheme://host[:port]" in capsys.readouterr().err

    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert time.monotonic() - started < 5
    assert f"Sparkle is running at {base}/" in out
    assert f"API key:    {stored['api_key']}" in out
    assert str(data / "credentials.toml") in out
    assert "sparkle token create --room demo --identity alice" in out
    assert stored["api_secret"] not in out + err  # never printed, not even in logs


def test_serve_refuses_a_weak_secret(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "signaling.cli", "serve", "--data-dir", str(tmp_path)],
        cwd=REPO,
        env=child_env(SPARKLE_API_KEY="APIx", SPARKLE_API_SECRET="changeme"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "sparkle: configuration error: the API secret is a well-known example value; "
        "generate a new one"
    )
    assert result.stdout == ""


def test_serve_refuses_a_bad_port_value(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "signaling.cli", "serve", "--data-dir", str(tmp_path)],
        cwd=REPO,
        env=child_env(SPARKLE_PORT="http"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "setting 'port': 'http' is not valid" in result.stderr


def test_serve_explains_a_missing_browser_client(tmp_path: Path) -> None:
    # Regression: a checkout without web/ used to die with a traceback from add_static.
    result = subprocess.run(
        [sys.executable, "-m", "signaling.cli", "serve", "--data-dir", str(tmp_path)],
        cwd=REPO,
        env=child_env(SPARKLE_WEB_DIR=str(tmp_path / "nowhere")),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "the browser client is missing" in result.stderr
    assert "SPARKLE_WEB_DIR" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_reports_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "signaling.cli", "serve", "--port", str(port),
             "--data-dir", str(tmp_path)],
            cwd=REPO,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=30,
        )  # fmt: skip
    assert result.returncode == 1
    assert f"sparkle: cannot listen on 127.0.0.1:{port}: " in result.stderr
    assert "Traceback" not in result.stderr
