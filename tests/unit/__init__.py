"""Unit tests: the pure-Python domain, services with in-memory fakes."""
