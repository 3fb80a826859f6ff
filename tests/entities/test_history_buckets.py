"""History in equal buckets: what each bucket keeps, and states that are not numbers."""

from __future__ import annotations

import pytest

from hub.core.database import Database
from hub.core.errors import BadRequestError
from hub.entities.history import History
from hub.entities.history_buckets import Bucket
from hub.entities.service import EntityNotFoundError
from tests.entities.test_history import CONFIG, add_entity, add_history, db  # noqa: F401

pytestmark = pytest.mark.usefixtures("no_lingering_tasks")


async def test_each_bucket_keeps_its_last_state_and_the_range_of_its_numbers(db: Database) -> None:  # noqa: F811
    sensor = await add_entity(db)
    await add_history(
        db,
        [
            (sensor, 5, 90.0),  # before the range: the state that held at its start
            (sensor, 10, 100.0),
            (sensor, "30", 110.0),  # a number in a string counts in no range
            (sensor, 2.5, 120.0),
            (sensor, float("nan"), 130.0),  # json.dumps writes NaN: no chart can place it
            (sensor, "on", 150.0),
            (sensor, None, 160.0),
            (sensor, -4, 200.0),  # exactly at the end: the last bucket, not one past it
        ],
    )
    buckets, before = await History(db, CONFIG).summary(sensor, 100.0, 200.0, 2)
    assert before == (90.0, 5)
    assert buckets == [
        Bucket(100.0, 150.0, 4, 130.0, None, 2.5, 10.0, 6.25),
        Bucket(150.0, 200.0, 3, 200.0, -4, -4.0, -4.0, -4.0),
    ]
    assert buckets[1].as_dict(str)["state"] == -4
    assert "min" not in Bucket(0.0, 1.0, 1, 0.5, "on", None, None, None).as_dict(str)


async def test_an_empty_range_has_no_buckets_and_bad_counts_are_refused(db: Database) -> None:  # noqa: F811
    sensor = await add_entity(db)
    history = History(db, CONFIG)
    assert await history.summary(sensor, 0.0, 10.0, 5) == ([], None)
    for count in (0, 1001):
        with pytest.raises(BadRequestError):
            await history.summary(sensor, 0.0, 10.0, count)
    with pytest.raises(EntityNotFoundError):
        await history.summary(sensor + 1, 0.0, 10.0, 5)
