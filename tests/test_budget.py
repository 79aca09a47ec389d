"""The byte budget: reservations beyond it wait their turn, first come, first served."""

from __future__ import annotations

import asyncio

from rewriteproxy.budget import ByteBudget


async def test_the_budget_makes_requests_beyond_it_wait_in_order():
    budget = ByteBudget(100)
    assert await budget.acquire(60) == 60
    order: list[str] = []

    async def take(name: str, size: int) -> None:
        await budget.acquire(size)
        order.append(name)

    first = asyncio.create_task(take("first", 50))
    second = asyncio.create_task(take("second", 10))  # would fit, but waits its turn
    await asyncio.sleep(0)
    assert order == [] and budget.would_wait(1)
    budget.release(60)
    await asyncio.gather(first, second)
    assert order == ["first", "second"] and budget.used == 60


async def test_a_reservation_that_fits_is_taken_at_once_and_one_that_does_not_is_refused():
    budget = ByteBudget(100)
    assert budget.try_acquire(60) == 60
    assert budget.try_acquire(50) is None and budget.used == 60
    waiting = asyncio.create_task(budget.acquire(50))
    await asyncio.sleep(0)
    assert budget.try_acquire(10) is None  # would fit, but someone is waiting first
    budget.release(60)
    assert await waiting == 50 and budget.used == 50


async def test_a_request_bigger_than_the_whole_budget_gets_all_of_it_alone():
    budget = ByteBudget(100)
    assert await budget.acquire(10_000) == 100
    budget.release(100)
    assert budget.used == 0


async def test_a_cancelled_waiter_gives_its_place_to_the_next():
    budget = ByteBudget(100)
    await budget.acquire(100)
    waiting = asyncio.create_task(budget.acquire(80))
    behind = asyncio.create_task(budget.acquire(20))
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.sleep(0)
    budget.release(100)
    assert await behind == 20
    assert budget.used == 20
