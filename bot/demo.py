"""`repairbot demo`: the real bot, offline, against the sandbox Bot API stand-in.

It starts the stand-in on 127.0.0.1, a throw-away SQLite database with a sample campus,
an on-duty technician, and the bot itself; plays one repair from a QR scan to a rating;
prints what every chat saw; and then (unless --once) keeps running so the stand-in's
HTTP endpoints (/_sandbox/...) can drive more users.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from pathlib import Path

from bot.app import build_application
from bot.settings import Settings
from sandbox.server import SandboxServer
from store.db import create_engine
from store.deeplink import room_payload
from store.lifecycle import Role
from store.migrate import upgrade
from store.services import people, places, work
from store.services.location_csv import parse_locations_csv
from store.uow import Store

BUILT_IN_CAMPUS = """campus,building,floor,room,code
East,E1 Dorm,1,101,E1-101
East,E1 Dorm,1,102,E1-102
East,E1 Dorm,2,201,E1-201
West,Library,1,Hall,WLIB-1-H
"""
TECH_ID, STUDENT_ID = 2001, 1001


def _campus_csv() -> str:
    """examples/campus.csv from a checkout, else a small built-in campus."""
    for base in (Path.cwd(), Path(__file__).resolve().parents[1]):
        sample = base / "examples" / "campus.csv"
        if sample.is_file():
            return sample.read_text(encoding="utf-8-sig")
    return BUILT_IN_CAMPUS


async def _scenario(server: SandboxServer, store: Store, code: str) -> None:
    """One repair from a QR scan to a five-star rating."""
    sandbox = server.client
    tech = sandbox.user(TECH_ID, "Tom", language_code="en")
    await tech.command("start")
    await tech.next_message(timeout=10)
    student = sandbox.user(STUDENT_ID, "Alice", language_code="en")
    await student.command("start", room_payload(code))
    step = await student.expect(text_contains="What kind of problem", timeout=10)
    await student.press(step, "🚰 Water & plumbing")
    await student.wait_for_edit(step, timeout=10)
    await student.send("The tap in the bathroom drips all night.")
    await student.expect(text_contains="Send up to", timeout=10)
    await student.send_photo()
    added = await student.expect(text_contains="added", timeout=10)
    await student.press(added, "Done ✅")
    urgency = await student.wait_for_edit(added, lambda m: "How urgent" in m.body, timeout=10)
    await student.press(urgency, "Normal")
    await student.expect(text_contains="Share a phone number", timeout=10)
    await student.share_contact("+8613800000000")
    summary = await student.expect(text_contains="Please check your report", timeout=10)
    await student.press(summary, "✅ Confirm")
    offer = await tech.expect(has_buttons=["✅ Accept"], timeout=10)
    await tech.press(offer, "✅ Accept")
    await student.expect(text_contains="took your job", timeout=10)
    jobs = await people.get_person_view(store.uow(), await _person_id(store, TECH_ID))
    mine = await _only_job(store, jobs.id)
    await work.start(store.uow(), mine, jobs.id)
    await work.complete(store.uow(), mine, jobs.id)
    done = await student.expect(text_contains="is done", timeout=10)
    await student.press(done, "5★")
    await student.expect(text_contains="Add a comment", timeout=10)
    await student.send("Fixed in ten minutes, thank you!")
    await student.expect(text_contains="comment was saved", timeout=10)


async def _person_id(store: Store, telegram_id: int) -> int:
    view = await people.person_by_telegram_id(store.uow(), telegram_id)
    assert view is not None
    return view.id


async def _only_job(store: Store, technician_id: int) -> int:
    from store.services.queries import technician_jobs

    jobs = await technician_jobs(store.uow(), technician_id)
    return jobs[0].id


async def run_demo(settings: Settings, *, port: int, once: bool) -> str:
    """Run the demo; returns the transcript of the scripted repair."""
    server = SandboxServer(port=port, default_timeout=10.0)
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
            }
        )
        await upgrade(url)
        store = Store(create_engine(url), demo.policy())
        await places.import_locations(store.uow(), parse_locations_csv(_campus_csv()))
        await places.sync_categories(store.uow(), store.policy)
        rooms = parse_locations_csv(_campus_csv())
        building = await places.building_by_name(store.uow(), rooms[0].building, rooms[0].campus)
        await people.add_staff(
            store.uow(), TECH_ID, Role.TECHNICIAN, name="Tom", building_ids=[building.id]
        )
        await people.set_duty(store.uow(), await _person_id(store, TECH_ID), True)
        app = build_application(demo, store, sender_poll_interval=0.2, per_chat_interval=0.1)
        await app.initialize()
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            await _scenario(server, store, rooms[0].code)
            transcript = server.transcript()
            print(transcript, flush=True)
            if not once:
                print(
                    f"\nThe stand-in keeps running: open {server.url}/_sandbox/chat in a "
                    f"browser to play Alice ({STUDENT_ID}) or Tom ({TECH_ID}). "
                    "Press Ctrl-C to stop.",
                    flush=True,
                )
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.Event().wait()
            return transcript
        finally:
            await app.updater.stop()
            await app.stop()
            await app.shutdown()
            if app.post_shutdown is not None:
                await app.post_shutdown(app)
            await store.dispose()
            await server.stop()
