"""The broker on a Redis server, for classes whose students are spread over several replicas.

Each change is one Lua script (atomic on the server): the state patch, its version and the
PUBLISH of the patch go together, as do an answer and its count.  Keys carry the class's TTL
(``PEXPIRE``, renewed on activity).  Every replica holds one pub/sub connection subscribed to
the pattern of all classes' channels and fans events out to its own streams, so a replica
uses two Redis connections however many students it serves; when that connection drops, its
streams are told they lost events and read the state again.

Needs the ``redis`` package (redis-py) and a Redis server (Debian: ``redis-server``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from app.live.broker import LOST, Broker, BrokerUnavailableError, Subscription, encode

KEY_NAMES = ("meta", "state", "stu", "ans", "cnt")
READY_TIMEOUT_S = 5.0
RECONNECT_S = 0.5

_TOUCH = """
local function touch(ttl)
  for i = 1, #KEYS do redis.call('PEXPIRE', KEYS[i], ttl) end
end
"""
CREATE = _TOUCH + """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[3], KEYS[4], KEYS[5])
local n = tonumber(ARGV[2])
for i = 0, n - 1 do redis.call('HSET', KEYS[1], ARGV[3 + 2 * i], ARGV[4 + 2 * i]) end
redis.call('HSET', KEYS[2], '_seq', 0)
for i = 3 + 2 * n, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
touch(ARGV[1])
return 1
"""
UPDATE = _TOUCH + """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local seq = redis.call('HINCRBY', KEYS[2], '_seq', 1)
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
touch(ARGV[1])
redis.call('PUBLISH', ARGV[2],
           '{"event":"patch","seq":' .. seq .. ',"to":"all","data":' .. ARGV[3] .. '}')
return seq
"""
SET_META = _TOUCH + """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if ARGV[2] == '1' then redis.call('DEL', KEYS[4], KEYS[5]) end
touch(ARGV[1])
return 1
"""
JOIN = _TOUCH + """
if redis.call('EXISTS', KEYS[1]) == 0 then return 'gone' end
if redis.call('HEXISTS', KEYS[3], ARGV[3]) == 0
   and redis.call('HLEN', KEYS[3]) >= tonumber(ARGV[2]) then return 'full' end
redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
touch(ARGV[1])
return 'ok'
"""
SEE = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then return 0 end
local record = cjson.decode(old)
for k, v in pairs(cjson.decode(ARGV[2])) do record[k] = v end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(record))
return 1
"""
ANSWER = _TOUCH + """
if redis.call('EXISTS', KEYS[1]) == 0 then return 'gone' end
local q = redis.call('HMGET', KEYS[1], 'qid', 'qopen')
if q[1] ~= ARGV[2] or q[2] ~= '1' then return 'closed' end
if redis.call('HEXISTS', KEYS[3], ARGV[3]) == 0 then return 'unknown' end
local old = redis.call('HGET', KEYS[4], ARGV[3])
if old ~= ARGV[4] then
  redis.call('HSET', KEYS[4], ARGV[3], ARGV[4])
  if old and redis.call('HINCRBY', KEYS[5], old, -1) <= 0 then
    redis.call('HDEL', KEYS[5], old)
  end
  redis.call('HINCRBY', KEYS[5], ARGV[4], 1)
end
touch(ARGV[1])
return redis.call('HGETALL', KEYS[5])
"""
END = """
if redis.call('DEL', unpack(KEYS)) > 0 then redis.call('PUBLISH', ARGV[1], ARGV[2]) end
"""
HIT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"""


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _pairs(values: dict) -> list[str]:
    return [x for k, v in values.items() for x in (k, v)]


class RedisBroker(Broker):
    """The broker on the Redis server at ``url`` (``redis://host:port/db``).

    ``prefix`` separates apps (or test runs) sharing one server.  One instance serves one
    event loop (redis-py's asyncio connections belong to the loop that opened them).
    """

    name = "redis"
    errors = (BrokerUnavailableError, RedisError, OSError)

    def __init__(self, url: str, prefix: str = "cx"):
        self.url, self.prefix = url, prefix
        self.r = aioredis.from_url(url, decode_responses=True, socket_connect_timeout=2,
                                   health_check_interval=30)
        self.scripts = {name: self.r.register_script(text) for name, text in (
            ("create", CREATE), ("update", UPDATE), ("set_meta", SET_META), ("join", JOIN),
            ("see", SEE), ("answer", ANSWER), ("end", END), ("hit", HIT))}
        self.subs: dict[str, set[Subscription]] = {}
        self.ready = asyncio.Event()
        self.reader: asyncio.Task | None = None

    def keys(self, code: str) -> list[str]:
        return [f"{self.prefix}:{{{code}}}:{name}" for name in KEY_NAMES]

    def channel(self, code: str) -> str:
        return f"{self.prefix}ev:{code}"

    async def _run(self, name: str, code: str, args: list):
        return await self.scripts[name](keys=self.keys(code), args=args)

    async def create(self, code, meta, state, ttl_s):
        args = [_ms(ttl_s), len(meta), *_pairs({k: str(v) for k, v in meta.items()}),
                *_pairs({k: json.dumps(v) for k, v in state.items()})]
        return bool(await self._run("create", code, args))

    async def meta(self, code):
        values = await self.r.hgetall(self.keys(code)[0])
        return values or None

    async def set_meta(self, code, values, ttl_s, *, clear_answers=False):
        args = [_ms(ttl_s), "1" if clear_answers else "0",
                *_pairs({k: str(v) for k, v in values.items()})]
        return bool(await self._run("set_meta", code, args))

    async def state(self, code):
        values = await self.r.hgetall(self.keys(code)[1])
        if not values:
            return None
        seq = int(values.pop("_seq"))
        return seq, {k: json.loads(v) for k, v in values.items()}

    async def update(self, code, patch, ttl_s):
        args = [_ms(ttl_s), self.channel(code), json.dumps(patch, separators=(",", ":")),
                *_pairs({k: json.dumps(v) for k, v in patch.items()})]
        seq = await self._run("update", code, args)
        return None if seq < 0 else seq

    async def publish(self, code, event, data, to="teacher"):
        await self.r.publish(self.channel(code), encode(event, data, None, to))

    async def join(self, code, student, record, max_students, ttl_s):
        return await self._run("join", code, [_ms(ttl_s), max_students, student,
                                              json.dumps(record)])

    async def see(self, code, student, values):
        return bool(await self.scripts["see"](keys=[self.keys(code)[2]],
                                              args=[student, json.dumps(values)]))

    async def students(self, code):
        values = await self.r.hgetall(self.keys(code)[2])
        return {k: json.loads(v) for k, v in values.items()}

    async def forget(self, code, students):
        if students:
            await self.r.hdel(self.keys(code)[2], *students)

    async def answer(self, code, question, student, key, ttl_s):
        result = await self._run("answer", code, [_ms(ttl_s), str(question), student, key])
        if isinstance(result, str):
            return result
        return {result[i]: int(result[i + 1]) for i in range(0, len(result), 2)}

    async def counts(self, code):
        return {k: int(v) for k, v in (await self.r.hgetall(self.keys(code)[4])).items()}

    async def hit(self, key, limit, window_s):
        window = int(time.time() // window_s)
        n = await self.scripts["hit"](keys=[f"{self.prefix}:rl:{key}:{window}"],
                                      args=[_ms(window_s * 2)])
        return n <= limit

    async def end(self, code):
        await self._run("end", code, [self.channel(code), encode("end", {"reason": "ended"})])

    # ------------------------------------------------------------------ subscriptions

    @contextlib.asynccontextmanager
    async def subscribe(self, code):
        sub = Subscription()
        self.subs.setdefault(code, set()).add(sub)
        try:
            if self.reader is None or self.reader.done():
                self.reader = asyncio.create_task(self._read())
            try:
                await asyncio.wait_for(self.ready.wait(), READY_TIMEOUT_S)
            except TimeoutError:
                raise BrokerUnavailableError(f"no pub/sub connection to Redis at {self.url} "
                                        f"within {READY_TIMEOUT_S:g} s") from None
            yield sub
        finally:
            subs = self.subs.get(code, set())
            subs.discard(sub)
            if not subs:
                self.subs.pop(code, None)

    async def _read(self) -> None:
        """Fan every class's events out to this replica's subscriptions; reconnect on loss."""
        start = len(self.channel(""))
        while True:
            pubsub = self.r.pubsub()
            try:
                await pubsub.psubscribe(self.channel("*"))
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message is None:
                        continue
                    if message["type"] == "psubscribe":
                        self.ready.set()
                    elif message["type"] == "pmessage":
                        subs = self.subs.get(message["channel"][start:])
                        if subs:
                            event = json.loads(message["data"])
                            for sub in list(subs):
                                sub._put(event)
            except (RedisError, OSError):
                self.ready.clear()
                for subs in list(self.subs.values()):
                    for sub in list(subs):
                        sub._put(LOST)
                await asyncio.sleep(RECONNECT_S)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()

    async def aclose(self):
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, RedisError, OSError):
                await self.reader
        await self.r.aclose()
