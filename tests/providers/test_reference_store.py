"""ReferenceStore: one upsert per put, merging top-level fields in the database."""

import asyncio

from kessai.providers.store import ReferenceStore, known_reference
from tests.factories import make_method


async def store_for(services) -> ReferenceStore:
    method = await make_method(services)
    return ReferenceStore(services.sessions, services.clock, method.account_id)


async def test_put_merges_top_level_fields(services):
    store = await store_for(services)
    assert await store.get("R-1") is None

    await store.put("R-1", access_id="a1", nested={"x": None, "y": [1, 2]}, tds2=True)
    await store.put("R-1", access_id="a2", amount=5500, note=None)
    await store.put("R-1", nested={"z": "日本"})

    assert await store.get("R-1") == {
        "access_id": "a2",
        "amount": 5500,
        "note": None,
        "tds2": True,
        "nested": {"z": "日本"},  # replaced whole, as {**old, **new} does
    }


async def test_concurrent_puts_on_one_reference_keep_every_field(services):
    store = await store_for(services)

    await asyncio.gather(*(store.put("R-2", **{f"k{i}": i}) for i in range(12)))

    assert await store.get("R-2") == {f"k{i}": i for i in range(12)}


async def test_references_are_per_account(services):
    first, second = await store_for(services), await store_for(services)
    await first.put("R-3", access_id="first")
    await second.put("R-3", access_id="second")
    assert (await first.get("R-3"), await second.get("R-3")) == (
        {"access_id": "first"},
        {"access_id": "second"},
    )


async def test_a_known_reference_is_answered_without_the_database_and_kept_current(services):
    store = await store_for(services)
    await store.put("R-4", access_id="stored")

    with known_reference(store.account_id, "R-4", {"access_id": "claimed"}):
        assert await store.get("R-4") == {"access_id": "claimed"}
        await store.put("R-4", access_pass="p")
        assert await store.get("R-4") == {"access_id": "claimed", "access_pass": "p"}
        assert await store.get("R-5") is None  # any other reference: the database
        with known_reference(store.account_id + 1, "R-4", None):
            assert await store.get("R-4") == {"access_id": "stored", "access_pass": "p"}

    # Outside the block, and in the database all along: the put went through.
    assert await store.get("R-4") == {"access_id": "stored", "access_pass": "p"}
