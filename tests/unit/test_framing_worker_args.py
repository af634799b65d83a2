"""``python -m framing``: its options, where the API key comes from, how a job and a
``framing_targets`` message from the server are read, and its exit codes
(framing/__main__.py, framing/pool.py, framing/worker.py)."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from framing.__main__ import DETECTOR_UNAVAILABLE, KEY_ENV, SECRET_ENV, parse_args
from framing.pool import Job, PoolOptions, parse_job
from framing.worker import FramingTargets, Target, parse_framing_targets

REPO = Path(__file__).resolve().parents[2]
ENV = {KEY_ENV: "APIkey123", SECRET_ENV: "s3cret-value-never-shown"}


def test_defaults() -> None:
    options = parse_args(["--server", "http://127.0.0.1:8080"], ENV)
    pool = options.pool
    assert (pool.url, pool.max_rooms, pool.claim_wait_s, pool.rtc_addresses) == (
        "http://127.0.0.1:8080",
        4,
        25.0,
        (),
    )
    assert (pool.api_key, pool.api_secret) == ("APIkey123", ENV[SECRET_ENV])
    assert options.detector_threads == 1
    assert options.model is None


def test_every_option_is_taken() -> None:
    options = parse_args(
        [
            "--server", "https://sparkle.example", "--max-rooms", "2",
            "--rtc-address", "10.0.0.5", "--rtc-address", "127.0.0.1",
            "--poll-interval", "0.5", "--join-timeout", "4", "--claim-wait", "0",
            "--detector-threads", "3", "--model", "/models/face.tflite",
        ],
        ENV,
    )  # fmt: skip
    pool = options.pool
    assert (pool.max_rooms, pool.rtc_addresses, pool.poll_interval_s, pool.join_timeout_s) == (
        2,
        ("10.0.0.5", "127.0.0.1"),
        0.5,
        4.0,
    )
    assert pool.claim_wait_s == 0.0
    assert options.detector_threads == 3
    assert options.model == Path("/models/face.tflite")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "--server"),
        (["--server", "ftp://host"], "--server must be http(s)"),
        (["--server", "http://"], "--server must be http(s)"),
        (["--server", "http://h", "--max-rooms", "0"], "--max-rooms must be within"),
        (["--server", "http://h", "--detector-threads", "0"], "--detector-threads must be"),
        (["--server", "http://h", "--detector-threads", "x"], "invalid int value"),
        (["--server", "http://h", "--poll-interval", "0"], "--poll-interval"),
        (["--server", "http://h", "--join-timeout", "-1"], "--join-timeout"),
        (["--server", "http://h", "--claim-wait", "31"], "--claim-wait must be within"),
        (["--server", "http://h", "--api-secret", "x"], "unrecognized arguments"),
    ],
)
def test_bad_arguments_exit_2_with_the_reason(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse_args(argv, ENV)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("missing", [KEY_ENV, SECRET_ENV])
def test_the_api_key_pair_comes_only_from_the_environment(
    missing: str, capsys: pytest.CaptureFixture[str]
) -> None:
    environ = {k: v for k, v in ENV.items() if k != missing}
    with pytest.raises(SystemExit) as exit_:
        parse_args(["--server", "http://127.0.0.1:8080"], environ)
    assert exit_.value.code == 2
    assert f"{KEY_ENV} and {SECRET_ENV}" in capsys.readouterr().err


def test_reprs_never_show_a_secret() -> None:
    options = parse_args(["--server", "http://127.0.0.1:8080"], ENV)
    assert ENV[SECRET_ENV] not in repr(options)
    assert ENV[SECRET_ENV] not in repr(options.pool)
    assert "signature" not in repr(Job("JB_1", "room", "header.payload.signature"))


def test_a_claimed_job_is_read_strictly() -> None:
    body = {"job_id": "JB_1", "room": "r", "token": "t.t.t"}
    assert parse_job(body) == Job("JB_1", "r", "t.t.t")
    bad: Any
    for bad in (
        [],
        {**body, "job_id": "../x"},
        {**body, "job_id": 5},
        {**body, "room": ""},
        {**body, "token": None},
        {k: v for k, v in body.items() if k != "token"},
    ):
        with pytest.raises(ValueError, match="claim answered"):
            parse_job(bad)


def test_pool_options_refuse_zero_rooms() -> None:
    with pytest.raises(ValueError, match="max_rooms"):
        PoolOptions(url="http://h", api_key="k", api_secret="s", max_rooms=0)


TARGETS: dict[str, Any] = {
    "type": "framing_targets",
    "targets": [
        {"track_sid": "TR_a", "participant_sid": "PA_a"},
        {"track_sid": "TR_b", "participant_sid": "PA_b"},
    ],
    "output": {"width": 1280, "height": 720, "max_fps": 30},
    "speaker_focus": True,
}


def test_framing_targets_are_read() -> None:
    assert parse_framing_targets(TARGETS) == FramingTargets(
        (Target("TR_a", "PA_a"), Target("TR_b", "PA_b")), 1280, 720, 30.0, True
    )
    empty = parse_framing_targets({**TARGETS, "targets": [], "speaker_focus": False})
    assert empty.targets == () and not empty.speaker_focus
    unsaid = parse_framing_targets({k: v for k, v in TARGETS.items() if k != "speaker_focus"})
    assert unsaid.speaker_focus is False
    assert parse_framing_targets(_with_output(max_fps=12.5)).max_fps == 12.5


def _with_output(**fields: Any) -> dict[str, Any]:
    return {**TARGETS, "output": {**TARGETS["output"], **fields}}


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({**TARGETS, "targets": None}, "targets must be a list"),
        ({**TARGETS, "targets": ["TR_a"]}, r"targets\[0\] must be an object"),
        ({**TARGETS, "targets": [{"track_sid": "TR_a"}]}, r"targets\[0\]\.participant_sid"),
        ({**TARGETS, "targets": [{"track_sid": "", "participant_sid": "P"}]}, "track_sid"),
        ({**TARGETS, "targets": [{"track_sid": "T" * 65, "participant_sid": "P"}]}, "1-64"),
        ({**TARGETS, "targets": [TARGETS["targets"][0]] * 2}, "listed twice"),
        ({**TARGETS, "targets": [TARGETS["targets"][0]] * 33}, "at most 32"),
        ({**TARGETS, "output": None}, "output must be an object"),
        (_with_output(width=1279), "output.width must be an even integer"),
        (_with_output(width=4096), "output.width must be an even integer"),
        (_with_output(height="720"), "output.height must be an even integer"),
        (_with_output(height=True), "output.height must be an even integer"),
        (_with_output(max_fps=0), "output.max_fps"),
        (_with_output(max_fps=math.nan), "output.max_fps"),
        (_with_output(max_fps=math.inf), "output.max_fps"),
        (_with_output(max_fps=True), "output.max_fps"),
        ({**TARGETS, "speaker_focus": "yes"}, "speaker_focus"),
    ],
)
def test_a_malformed_framing_targets_says_what_is_wrong(
    message: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_framing_targets(message)


async def _run_worker(*argv: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "framing", *argv,
        cwd=REPO,
        env={**os.environ, **ENV},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def test_a_model_that_does_not_load_exits_5_with_the_reason() -> None:
    """Checked at start-up, before any claim (the server is never contacted: port 9)."""
    process = await _run_worker(
        "--server", "http://127.0.0.1:9", "--model", "/nonexistent/face.tflite"
    )
    out, err = await asyncio.wait_for(process.communicate(), 30.0)
    text = err.decode()
    assert process.returncode == DETECTOR_UNAVAILABLE, text
    assert "could not load the face model /nonexistent/face.tflite" in text
    assert "Traceback" not in text
    assert ENV[SECRET_ENV] not in text + out.decode()


async def test_sigterm_stops_the_worker_with_exit_0() -> None:
    """With the real detector loaded and no server to claim from (port 9 refuses), SIGTERM
    ends the claim loop cleanly."""
    process = await _run_worker("--server", "http://127.0.0.1:9", "--poll-interval", "0.2")
    try:
        assert process.stderr is not None
        # The first failed claim is logged once the detector has loaded.
        line = await asyncio.wait_for(process.stderr.readline(), 30.0)
        assert b"claiming a job failed" in line, line
        process.send_signal(signal.SIGTERM)
        _out, err = await asyncio.wait_for(process.communicate(), 15.0)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()
    assert b"Traceback" not in err
