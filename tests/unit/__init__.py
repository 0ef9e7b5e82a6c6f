"""Test package (unique module names across suites; tests/ stays on sys.path for conftest)."""
