"""On-demand benchmarks: ``python -m tests.benchmarks`` (see docs/performance.md)."""
