"""On-demand benchmarks: ``python -m benchmarks [--quick]``. Not part of the test suite."""
