"""Smoke run of benchmarks/ (python -m benchmarks.sfu_bench --quick): every code path runs
against the real SFU and the real relay baseline, and the counts it reports are consistent.
Timings are never asserted: this machine is shared."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import profile, recorder_bench
from benchmarks.loopback import loopback_ice
from benchmarks.scenarios import CpuRow
from benchmarks.sfu_bench import BEGIN, END, QUICK, render, run, write


def _row(rows: list[CpuRow], subscribers: int) -> CpuRow:
    return next(r for r in rows if r.subscribers == subscribers)


async def test_quick_benchmark_measures_both_servers_and_the_ramp(tmp_path: Path) -> None:
    with loopback_ice():
        results = await run(QUICK, profile_sfu=False, log=False)

    for rows in (results.forward, results.relay):
        assert [r.subscribers for r in rows] == list(QUICK.counts)
        idle, one = _row(rows, 0), _row(rows, 1)
        assert idle.video.packets == 0 and idle.video.streams == 0
        # One subscriber got one video and one audio stream, with frames, and no gaps.
        assert one.video.streams == 1 and one.audio.streams == 1
        assert one.video.packets > 0 and one.video.frames > 0 and one.audio.packets > 0
        assert one.video.lost == 0 and one.audio.lost == 0
        assert one.video.octets > one.video.packets * 12
        assert one.published_fps > 0
        assert one.window.server.cores >= 0 and one.window.server.rss_bytes > 0

    ramp = results.ramp.rows
    assert [r.rate_per_stream for r in ramp] == list(QUICK.rates)
    for row in ramp:
        streams = QUICK.publishers * QUICK.subscribers
        assert row.received.streams == streams
        assert row.received.packets > 0 and row.direct_received.packets > 0
        # Every synthetic packet carries a send time; via SFU and direct are both sampled.
        assert row.via_sfu.samples > 0 and row.direct.samples > 0
        assert 0 < row.via_sfu.p50_ms <= row.via_sfu.p99_ms
        assert row.received.loss < 0.5
        # The SFU's own counter and what the subscribers saw describe the same traffic.
        assert row.sfu_forwarded_pps > 0

    lines = render(results, "python -m benchmarks.sfu_bench --quick")
    text = "\n".join(lines)
    assert "| 1 |" in text and "per-stream pkt/s" in text

    # --out replaces the generated section and keeps everything around it.
    out = tmp_path / "benchmarks.md"
    out.write_text(f"# Benchmarks\n\nintro\n\n{BEGIN}\nold\n{END}\n\n## Method\n")
    write(out, lines)
    write(out, lines)
    written = out.read_text()
    assert written.count(BEGIN) == 1 and "old" not in written
    assert written.startswith("# Benchmarks\n\nintro") and written.endswith("## Method\n")


def test_profile_parses_py_spy_raw_stacks() -> None:
    text = (
        "main (a.py:1);loop (a.py:5);send (b.py:9) 30\n"
        "main (a.py:1);loop (a.py:5) 10\n"
        "garbage line\n"
    )
    parsed = profile.parse(text)
    assert parsed.samples == 40
    assert parsed.self_top[0] == ("send (b.py:9)", 0.75)
    assert dict(parsed.inclusive_top)["loop (a.py:5)"] == 1.0


async def test_quick_recorder_benchmark_measures_both_recorders(tmp_path: Path) -> None:
    """python -m benchmarks.recorder_bench --quick: the real recorder worker and the
    transcoding baseline each record the publisher's two tracks into decodable files, and
    the report has both sides and their ratio."""
    results = await recorder_bench.run(recorder_bench.QUICK, log=False)

    assert [s.name for s in results.sides] == ["recorder", "transcoder"]
    for side in results.sides:
        assert side.exit_code == 0, side
        assert side.recorder.cores > 0 and side.recorder.rss_bytes > 0
        assert side.window_s > 0
        assert [f.kind for f in side.files].count("video") == recorder_bench.QUICK.streams
        assert [f.kind for f in side.files].count("audio") == recorder_bench.QUICK.streams
        for file in side.files:
            assert file.codec == ("vp8" if file.kind == "video" else "opus")
            assert file.packets > 0 and file.wall_s > 0
            assert file.decode_errors == 0
    transcoder = results.sides[1]
    assert [t["kind"] for t in transcoder.summary["tracks"]].count("video") == 1
    assert results.ratio > 0 and results.ratio_at_30fps > 0

    lines = recorder_bench.render(results, "python -m benchmarks.recorder_bench --quick")
    text = "\n".join(lines)
    assert "| recorder |" in text and "| transcoder |" in text
    assert "Ratio transcoding / Sparkle recorder" in text and f"{results.ratio:.1f}x" in text

    # --out adds (then replaces) the recorder section and leaves the SFU section alone.
    out = tmp_path / "benchmarks.md"
    out.write_text(f"# Benchmarks\n\n{BEGIN}\nsfu\n{END}\n")
    recorder_bench.write(out, lines)
    recorder_bench.write(out, lines)
    written = out.read_text()
    assert written.count(recorder_bench.BEGIN) == 1 and written.count("## Recorder") == 1
    assert f"{BEGIN}\nsfu\n{END}" in written


def test_framing_benchmarks_run_and_report_against_the_targets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The auto-framing evaluation and the worker-cost benchmark (issue 6) still run: one
    scene, and one second of video, instead of the full runs docs/benchmarks.md quotes."""
    from benchmarks import framing_eval, framing_worker_cost

    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n")
    framing_eval.main(["--scenes", "still_group", "--out", str(doc)])
    framing_worker_cost.main(["--seconds", "1", "--out", str(doc)])
    printed = capsys.readouterr().out
    assert "every face inside the output" in printed
    assert "| 1280x720 |" in printed and "worker total" in printed
    text = doc.read_text()
    assert "<!-- framing-eval:begin -->" in text and "<!-- framing-cost:begin -->" in text
    assert "still_group" in text
