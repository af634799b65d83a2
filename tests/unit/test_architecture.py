"""Import rules that keep the planes apart (docs/architecture.md; checklist item 25).

- ``signaling/tokens.py`` is the only module that imports ``jwt``: one place decodes tokens.
- ``sfu/`` (the media plane) never imports ``aiohttp``, ``jwt`` or ``signaling``.
- ``signaling/`` never imports ``aiortc``, ``av``, ``aioice`` or ``pylibsrtp``, and reaches
  the media plane only through ``sfu``'s public modules.
- In ``sfu/``, only ``aiortc_hooks.py`` reaches into another object's ``_private`` names.
- Workers (``recorder/``, ``transcribe/``, and ``roomclient/``, the client side they share)
  join rooms through the public protocol like any client: they never import ``sfu``,
  ``signaling`` or ``jwt``, and only ``recorder/aiortc_frames.py`` reaches aiortc internals.
- ``minutes/`` (action items, due dates, transcript formats) is pure text: it imports none of
  ``sfu``, ``signaling``, the workers, the network or media libraries, so the server and the
  workers can both use it.

Imports are read with ``ast``, so imports inside functions and ``importlib.import_module``
calls with a literal name count too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SKIP_DIRS = {"tests", ".venv", "venv", "build", "node_modules", ".git", "web"}
SFU_PUBLIC = {"sfu", "sfu.room", "sfu.settings", "sfu.events", "sfu.errors", "sfu.counters"}
MEDIA_LIBRARIES = {"aiortc", "av", "aioice", "pylibsrtp"}


def imports(source: str) -> Iterator[str]:
    """Every module name ``source`` imports (``from a import b`` yields ``a`` and ``a.b``)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            for alias in node.names:
                yield f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__") and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    yield first.value


def top(name: str) -> str:
    return name.split(".")[0]


def python_files() -> list[Path]:
    return sorted(
        path
        for path in REPO.rglob("*.py")
        if not SKIP_DIRS.intersection(path.relative_to(REPO).parts[:-1])
    )


def module_imports() -> dict[str, set[str]]:
    return {
        path.relative_to(REPO).as_posix(): set(imports(path.read_text())) for path in python_files()
    }


def jwt_importers(table: dict[str, set[str]]) -> set[str]:
    return {path for path, names in table.items() if any(top(n) == "jwt" for n in names)}


def sfu_violations(table: dict[str, set[str]]) -> list[str]:
    return [
        f"{path} imports {name}"
        for path, names in table.items()
        if path.startswith("sfu/")
        for name in sorted(names)
        if top(name) in {"aiohttp", "jwt", "signaling"}
    ]


def signaling_violations(table: dict[str, set[str]]) -> list[str]:
    problems = []
    for path, names in table.items():
        if not path.startswith("signaling/"):
            continue
        for name in sorted(names):
            if top(name) in MEDIA_LIBRARIES:
                problems.append(f"{path} imports {name}")
            elif top(name) == "sfu" and not _public_sfu(name):
                problems.append(f"{path} imports {name} (not a public sfu module)")
    return problems


WORKERS = ("roomclient/", "recorder/", "transcribe/", "framing/")


def worker_violations(table: dict[str, set[str]]) -> list[str]:
    return [
        f"{path} imports {name}"
        for path, names in table.items()
        if path.startswith(WORKERS)
        for name in sorted(names)
        if top(name) in {"sfu", "signaling", "jwt"}
    ]


def minutes_violations(table: dict[str, set[str]]) -> list[str]:
    banned = {"sfu", "signaling", "recorder", "transcribe", "aiohttp", "jwt", *MEDIA_LIBRARIES}
    return [
        f"{path} imports {name}"
        for path, names in table.items()
        if path.startswith("minutes/")
        for name in sorted(names)
        if top(name) in banned
    ]


FRAMING_ENGINE = ("framing/framer.py", "framing/geometry.py", "framing/framing_settings.py")


def framing_engine_violations(table: dict[str, set[str]]) -> list[str]:
    """The framing engine (issue 6) is pure: no network, no media I/O, no other plane."""
    banned = {"sfu", "signaling", "roomclient", "aiohttp", "jwt", *MEDIA_LIBRARIES}
    return [
        f"{path} imports {name}"
        for path, names in table.items()
        if path in FRAMING_ENGINE
        for name in sorted(names)
        if top(name) in banned
    ]


def _public_sfu(name: str) -> bool:
    # "sfu.room" or a name imported from it ("sfu.room.MediaRoom"); never a private name.
    parts = name.split(".")
    if any(part.startswith("_") for part in parts):
        return False
    if len(parts) == 1 or ".".join(parts[:2]) in SFU_PUBLIC:
        return True
    # ``from sfu import MediaRoom``: a class or constant re-exported by sfu/__init__.py is
    # public; a lowercase name is a module (PEP 8 naming), and only the listed ones are.
    return len(parts) == 2 and parts[1][:1].isupper()


def test_the_scan_sees_the_packages() -> None:
    table = module_imports()
    assert "signaling/tokens.py" in table and "sfu/events.py" in table
    assert "jwt" in table["signaling/tokens.py"]  # otherwise the next rule proves nothing


