"""Benchmarks of django-liveness: ``make bench`` (full size) and ``make bench-smoke`` (CI)."""
