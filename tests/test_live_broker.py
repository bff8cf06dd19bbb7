"""The live class's broker contract, one suite run against the in-process broker and against
Redis (a real redis-server started by the ``redis_url`` fixture; see conftest.py)."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import pytest
from event_loop import run_async

from app.live import broker as broker_module

pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")

TTL = 60.0
META = {"token": "digest", "started": "1"}
STATE = {"step": 0, "page": None, "pin": None}


def run(make, scenario):
    async def main():
        broker = make()
        try:
            await scenario(broker)
        finally:
            await broker.aclose()
    run_async(main())


async def drain(sub, until_seq=None, n=None, timeout=5.0) -> list[dict]:
    """Events from ``sub`` until one carries ``until_seq`` or ``n`` have come."""
    got = []
    while True:
        event = await sub.get(timeout)
        assert event is not None, f"no event within {timeout} s after {got[-3:]}"
        got.append(event)
        if (until_seq is not None and event["seq"] == until_seq) or len(got) == n:
            return got


def test_create_read_update_and_versions(make_broker):
    async def scenario(b):
        assert await b.create("AAAAAAAAA", META, STATE, TTL)
        assert not await b.create("AAAAAAAAA", {"token": "other"}, {}, TTL)  # code taken
        assert await b.meta("AAAAAAAAA") == META
        assert await b.state("AAAAAAAAA") == (0, STATE)
        assert await b.meta("BBBBBBBBB") is None and await b.state("BBBBBBBBB") is None
        assert await b.update("BBBBBBBBB", {"step": 1}, TTL) is None  # no such class
        assert await b.update("AAAAAAAAA", {"step": 4}, TTL) == 1
        assert await b.update("AAAAAAAAA", {"pin": {"kind": "input", "m": 0, "p": [1, 2]},
                                            "query": "stride=2&pad=1"}, TTL) == 2
        seq, state = await b.state("AAAAAAAAA")
        assert seq == 2
        assert state == {"step": 4, "page": None, "pin": {"kind": "input", "m": 0, "p": [1, 2]},
                         "query": "stride=2&pad=1"}
        assert await b.set_meta("AAAAAAAAA", {"qid": 1, "qopen": 1}, TTL)
        assert (await b.meta("AAAAAAAAA"))["qid"] == "1"  # private fields are strings
        assert not await b.set_meta("BBBBBBBBB", {"qid": 1}, TTL)
    run(make_broker, scenario)


def test_subscriber_sees_every_patch_in_order_and_only_its_class(make_broker):
    async def scenario(b):
        await b.create("AAAAAAAAA", META, STATE, TTL)
        await b.create("CCCCCCCCC", META, STATE, TTL)
        async with b.subscribe("AAAAAAAAA") as sub, b.subscribe("CCCCCCCCC") as other:
            start, _ = await b.state("AAAAAAAAA")

            async def teacher(offset):
                for i in range(50):
                    await b.update("AAAAAAAAA", {"step": offset + i}, TTL)

            await asyncio.gather(teacher(0), teacher(1000), teacher(2000), teacher(3000))
            await b.publish("AAAAAAAAA", "answers", {"count": 3})
            await b.publish("AAAAAAAAA", "notice", {"x": 1}, to="all")
            events = await drain(sub, n=202)
            patches = [e for e in events if e["event"] == "patch"]
            assert [e["seq"] for e in patches] == list(range(start + 1, start + 201))
            final_seq, final = await b.state("AAAAAAAAA")
            assert final_seq == start + 200 and final["step"] == patches[-1]["data"]["step"]
            assert events[-2:] == [
                {"event": "answers", "seq": None, "to": "teacher", "data": {"count": 3}},
                {"event": "notice", "seq": None, "to": "all", "data": {"x": 1}}]
            assert await other.get(0.2) is None  # nothing crossed to the other class
    run(make_broker, scenario)


def test_two_replicas_share_state_and_events(make_broker):
    async def scenario(first):
        second = make_broker()  # another replica (the same broker in one process)
        try:
            await first.create("DDDDDDDDD", META, STATE, TTL)
            async with second.subscribe("DDDDDDDDD") as sub:
                seq = await first.update("DDDDDDDDD", {"step": 7}, TTL)
                (event,) = await drain(sub, until_seq=seq)
                assert event["data"] == {"step": 7}
                assert (await second.state("DDDDDDDDD"))[1]["step"] == 7
        finally:
            if second is not first:
                await second.aclose()
    run(make_broker, scenario)


def test_idle_classes_expire_and_activity_renews_them(make_broker):
    async def scenario(b):
        ttl = 1.0
        await b.create("EEEEEEEEE", META, STATE, ttl)
        await b.join("EEEEEEEEE", "s" * 16, {"seen": 1}, 10, ttl)
        await asyncio.sleep(0.6)
        assert await b.update("EEEEEEEEE", {"step": 1}, ttl) == 1  # renews every key
        await asyncio.sleep(0.6)  # 1.2 s after creation: alive thanks to the update
        assert await b.meta("EEEEEEEEE") is not None
        assert list(await b.students("EEEEEEEEE")) == ["s" * 16]
        await asyncio.sleep(1.3)
        assert await b.meta("EEEEEEEEE") is None and await b.state("EEEEEEEEE") is None
        assert await b.students("EEEEEEEEE") == {}
        assert await b.join("EEEEEEEEE", "t" * 16, {}, 10, ttl) == "gone"
    run(make_broker, scenario)


def test_students_join_up_to_the_limit_and_records_merge(make_broker):
    async def scenario(b):
        await b.create("FFFFFFFFF", META, STATE, TTL)
        ids = [f"{i:016d}" for i in range(3)]
        for sid in ids:
            assert await b.join("FFFFFFFFF", sid, {"seen": 1.5, "page": None}, 3, TTL) == "ok"
        assert await b.join("FFFFFFFFF", "x" * 16, {"seen": 1.5}, 3, TTL) == "full"
        assert await b.join("FFFFFFFFF", ids[0], {"seen": 2.5, "page": None}, 3, TTL) == "ok"
        assert await b.join("GGGGGGGGG", ids[0], {}, 3, TTL) == "gone"
        assert await b.see("FFFFFFFFF", ids[1], {"page": "explorer_2d", "query": "stride=2"})
        assert await b.see("FFFFFFFFF", ids[1], {"seen": 9.25})
        assert not await b.see("FFFFFFFFF", "y" * 16, {"seen": 9.0})
        records = await b.students("FFFFFFFFF")
        assert records[ids[1]] == {"seen": 9.25, "page": "explorer_2d", "query": "stride=2"}
        assert records[ids[0]] == {"seen": 2.5, "page": None}
        await b.forget("FFFFFFFFF", [ids[0], ids[2]])
        assert list(await b.students("FFFFFFFFF")) == [ids[1]]
        assert await b.join("FFFFFFFFF", "x" * 16, {"seen": 1}, 3, TTL) == "ok"  # room again
    run(make_broker, scenario)


def test_answers_are_counted_exactly(make_broker):
    async def scenario(b):
        code = "HHHHHHHHH"
        await b.create(code, META, STATE, TTL)
        students = [f"{i:016d}" for i in range(60)]
        for sid in students:
            await b.join(code, sid, {"seen": 1}, 100, TTL)
        assert await b.answer(code, 1, students[0], "7×7", TTL) == "closed"  # none asked
        await b.set_meta(code, {"qid": 1, "qopen": 1}, TTL, clear_answers=True)
        rng = random.Random(16)
        first = {sid: rng.choice(["7×7", "8×8", "6×6"]) for sid in students}
        changed = {sid: rng.choice(["7×7", "9×9"]) for sid in students[::3]}

        async def student(sid):
            await b.answer(code, 1, sid, first[sid], TTL)
            if sid in changed:  # a new answer replaces the last one
                await b.answer(code, 1, sid, changed[sid], TTL)

        await asyncio.gather(*(student(s) for s in students))
        final = {**first, **changed}
        expect = {k: list(final.values()).count(k) for k in set(final.values())}
        assert await b.counts(code) == expect and sum(expect.values()) == 60
        again = await b.answer(code, 1, students[1], final[students[1]], TTL)  # same again
        assert again == expect
        assert await b.answer(code, 2, students[0], "7×7", TTL) == "closed"  # not the open one
        assert await b.answer(code, 1, "z" * 16, "7×7", TTL) == "unknown"
        assert await b.answer("JJJJJJJJJ", 1, students[0], "7×7", TTL) == "gone"
        await b.set_meta(code, {"qopen": 0}, TTL)
        assert await b.answer(code, 1, students[0], "1×1", TTL) == "closed"
        assert await b.counts(code) == expect  # closing keeps the counts for the reveal
        await b.set_meta(code, {"qid": 2, "qopen": 1}, TTL, clear_answers=True)
        assert await b.counts(code) == {}
        assert await b.answer(code, 2, students[0], "5×5", TTL) == {"5×5": 1}
    run(make_broker, scenario)


def test_rate_windows_count_each_key_apart(make_broker):
    async def scenario(b):
        key = f"k{random.random()}"
        await asyncio.sleep(30 - time.time() % 30 + 0.01 if time.time() % 30 > 29 else 0)
        hits = [await b.hit(key, 5, 30.0) for _ in range(8)]
        assert hits == [True] * 5 + [False] * 3
        assert await b.hit(key + "other", 5, 30.0)
        short = f"s{random.random()}"
        await asyncio.sleep(0.5 - time.time() % 0.5 + 0.01)  # both hits in one window
        assert [await b.hit(short, 1, 0.5) for _ in range(2)] == [True, False]
        await asyncio.sleep(0.55)  # a new window
        assert await b.hit(short, 1, 0.5)
    run(make_broker, scenario)


def test_end_reaches_subscribers_and_deletes_the_class(make_broker):
    async def scenario(b):
        await b.create("KKKKKKKKK", META, STATE, TTL)
        await b.join("KKKKKKKKK", "s" * 16, {"seen": 1}, 10, TTL)
        async with b.subscribe("KKKKKKKKK") as sub:
            await b.end("KKKKKKKKK")
            (event,) = await drain(sub, n=1)
            assert event["event"] == "end" and event["data"] == {"reason": "ended"}
        assert await b.meta("KKKKKKKKK") is None and await b.students("KKKKKKKKK") == {}
        assert await b.create("KKKKKKKKK", META, STATE, TTL)  # the code is free again
        assert await b.students("KKKKKKKKK") == {}
    run(make_broker, scenario)


def test_a_slow_subscriber_is_told_it_lost_events(make_broker, monkeypatch):
    monkeypatch.setattr(broker_module, "QUEUE_LIMIT", 5)

    async def scenario(b):
        await b.create("LLLLLLLLL", META, STATE, TTL)
        async with b.subscribe("LLLLLLLLL") as sub:
            for i in range(12):
                last = await b.update("LLLLLLLLL", {"step": i}, TTL)
            await asyncio.sleep(0.3)  # let everything arrive (and overflow)
            assert (await sub.get(1.0))["event"] == "lost"
            seq = await b.update("LLLLLLLLL", {"step": 99}, TTL)
            assert seq == last + 1
            (event,) = await drain(sub, n=1)
            assert event["seq"] == seq  # events after the loss arrive again
    run(make_broker, scenario)


def test_redis_pubsub_loss_is_reported_and_recovered(redis_url):
    """A dropped pub/sub connection (killed on the server) makes every stream of the replica
    resynchronize, and events flow again after the reconnect."""
    import redis

    from app.live.redis_broker import RedisBroker

    async def scenario():
        b = RedisBroker(redis_url, prefix="tkill")
        try:
            await b.create("MMMMMMMMM", META, STATE, TTL)
            async with b.subscribe("MMMMMMMMM") as sub:
                admin = redis.Redis.from_url(redis_url)
                killed = await asyncio.to_thread(admin.client_kill_filter, _type="pubsub")
                admin.close()
                assert killed >= 1
                assert (await sub.get(5.0))["event"] == "lost"
                await asyncio.wait_for(b.ready.wait(), 5)
                seq = await b.update("MMMMMMMMM", {"step": 3}, TTL)
                (event,) = await drain(sub, until_seq=seq)
                assert event["data"] == {"step": 3}
        finally:
            await b.aclose()
    run_async(scenario())


def test_missing_redis_skips_here_and_fails_in_ci(monkeypatch, redis_probe):
    monkeypatch.setattr(redis_probe, "find", lambda: None)
    monkeypatch.setattr(redis_probe, "require", False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install redis-server"):
        redis_probe.or_skip()
    monkeypatch.setattr(redis_probe, "require", True)
    with pytest.raises(pytest.fail.Exception, match="CONVCORE_REQUIRE_REDIS=1 requires them"):
        redis_probe.or_skip()
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "missing+=(redis-server)" in ci and "export CONVCORE_REQUIRE_REDIS=1" in ci