def test_only_tokens_module_imports_jwt() -> None:
    assert jwt_importers(module_imports()) == {"signaling/tokens.py"}


def test_media_plane_imports_no_http_tokens_or_control_plane() -> None:
    assert sfu_violations(module_imports()) == []


def test_control_plane_reaches_media_only_through_public_sfu_modules() -> None:
    assert signaling_violations(module_imports()) == []


def test_workers_use_only_the_public_protocol() -> None:
    table = module_imports()
    assert "recorder/worker.py" in table  # otherwise the rule proves nothing
    assert worker_violations(table) == []


def test_the_framing_engine_is_pure() -> None:
    table = module_imports()
    assert set(FRAMING_ENGINE) <= set(table)  # otherwise the rule proves nothing
    assert framing_engine_violations(table) == []


def test_minutes_is_pure_text() -> None:
    table = module_imports()
    assert "minutes/action_items.py" in table  # otherwise the rule proves nothing
    assert minutes_violations(table) == []


@pytest.mark.parametrize(
    ("path", "source", "rule"),
    [
        ("signaling/api.py", "import jwt", jwt_importers),
        ("signaling/api.py", "def f():\n    from jwt import decode", jwt_importers),
        (
            "signaling/api.py",
            "import importlib\nimportlib.import_module('jwt.api_jwt')",
            jwt_importers,
        ),
        ("sfu/room.py", "from aiohttp import web", sfu_violations),
        ("sfu/room.py", "from signaling.tokens import Grants", sfu_violations),
        ("signaling/rooms.py", "import aiortc", signaling_violations),
        ("signaling/rooms.py", "from av import VideoFrame", signaling_violations),
        ("signaling/rooms.py", "from sfu.forwarder import Forwarder", signaling_violations),
        ("signaling/rooms.py", "from sfu.room import _private", signaling_violations),
        ("signaling/rooms.py", "from sfu import aiortc_hooks", signaling_violations),
        ("recorder/worker.py", "from signaling.tokens import Grants", worker_violations),
        ("recorder/worker.py", "from sfu.rtp_header import pack", worker_violations),
        ("transcribe/worker.py", "from signaling.tokens import Grants", worker_violations),
        ("roomclient/room_session.py", "import jwt", worker_violations),
        ("roomclient/receive_slots.py", "from sfu.room import MediaRoom", worker_violations),
        ("minutes/action_items.py", "import aiohttp", minutes_violations),
        ("framing/framer.py", "from aiortc import VideoStreamTrack", framing_engine_violations),
        ("minutes/action_items.py", "from signaling.store import Store", minutes_violations),
    ],
)
def test_each_rule_catches_a_violation(path: str, source: str, rule: object) -> None:
    assert callable(rule)
    table = {path: set(imports(source))}
    found = rule(table)
    assert found, f"{rule} missed {source!r}"


def test_allowed_imports_pass() -> None:
    table = {
        "signaling/rooms.py": set(
            imports(
                "from sfu.room import MediaRoom\nfrom sfu.events import SOURCES\n"
                "import sfu\nfrom sfu import MediaRoom"
            )
        ),
        "sfu/room.py": set(imports("import aiortc\nfrom sfu.settings import SfuSettings")),
    }
    assert signaling_violations(table) == [] and sfu_violations(table) == []


def private_reaches(source: str) -> list[str]:
    """``obj._name`` where ``obj`` is not ``self``/``cls``: reaching into someone's internals.

    Dunder names (``__class__``) are public protocol, not internals."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute):
            continue
        name = node.attr
        if not name.startswith("_") or (name.startswith("__") and name.endswith("__")):
            continue
        if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
            continue
        found.append(f"line {node.lineno}: .{name}")
    return found


def test_aiortc_internals_are_reached_only_from_the_hooks_module() -> None:
    # The rule: every use of aiortc internals sits in sfu/aiortc_hooks.py, where
    # tests/unit/test_aiortc_hooks.py guards each one against an aiortc upgrade.
    offenders = {}
    for path in sorted((REPO / "sfu").glob("*.py")):
        if path.name == "aiortc_hooks.py":
            continue
        found = private_reaches(path.read_text())
        if found:
            offenders[path.name] = found
    assert offenders == {}


def test_recorder_reaches_aiortc_internals_only_from_its_frames_module() -> None:
    # roomclient/ (the client side the workers share) reaches none at all. Not transcribe/:
    # its speech pool's forked children leave by ``os._exit``, a private name of no peer.
    offenders = {}
    for package in ("roomclient", "recorder"):
        for path in sorted((REPO / package).glob("*.py")):
            if path.relative_to(REPO).as_posix() == "recorder/aiortc_frames.py":
                continue
            found = private_reaches(path.read_text())
            if found:
                offenders[path.relative_to(REPO).as_posix()] = found
    assert offenders == {}


def test_private_reach_rule_catches_a_violation() -> None:
    assert private_reaches("def f(sender):\n    sender._ssrc = 1\n") == ["line 2: ._ssrc"]
    assert private_reaches("class A:\n    def f(self):\n        return self._x\n") == []
