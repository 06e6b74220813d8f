import time
from store.uow import Store
from tests.integration.ticket_world import make_env, file_ticket
from store.services import dispatch, work

async def test_prof(store: Store) -> None:
    t0 = time.perf_counter()
    env = await make_env(store)
    t1 = time.perf_counter()
    r = await file_ticket(env.store, env.world)
    t2 = time.perf_counter()
    await dispatch.accept(env.store.uow(), r.ticket.id, env.world.ann)
    t3 = time.perf_counter()
    await work.start(env.store.uow(), r.ticket.id, env.world.ann)
    t4 = time.perf_counter()
    print(f"\nworld {t1-t0:.3f} file {t2-t1:.3f} accept {t3-t2:.3f} start {t4-t3:.3f}")
