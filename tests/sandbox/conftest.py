"""Fixtures for the stand-in's own tests (the project conftest may also load sandbox.testing)."""

from sandbox.testing import bot_api, ptb_app, raw_api, sandbox

__all__ = ["bot_api", "ptb_app", "raw_api", "sandbox"]
