"""A local Telegram Bot API stand-in over real HTTP, for tests and the offline demo."""

from sandbox.actions import UsageError
from sandbox.client import ChatHandle, SandboxClient, UserHandle
from sandbox.errors import ApiError
from sandbox.faults import Fault
from sandbox.images import tiny_jpeg, tiny_png
from sandbox.models import CallbackAnswer, Content
from sandbox.notify import WaitTimeout
from sandbox.server import SandboxServer
from sandbox.views import BotMessage, Button

__all__ = [
    "ApiError",
    "BotMessage",
    "Button",
    "CallbackAnswer",
    "ChatHandle",
    "Content",
    "Fault",
    "SandboxClient",
    "SandboxServer",
    "UsageError",
    "UserHandle",
    "WaitTimeout",
    "tiny_jpeg",
    "tiny_png",
]
