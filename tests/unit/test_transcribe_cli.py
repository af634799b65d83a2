"""``python -m transcribe``: its options, where the API key comes from, and how a job a
server hands out is read (transcribe/__main__.py, transcribe/pool.py)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from transcribe.__main__ import KEY_ENV, MODEL_UNAVAILABLE, SECRET_ENV, parse_args
from transcribe.pool import Job, PoolOptions, parse_job

REPO = Path(__file__).resolve().parents[2]
ENV = {KEY_ENV: "APIkey123", SECRET_ENV: "s3cret-value-never-shown"}


def test_defaults_follow_the_contract() -> None:
    options = parse_args(["--server", "http://127.0.0.1:8080"], ENV)
    assert options.workers == (os.cpu_count() or 1)
    assert (options.model.model, options.model.device, options.model.compute_type) == (
        "tiny.en",
        "cpu",
        "int8",
    )
    assert options.model.cpu_threads == 1  # one single-threaded model per process
    assert options.pool.max_rooms == 8
    assert options.pool.url == "http://127.0.0.1:8080"
    assert (options.pool.api_key, options.pool.api_secret) == ("APIkey123", ENV[SECRET_ENV])


def test_every_option_is_taken() -> None:
    options = parse_args(
        [
            "--server", "https://sparkle.example", "--workers", "3", "--model", "/models/small",
            "--device", "cuda", "--compute-type", "float16", "--max-rooms", "2",
            "--rtc-address", "10.0.0.5", "--poll-interval", "0.5", "--join-timeout", "4",
            "--claim-wait", "0",
        ],
        ENV,
    )  # fmt: skip
    assert options.workers == 3
    assert (options.model.model, options.model.device, options.model.compute_type) == (
        "/models/small",
        "cuda",
        "float16",
    )
    pool = options.pool
    assert pool.claim_wait_s == 0.0
    assert (pool.max_rooms, pool.rtc_addresses, pool.poll_interval_s, pool.join_timeout_s) == (
        2,
        ("10.0.0.5",),
        0.5,
        4.0,
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "--server"),
        (["--server", "ftp://host"], "--server must be http(s)"),
        (["--server", "http://"], "--server must be http(s)"),
        (["--server", "http://h", "--workers", "0"], "--workers must be within"),
        (["--server", "http://h", "--max-rooms", "0"], "--max-rooms must be within"),
        (["--server", "http://h", "--poll-interval", "0"], "--poll-interval"),
        (["--server", "http://h", "--model", " "], "--model must not be empty"),
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
    job = Job("JB_1", "room", "MT_1", "header.payload.signature")
    assert "signature" not in repr(job)


def test_a_claimed_job_is_read_strictly() -> None:
    body = {"job_id": "JB_1", "room": "r", "meeting_id": "MT_1", "token": "t.t.t"}
    assert parse_job(body) == Job("JB_1", "r", "MT_1", "t.t.t")
    assert parse_job({**body, "meeting_id": 7}).meeting_id == "7"
    for bad in (
        [],
        {**body, "job_id": "../x"},
        {**body, "job_id": 5},
        {**body, "room": ""},
        {**body, "token": None},
        {**body, "meeting_id": True},
        {k: v for k, v in body.items() if k != "meeting_id"},
    ):
        with pytest.raises(ValueError, match="claim answered"):
            parse_job(bad)


def test_pool_options_refuse_zero_rooms() -> None:
    with pytest.raises(ValueError, match="max_rooms"):
        PoolOptions(url="http://h", api_key="k", api_secret="s", max_rooms=0)


async def test_a_model_that_is_not_there_exits_5_with_the_reason() -> None:
    """Nothing is downloaded: an unknown model is a clear message and exit code 5, before
    any claim is made (the server is never contacted: port 9 is discard)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "transcribe", "--server", "http://127.0.0.1:9",
        "--model", "/nonexistent/whisper-model", "--workers", "1",
        cwd=REPO,
        env={**os.environ, **ENV},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 30.0)
    text = err.decode()
    assert process.returncode == MODEL_UNAVAILABLE, text
    assert "/nonexistent/whisper-model does not exist" in text
    assert "Traceback" not in text
    assert ENV[SECRET_ENV] not in text + out.decode()
