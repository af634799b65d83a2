"""The deployment files (issue 7, operations) agree with the code they deploy.

docker-compose.yml, the Prometheus config and alerts and the Grafana dashboard name metrics,
settings, worker flags and files; each is checked against the real thing: metric names
against a live server's /metrics, ``SPARKLE_*`` variables against the settings, worker
commands against the workers' own argument parsers, mounts against the repository.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from signaling.config import settings
from tests.conftest import RunningServer

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
_METRIC = re.compile(r"\bsparkle_[a-z0-9_]+")
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gauge": ("",),
}


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((REPO / "docker-compose.yml").read_text()))


def _dashboard() -> dict[str, Any]:
    return dict(json.loads((DEPLOY / "grafana" / "dashboards" / "sparkle.json").read_text()))


def _dashboard_exprs() -> list[str]:
    return [t["expr"] for p in _dashboard()["panels"] for t in p["targets"]]


def _alert_exprs() -> list[str]:
    alerts = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    return [str(rule["expr"]) for group in alerts["groups"] for rule in group["rules"]]


async def _exposed_names(server: RunningServer, http: aiohttp.ClientSession) -> set[str]:
    """Every series name the live server's /metrics can produce (labelled families with no
    child yet still declare their TYPE, so they count)."""
    async with http.get(server.url("/metrics")) as response:
        assert response.status == 200
        text = await response.text()
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


async def test_every_metric_the_dashboard_and_alerts_use_is_exported(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    exposed = await _exposed_names(server, http)
    used = {name for expr in _dashboard_exprs() + _alert_exprs() for name in _METRIC.findall(expr)}
    assert len(used) >= 15
    assert sorted(used - exposed) == []


def test_the_dashboard_shows_what_operators_asked_for() -> None:
    dashboard = _dashboard()
    titles = " / ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in (
        "rooms",
        "participants",
        "bitrate",
        "packet loss",
        "join latency",
        "recordings",
        "transcription queue",
    ):
        assert topic in titles, topic
    exprs = " ".join(_dashboard_exprs())
    assert "sparkle_bytes_forwarded_total" in exprs and "sparkle_nack_total" in exprs
    assert 'sparkle_transcriptions{state="waiting"}' in exprs
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    provisioned = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    uid = provisioned["datasources"][0]["uid"]
    assert {p["datasource"]["uid"] for p in dashboard["panels"]} == {uid}


def test_prometheus_scrapes_the_servers_metrics_path() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["sparkle:8080"]
    for rule_file in config["rule_files"]:
        assert (DEPLOY / "prometheus" / Path(rule_file).name).is_file()


def test_compose_services_settings_and_mounts() -> None:
    compose = _compose()
    services = compose["services"]
    assert set(services) == {
        "sparkle",
        "recorder",
        "transcriber",
        "framing",
        "coturn",
        "prometheus",
        "grafana",
    }
    assert services["coturn"]["profiles"] == ["turn"]
    sparkle = services["sparkle"]
    env = sparkle["environment"]
    known = {setting.name for setting in settings()}
    for variable in env:
        assert variable.startswith("SPARKLE_")
        assert variable.removeprefix("SPARKLE_").lower() in known, variable
    for kind in ("RECORDER", "TRANSCRIBER", "FRAMING"):
        assert env[f"SPARKLE_{kind}_WORKERS"] == "remote"
    assert "SPARKLE_RTC_ANNOUNCED_ADDRESS" in env and env["SPARKLE_LOG_FORMAT"] == "json"
    # The published UDP range is exactly the range the media sockets are confined to.
    low, high = sparkle["sysctls"]["net.ipv4.ip_local_port_range"].split()
    assert f"{low}-{high}:{low}-{high}/udp" in sparkle["ports"]
    assert "127.0.0.1:8080:8080" in sparkle["ports"]
    address = sparkle["networks"]["sparkle"]["ipv4_address"]
    assert env["SPARKLE_RTC_LISTEN_ADDRESSES"] == address
    subnet = compose["networks"]["sparkle"]["ipam"]["config"][0]["subnet"]
    assert address.rsplit(".", 1)[0] == subnet.split("/")[0].rsplit(".", 1)[0]
    # Long enough for the graceful shutdown (recordings close, captions flush).
    assert int(sparkle["stop_grace_period"].removesuffix("s")) >= 40
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (REPO / source).exists(), (name, source)
            else:
                assert source in compose["volumes"], (name, source)


def test_worker_services_run_commands_their_parsers_accept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from framing.__main__ import parse_args as framing_args
    from recorder.__main__ import parse_pool_args
    from transcribe.__main__ import parse_args as transcribe_args

    services = _compose()["services"]
    environ = {"SPARKLE_API_KEY": "APIcompose", "SPARKLE_API_SECRET": "x" * 40}
    parsers = {
        "recorder": ("recorder", lambda argv: parse_pool_args(argv, environ)),
        "transcriber": ("transcribe", lambda argv: transcribe_args(argv, environ)),
        "framing": ("framing", lambda argv: framing_args(argv, environ)),
    }
    for name, (module, parse) in parsers.items():
        service = services[name]
        command = service["command"]
        assert command[:3] == ["python", "-m", module], name
        parse(command[3:])  # argparse exits (SystemExit) on a flag it does not know
        assert service["healthcheck"] == {"disable": True}
        assert set(service["environment"]) == {"SPARKLE_API_KEY", "SPARKLE_API_SECRET"}
        assert "http://sparkle:8080" in command


def test_dockerfile_ships_every_package_and_checks_readiness() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    for package in pyproject["tool"]["setuptools"]["packages"]:
        assert f"COPY {package} {package}" in dockerfile, package
    assert "COPY web /opt/sparkle/web" in dockerfile
    assert "/readyz" in dockerfile.split("HEALTHCHECK", 1)[1].split("\n\n")[0]
    assert re.search(r"^USER sparkle$", dockerfile, re.MULTILINE)
    assert "FROM python:3.11-slim-bookworm AS build" in dockerfile
    ignored = (REPO / ".dockerignore").read_text().split()
    for entry in (".git", ".venv", "data", "**/__pycache__", ".mypy_cache", ".pytest_cache"):
        assert entry in ignored, entry
