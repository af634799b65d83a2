"""Seeded mutation fuzzing of the parsers that face clients (security checklist item 13).

``corpus/`` holds the seeds (real offers and messages) and every past crasher, all replayed in
each run; ``SPARKLE_FUZZ_SCALE`` multiplies the mutant counts for a longer local run.
"""
