"""Configuration: precedence, strict values, safe secrets, generated credentials, docs."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from signaling.config import (
    Config,
    ConfigError,
    check_secret,
    ensure_credentials,
    load,
    settings,
)
from signaling.config_doc import render

STRONG = "Hq4-vT9xLm2Pw7Rz_K3bN8cY5dJf6gA0eU1s"
REPO = Path(__file__).resolve().parents[2]


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_defaults_without_any_source() -> None:
    config = load(env={})
    assert config == Config()
    assert config.port == 8080 and config.host == "127.0.0.1"


def test_precedence_default_file_env_flag(tmp_path: Path) -> None:
    file = write(tmp_path / "s.toml", "port = 9001\nmax_participants = 7\nlog_level = 'debug'\n")
    from_file = load(file=file, env={})
    assert (from_file.port, from_file.max_participants) == (9001, 7)
    env = {"SPARKLE_PORT": "9002", "SPARKLE_LOG_LEVEL": "warning"}
    from_env = load(file=file, env=env)
    assert (from_env.port, from_env.max_participants, from_env.log_level) == (9002, 7, "warning")
    from_flags = load(file=file, env=env, overrides={"port": 9003, "log_level": None})
    assert from_flags.port == 9003
    assert from_flags.log_level == "warning"  # a flag left unset (None) does not override


def test_env_values_are_parsed_by_type() -> None:
    config = load(
        env={
            "SPARKLE_AUTO_CREATE_ROOMS": "off",
            "SPARKLE_MESSAGES_PER_SECOND": "12.5",
            "SPARKLE_JOIN_TIMEOUT_S": "3",
        }
    )
    assert config.auto_create_rooms is False
    assert config.messages_per_second == 12.5
    assert config.join_timeout_s == 3.0


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"SPARKLE_PORT": "eighty"}, "setting 'port': 'eighty' is not valid"),
        ({"SPARKLE_PORT": "70000"}, "port 70000 is out of range 1-65535"),
        ({"SPARKLE_PORT": "0"}, "port 0 is out of range 1-65535"),
        ({"SPARKLE_AUTO_CREATE_ROOMS": "maybe"}, "expected true or false"),
        ({"SPARKLE_MESSAGES_PER_SECOND": "nan"}, "expected a finite number"),
        ({"SPARKLE_MAX_PARTICIPANTS": "0"}, "setting 'max_participants' must be positive"),
        ({"SPARKLE_CLOCK_SKEW_S": "-1"}, "'clock_skew_s' must not be negative"),
        ({"SPARKLE_GUEST_TOKEN_TTL_S": "99999"}, "'guest_token_ttl_s' exceeds token_max_ttl_s"),
        ({"SPARKLE_LOG_LEVEL": "loud"}, "log_level 'loud' is not one of"),
        ({"SPARKLE_LOG_FORMAT": "xml"}, "log_format 'xml' is not one of text/json"),
        ({"SPARKLE_RTC_LISTEN_ADDRESSES": " , "}, "needs at least one address"),
        (
            {"SPARKLE_RTC_LISTEN_ADDRESSES": "127.0.0.1,localhost"},
            "'rtc_listen_addresses': 'localhost' is not an IP address",
        ),
        (
            {"SPARKLE_RTC_ANNOUNCED_ADDRESS": "meet.example.com"},
            "'rtc_announced_address': 'meet.example.com' is not an IP address",
        ),
        (
            {"SPARKLE_RTC_ANNOUNCED_ADDRESS": "192.0.2.1,192.0.2.2"},
            "'rtc_announced_address' takes one address",
        ),
        ({"SPARKLE_API_KEY": "APIx"}, "set both SPARKLE_API_KEY and SPARKLE_API_SECRET"),
    ],
)
def test_bad_env_values_name_the_problem(source: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(env=source)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("port = 80.5\n", "setting 'port': 80.5 is not valid (expected an integer)"),
        ("port = true\n", "expected an integer"),
        ("host = 5\n", "expected a string"),
        ("no_such_thing = 1\n", "unknown setting 'no_such_thing'"),
        ("port = \n", "is not valid TOML"),
    ],
)
def test_bad_config_file_names_the_problem(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(file=write(tmp_path / "bad.toml", text), env={})
    assert message in str(caught.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load(file=tmp_path / "absent.toml", env={})


def test_unknown_override_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown setting 'prot'"):
        load(env={}, overrides={"prot": 1})


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("secret", "well-known example value"),
        ("SecretSecretSecretSecretSecretSecret", "well-known example value"),
        ("your-256-bit-secret", "well-known example value"),
        ("short-but-random-Xy7", "too short (20 characters)"),
        ("ab" * 20, "too few distinct characters"),
    ],
)
def test_weak_or_well_known_secrets_are_refused(secret: str, message: str) -> None:
    with pytest.raises(ConfigError) as direct:
        check_secret(secret)
    assert message in str(direct.value)
    with pytest.raises(ConfigError) as loaded:
        load(env={"SPARKLE_API_KEY": "APIx", "SPARKLE_API_SECRET": secret})
    assert str(loaded.value) == str(direct.value)


def test_strong_secret_is_accepted() -> None:
    check_secret(STRONG)
    config = load(env={"SPARKLE_API_KEY": "APIx", "SPARKLE_API_SECRET": STRONG})
    assert config.api_secret == STRONG


def test_ensure_credentials_generates_once_then_reuses(tmp_path: Path) -> None:
    config = load(env={}, overrides={"data_dir": str(tmp_path / "d")})
    first, creds = ensure_credentials(config)
    assert creds.generated
    assert first.api_key == creds.api_key and first.api_secret == creds.api_secret
    check_secret(creds.api_secret)
    path = tmp_path / "d" / "credentials.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not list((tmp_path / "d").glob("*.tmp"))  # written atomically, no leftovers
    second, again = ensure_credentials(config)
    assert not again.generated
    assert (again.api_key, again.api_secret) == (creds.api_key, creds.api_secret)
    assert second == first


def test_configured_credentials_are_used_and_nothing_is_written(tmp_path: Path) -> None:
    config = load(
        env={"SPARKLE_API_KEY": "APIx", "SPARKLE_API_SECRET": STRONG},
        overrides={"data_dir": str(tmp_path / "d")},
    )
    _, creds = ensure_credentials(config)
    assert (creds.api_key, creds.api_secret, creds.generated) == ("APIx", STRONG, False)
    assert not (tmp_path / "d" / "credentials.toml").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('api_key = "APIx"\n', "unreadable or incomplete"),
        ("not toml at all = = \n", "unreadable or incomplete"),
        ('api_key = "APIx"\napi_secret = "changeme"\n', "well-known example value"),
        (f'api_key = ""\napi_secret = "{STRONG}"\n', "empty api_key"),
    ],
)
def test_bad_stored_credentials_are_refused(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "d").mkdir()
    write(tmp_path / "d" / "credentials.toml", text)
    config = load(env={}, overrides={"data_dir": str(tmp_path / "d")})
    with pytest.raises(ConfigError, match=message):
        ensure_credentials(config)


def test_every_setting_has_a_reason() -> None:
    for setting in settings():
        assert setting.why.strip(), setting.name


def test_sfu_settings_carry_the_media_limits() -> None:
    config = load(
        env={},
        overrides={"ice_servers": "stun:a.example:3478, turn:b.example", "turn_username": "u"},
    )
    sfu = config.sfu_settings()
    assert sfu.listen_addresses == ("127.0.0.1",)
    assert [s.urls for s in sfu.ice_servers] == [("stun:a.example:3478",), ("turn:b.example",)]
    assert sfu.ice_servers[0].username is None and sfu.ice_servers[1].username == "u"
    assert sfu.max_sdp_bytes == config.max_sdp_bytes


def test_committed_configuration_doc_is_up_to_date() -> None:
    committed = (REPO / "docs" / "configuration.md").read_text()
    assert committed == render(), "run: python -m signaling.config_doc > docs/configuration.md"
    for setting in settings():
        assert f"`SPARKLE_{setting.name.upper()}`" in committed
