"""`repairbot demo`: the real bot, offline, against the sandbox Bot API stand-in.

It starts the stand-in on 127.0.0.1, a throw-away SQLite database with a sample campus,
an on-duty technician, and the bot itself; plays one repair from a QR scan to a rating;
prints what every chat saw, each chat in the order things reached it; and then (unless
--once) keeps running so the stand-in's HTTP endpoints (/_sandbox/...) can drive more
users. With --once nothing it prints points at an address that closed with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.app import build_application
from bot.settings import Settings
from sandbox.handles import UserHandle
from sandbox.server import SandboxServer
from sandbox.views import BotMessage
from store.db import create_engine
from store.deeplink import room_payload
from store.directory import places
from store.directory.categories import sync_categories
from store.directory.location_csv import LocationRow, parse_locations_csv
from store.directory.staff import add_staff, set_duty
from store.lifecycle import Role
from store.migrate import upgrade
from store.uow import Store

BUILT_IN_CAMPUS = """campus,building,floor,room,code
East,E1 Dorm,1,101,E1-101
East,E1 Dorm,1,102,E1-102
East,E1 Dorm,2,201,E1-201
West,Library,1,Hall,WLIB-1-H
"""
TICKET_NUMBER = re.compile(r"\d{4}-\d{6}")
STEP = 15.0  # seconds any one reply may take before the demo calls the step failed


@dataclass(frozen=True)
class Persona:
    """Someone the demo plays: their Telegram id, name, role and scope."""

    telegram_id: int
    name: str
    role: Role | None
    campus: str | None = None  # staff scope; None covers every building
    on_duty: bool = False

    def describe(self) -> str:
        """`Tom (2001): technician, East` for the closing lines."""
        role = self.role.value if self.role else "requester"
        where = f", {self.campus}" if self.campus else (", every building" if self.role else "")
        return f"{self.name} ({self.telegram_id}): {role}{where}"


STUDENT_ID, TECH_ID = 1001, 2001


def personas(campuses: list[str]) -> list[Persona]:
    """A requester, a resident with a hard repair, a technician per campus, a dispatcher,
    a supervisor and an inspector: every building has someone to take its jobs."""
    people = [Persona(STUDENT_ID, "Alice", None), Persona(1002, "Bob", None)]
    names = ["Tom", "Wendy", "Chen", "Dora", "Eli", "Fay"]
    for i, campus in enumerate(campuses):
        name = names[i] if i < len(names) else f"Tech{i + 1}"
        people.append(Persona(TECH_ID + i, name, Role.TECHNICIAN, campus, on_duty=True))
    people += [
        Persona(3001, "Dana", Role.DISPATCHER),
        Persona(3002, "Sam", Role.SUPERVISOR),
        Persona(3003, "Ivy", Role.INSPECTOR),
    ]
    return people


def _campus_csv() -> str:
    """examples/campus.csv from a checkout, else a small built-in campus."""
    for base in (Path.cwd(), Path(__file__).resolve().parents[1]):
        sample = base / "examples" / "campus.csv"
        if sample.is_file():
            return sample.read_text(encoding="utf-8-sig")
    return BUILT_IN_CAMPUS


async def _report(
    user: UserHandle, code: str, category: str, text: str, *, phone: str | None
) -> str:
    """A whole report from a QR scan: the category, one photo with `text` as its caption,
    the phone (when given), Submit; returns the ticket number."""
    await user.command("start", room_payload(code))
    step = await user.expect(text_contains="What kind of problem", timeout=STEP)
    await user.press(step, category)
    await user.wait_for_edit(step, timeout=STEP)
    await user.send_photo(caption=text)
    summary = await user.expect(text_contains="Please check your report", timeout=STEP)
    if phone is not None and "📱 Add a phone number" in summary.button_texts:
        await user.press(summary, "📱 Add a phone number")
        await user.expect(text_contains="phone number", timeout=STEP)
        await user.share_contact(phone)
        summary = await user.expect(text_contains="Please check your report", timeout=STEP)
    await user.press(summary, "✅ Submit")
    received = await user.expect(text_contains="received", timeout=STEP)
    found = TICKET_NUMBER.search(received.body)
    if found is None:
        raise DemoStepFailed(f"no ticket number in {received.body!r}")
    return found.group()


async def _accept(tech: UserHandle, number: str) -> BotMessage:
    """The technician accepts the offer; returns the job card that follows it."""
    offer = await tech.next_message(
        lambda m: number in m.body and "✅ Accept" in m.button_texts, timeout=STEP
    )
    await tech.press(offer, "✅ Accept")
    return await tech.expect(text_contains=f"{number} is yours", timeout=STEP)


async def _scenario(
    server: SandboxServer, cast: dict[str, UserHandle], rooms: list[str], today: date
) -> None:
    """A day of the office (`today`, the campus's local date): an easy repair start to
    finish, a hard one deferred, and the supervisor's figures. Everything happens through
    the chats."""
    alice, bob, tom, wendy, sam = (cast[n] for n in ("Alice", "Bob", "Tom", "Wendy", "Sam"))
    for user in cast.values():
        await user.command("start")
        await user.expect(text_contains="What would you like to do", timeout=STEP)

    # 1. Alice scans the QR sticker in her room and reports a dripping tap with a photo.
    number = await _report(
        alice,
        rooms[0],
        "🚰 Water & plumbing",
        "The tap in the bathroom drips all night.",
        phone="+8613800000000",
    )
    # Everyone acts once what reached them was read: Alice hears her report is offered
    # before Tom takes it (the transcript shows each chat in the order things reached it).
    await alice.expect(text_contains="offered to", timeout=STEP)
    # 2. Tom, on duty for her campus, accepts; the job card comes with its next steps.
    card = await _accept(tom, number)
    await alice.expect(text_contains="took your job", timeout=STEP)
    # 3. He proposes a visit time; Alice agrees.
    await tom.press(card, "🕒 Propose a visit time")
    slots = await tom.wait_for_edit(card, lambda m: "When can you come" in m.body, timeout=STEP)
    await tom.press(slots, slots.button_texts[0])
    proposal = await alice.expect(text_contains="proposes to come", timeout=STEP)
    await alice.press(proposal, "👍 That time works")
    await tom.expect(text_contains="accepted the visit", timeout=STEP)
    # 4. He starts, then completes with a photo of the result.
    await tom.command("jobs")
    listing = await tom.expect(text_contains="Your open jobs", timeout=STEP)
    await tom.press(listing, next(b for b in listing.button_texts if number in b))
    card = await tom.wait_for_edit(listing, timeout=STEP)
    await tom.press(card, "▶️ Start work")
    card = await tom.wait_for_edit(card, lambda m: "In progress" in m.body, timeout=STEP)
    await alice.expect(text_contains="work has started", timeout=STEP)
    await tom.press(card, "✅ Complete")
    await tom.wait_for_edit(card, lambda m: "Send a photo" in m.body, timeout=STEP)
    await tom.send_photo()
    await tom.expect(text_contains="is completed", timeout=STEP)
    # 5. Alice rates it and says thanks.
    done = await alice.expect(text_contains="is done", timeout=STEP)
    await alice.press(done, "5★")
    await alice.expect(text_contains="Add a comment", timeout=STEP)
    await alice.send("Fixed in ten minutes, thank you!")
    await alice.expect(text_contains="comment was saved", timeout=STEP)

    # 6. Bob, on the other campus, reports a broken radiator: a hard repair.
    hard = await _report(
        bob, rooms[1], "❄️ Air-con & heating", "The radiator is cold and leaks.", phone=None
    )
    await bob.expect(text_contains="offered to", timeout=STEP)
    card = await _accept(wendy, hard)
    await bob.expect(text_contains="took your job", timeout=STEP)
    await wendy.press(card, "▶️ Start work")
    card = await wendy.wait_for_edit(card, lambda m: "In progress" in m.body, timeout=STEP)
    await bob.expect(text_contains="work has started", timeout=STEP)
    await wendy.press(card, "📅 Needs more time")
    days = await wendy.wait_for_edit(card, lambda m: "By when" in m.body, timeout=STEP)
    await wendy.press(days, "+2 d")
    why = await wendy.wait_for_edit(
        days, lambda m: "Why does it need more time" in m.body, timeout=STEP
    )
    await wendy.press(why, "Parts to order")
    await wendy.expect(text_contains="is scheduled", timeout=STEP)
    await bob.expect(text_contains="needs more time", timeout=STEP)

    # 7. Sam, the supervisor, looks at the figures and the digest with its chart.
    await sam.command("stats")
    await sam.expect(text_contains="Office:", timeout=STEP)
    # The digest of the day just played (plain /digest is yesterday's, as the morning one).
    await sam.command("digest", "today")
    # (No scheduled one comes: the office had no ticket yesterday. A day played over
    # midnight shows the new day.)
    played = [f"Daily digest for {d.isoformat()}" for d in (today, today + timedelta(days=1))]
    await sam.next_message(
        lambda m: m.photo is not None and any(title in m.body for title in played),
        timeout=STEP,
    )
    # 8. And asks for the office board in his browser: a one-time sign-in link.
    await sam.command("board")
    await sam.expect(text_contains="/board/signin?token=", timeout=STEP)


class DemoStepFailed(RuntimeError):
    """A step of the scripted day did not happen as the chat should show it."""


def _first_rooms(rows: list[LocationRow]) -> tuple[list[str], list[str]]:
    """The campuses in file order, and the first room of each campus."""
    campuses: list[str] = []
    rooms: list[str] = []
    for row in rows:
        if row.campus not in campuses:
            campuses.append(row.campus)
            rooms.append(row.code)
    return campuses, rooms


async def _cast(
    store: Store, server: SandboxServer, rows: list[LocationRow]
) -> dict[str, UserHandle]:
    """Create every persona: staff rows scoped to their campus, Telegram users in the chat."""
    campuses, _ = _first_rooms(rows)
    cast: dict[str, UserHandle] = {}
    for persona in personas(campuses):
        if persona.role is not None:
            campus_id = None
            if persona.campus is not None:
                campus_id = (await places.campus_by_name(store.uow(), persona.campus)).id
            staff = await add_staff(
                store.uow(),
                persona.telegram_id,
                persona.role,
                name=persona.name,
                campus_id=campus_id,
            )
            if persona.on_duty:
                await set_duty(store.uow(), staff.person.id, True)
        cast[persona.name] = server.client.user(
            persona.telegram_id, persona.name, language_code="en"
        )
    return cast


def closing_lines(
    url: str, campuses: list[str], board: str | None = None, *, once: bool = False
) -> str:
    """Who is who, and where to play them (and see the office board) in a browser; with
    `once` no address (they close as the demo exits), but how to keep them open."""
    if once:
        lines = ["", "Who is who:"]
        lines += [f"  {persona.describe()}" for persona in personas(campuses)]
        lines.append(
            "The demo has stopped (--once). Run `repairbot demo` without --once to play "
            "them in a browser chat and to open the office board."
        )
        return "\n".join(lines)
    lines = ["", "Who is who (play any of them in the browser chat):"]
    lines += [f"  {persona.describe()}" for persona in personas(campuses)]
    lines.append(f"Browser chat: {url}/_sandbox/chat  (Ctrl-C stops the demo)")
    if board is not None:
        lines.append(
            f"Office board: {board}/board/  (play Sam, Dana or a technician and send /board "
            "for a one-time sign-in link)"
        )
    return "\n".join(lines)


CLOSED_LINK = "[link: closed with the demo]"


def without_addresses(transcript: str, bases: list[str]) -> str:
    """The transcript with every link to the demo's own servers (the board's one-time
    sign-in link) marked closed: after --once nothing answers there."""
    for base in bases:
        transcript = re.sub(re.escape(base) + r"\S*", CLOSED_LINK, transcript)
    return transcript


async def run_demo(
    settings: Settings,
    *,
    port: int,
    once: bool,
    after_play: Callable[[SandboxServer], None] | None = None,
) -> str:
    """Run the demo; returns the chat transcript of the scripted day as printed. Raises
    DemoStepFailed (or TimeoutError) when a step did not happen. `after_play` sees the
    stand-in once the day is played (tests read its chats)."""
    server = SandboxServer(port=port, default_timeout=STEP)
    await server.start()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/demo.db"
        demo = settings.model_copy(
            update={
                "telegram": settings.telegram.model_copy(
                    update={
                        "token": type(settings.telegram.token)(server.token),
                        "api_url": server.base_url,
                        "file_url": server.base_file_url,
                        "bot_username": "sandbox_bot",
                    }
                ),
                "database": settings.database.model_copy(update={"url": url}),
                # Any free port: a second demo, or a bot already on 8090, is no obstacle.
                "board": settings.board.model_copy(update={"port": 0, "public_url": ""}),
            }
        )
        await upgrade(url)
        store = Store(create_engine(url), demo.policy())
        rows = parse_locations_csv(_campus_csv())
        await places.import_locations(store.uow(), rows)
        await sync_categories(store.uow(), store.policy)
        campuses, rooms = _first_rooms(rows)
        cast = await _cast(store, server, rows)
        app = build_application(
            demo, store, sender_poll_interval=0.2, per_chat_interval=0.1, serve_board=True
        )
        await app.initialize()
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            today = store.clock().astimezone(ZoneInfo(demo.service.timezone)).date()
            played = rooms if len(rooms) > 1 else rooms * 2
            await _scenario(server, cast, played, today)
            if after_play is not None:
                after_play(server)
            board = app.bot_data.board.base_url() if app.bot_data.board else None
            transcript = server.chat_transcript()
            if once:
                bases = [server.url] + ([board] if board else [])
                transcript = without_addresses(transcript, bases)
            print(transcript, flush=True)
            print(closing_lines(server.url, campuses, board, once=once), flush=True)
            if not once:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.Event().wait()
            return transcript
        except (TimeoutError, DemoStepFailed):
            # Show how far the day got before saying which step failed.
            print(server.chat_transcript(), flush=True)
            raise
        finally:
            await app.updater.stop()
            await app.stop()
            await app.shutdown()
            if app.post_shutdown is not None:
                await app.post_shutdown(app)
            await store.dispose()
            await server.stop()
