"""Helpers shared by the test suites (real aiortc peers, synthetic media)."""
