"""fetch.memory_budget: bodies past their share take turns; one body over half the budget is refused."""

from __future__ import annotations

import asyncio

import pytest

from harvester.memory import MemoryBudget, OverBudget

MB = 1024 * 1024


def test_a_body_past_its_share_waits_for_the_large_body_before_it_to_be_read() -> None:
    async def scenario() -> list[str]:
        budget = MemoryBudget(4 * MB, concurrency=2)  # largest 2 MB, share 1 MB
        first, second = budget.lease(), budget.lease()
        await first.grow(MB + 1)  # past its share: takes the large-body slot
        await second.grow(MB // 2)  # within its share: no wait
        events = []

        async def grow_second() -> None:
            await second.grow(MB // 2 + 1)  # past its share too: waits for the slot
            events.append("second grew")

        waiting = asyncio.create_task(grow_second())
        await asyncio.sleep(0.05)
        events.append("first read")
        first.read()  # keeps its bytes, frees the slot
        await asyncio.wait_for(waiting, 1)
        assert budget.used == first.held + second.held == 2 * MB + 2
        first.release()
        second.release()
        assert budget.used == 0
        return events

    assert asyncio.run(scenario()) == ["first read", "second grew"]


def test_a_full_budget_holds_new_bytes_until_a_page_is_released() -> None:
    async def scenario() -> None:
        budget = MemoryBudget(2 * MB, concurrency=8)  # shares of 256 KiB
        held = [budget.lease() for _ in range(8)]
        for lease in held:
            await asyncio.wait_for(lease.grow(MB // 4), 1)  # the budget is full
        late = budget.lease()
        waiting = asyncio.create_task(late.grow(1))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        held[0].release()
        await asyncio.wait_for(waiting, 1)
        assert budget.used == 7 * (MB // 4) + 1 <= budget.total

    asyncio.run(scenario())


def test_one_body_over_half_the_budget_is_refused() -> None:
    async def scenario() -> None:
        lease = MemoryBudget(4 * MB, concurrency=1).lease()
        await lease.grow(2 * MB)
        with pytest.raises(OverBudget):
            await lease.grow(1)

    asyncio.run(scenario())
