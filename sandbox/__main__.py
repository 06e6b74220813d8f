"""Run the stand-in alone: python -m sandbox --port N [--token T]."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from sandbox.server import SandboxServer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--port", type=int, default=8081, help="port on 127.0.0.1 (0 = any)")
    parser.add_argument("--token", default=None, help="bot token to accept (default: random)")
    parser.add_argument("--rate-limits", action="store_true", help="enforce flood limits")
    parser.add_argument("--bot-username", default="sandbox_bot")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    """Start the server, print its URLs and run until interrupted."""
    server = SandboxServer(
        args.token, port=args.port, rate_limits=args.rate_limits, bot_username=args.bot_username
    )
    async with server:
        print(f"Telegram Bot API stand-in on {server.url}", flush=True)
        print(f"  token:         {server.token}", flush=True)
        print(f"  base_url:      {server.base_url}", flush=True)
        print(f"  base_file_url: {server.base_file_url}", flush=True)
        print(
            f"  controls:      {server.url}/_sandbox/ (chat: /_sandbox/chat, "
            "transcript: /_sandbox/transcript)",
            flush=True,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
