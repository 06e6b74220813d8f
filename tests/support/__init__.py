"""Support for the tests and the benches: the world builder, row readers, chat steps and
fixtures' building blocks. Nothing here is a test, and nothing here imports a test module;
tests import from here, never from each other (tests/unit/test_test_layout.py checks it)."""
