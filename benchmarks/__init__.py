"""Reproducible SFU benchmarks: ``python -m benchmarks.sfu_bench`` (see docs/benchmarks.md)."""
