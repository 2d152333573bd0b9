"""Risk feature state in Redis: velocity counters shared by every API worker.

Same semantics as `MemoryFeatureState` (see `risk_state`); one round trip per call:
`snapshot` is one non-transactional pipeline of reads, `record` one pipeline of writes
ending in a small Lua script for the read-modify-write parts (Welford statistics, first
payment to a payee, latest location), which Redis runs atomically, so concurrent workers
never lose an update or count a first-time payer twice.

Keys (all under `prefix`; the entity id comes last, so ids may contain ':'):
- `c:<kind>:<level>:<group>:<id>` hash, fields `c<bucket>` (count) and `s<bucket>` (sum
  of amounts, HINCRBY: money stays integer). A group holds one window's worth of buckets
  (`span`), so a window reads at most two groups per level; a group expires (wall clock)
  two windows plus an hour after its newest bucket was created. That is garbage
  collection only: windows are computed from the request's time, and a replay faster
  than real time merely keeps buckets longer.
- `u:<user>` hash: n, mean, m2 (floats as '%.17g', exact round trip), h0..h23, lat, lon,
  lts; `ud:`, `up:`, `um:<user>` sets of known devices, payees, merchants; `du:<device>`
  set of users seen on the device. These are all-time facts; they expire after
  `history_ttl` without writes.

The script touches several keys, so this store targets one Redis (or a primary with
replicas), not Redis Cluster.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Final

import redis
from redis.exceptions import NoScriptError

from guardpay.adapters.risk_state import (
    BUCKET_SECONDS,
    DECLINED,
    DEPTH,
    PAYEE_FIRST,
    SPAN,
    velocity_from_totals,
)
from guardpay.domain.risk.features import Probe, RiskEvent, StateSnapshot, epoch_seconds
from guardpay.domain.risk.schema import WINDOW_SECONDS, WINDOWS


def _lua_table(values: Iterable[int]) -> str:
    return "{" + ", ".join(map(str, values)) + "}"


_COMMON_LUA: Final = f"""
local SIZE = {_lua_table(BUCKET_SECONDS)}
local SPAN = {_lua_table(SPAN)}
local TTL = {_lua_table(2 * WINDOW_SECONDS[w] + 3_600 for w in WINDOWS)}
local ts = tonumber(ARGV[1])
"""

# Window totals computed where the buckets are (as `risk_state.window_totals` does).
# KEYS: group hashes in plan order. ARGV: ts, then per series its depth and, per level,
# how many group keys it has. Returns count, sum per series per level.
_SNAPSHOT_LUA: Final = (
    _COMMON_LUA
    + """
local out, ki, ai = {}, 1, 2
while ai <= #ARGV do
  local depth = tonumber(ARGV[ai]); ai = ai + 1
  local hc, hs = 0, 0
  for k = 1, depth do
    local now = math.floor(ts / SIZE[k])
    local lo, hi, mid = now - SPAN[k] + 1, now - 1, now
    if k < #SIZE then mid = math.floor(ts / SIZE[k + 1]) * (SIZE[k + 1] / SIZE[k]) end
    local fc, fs, pc, ps = 0, 0, 0, 0
    for _ = 1, tonumber(ARGV[ai]) do
      local h = redis.call('HGETALL', KEYS[ki]); ki = ki + 1
      for i = 1, #h, 2 do
        local b, v = tonumber(string.sub(h[i], 2)), tonumber(h[i + 1])
        local is_count = string.byte(h[i], 1) == 99
        if b >= lo and b <= hi then
          if is_count then fc = fc + v else fs = fs + v end
          if b >= mid then
            if is_count then pc = pc + v else ps = ps + v end
          end
        elseif k == 1 and b == now then
          if is_count then hc = hc + v else hs = hs + v end
        end
      end
    end
    ai = ai + 1
    out[#out + 1] = fc + hc
    out[#out + 1] = fs + hs
    hc, hs = hc + pc, hs + ps
  end
end
return out
"""
)

# One decided request. KEYS: 1 user hash, 2 user devices, 3 user payees, 4 user merchants,
# 5 device users, 6.. counter groups: 4 per velocity entity, then 2 declined or 3
# payee-first. ARGV: ts, accepted, money, amount, hour, user, device, payee, merchant,
# lat, lon, history ttl, number of velocity entities ('' = absent).
_RECORD_LUA: Final = (
    _COMMON_LUA
    + """
local user, ttl, amount = KEYS[1], ARGV[12], ARGV[4]
local function bump(first, depth, value)
  for k = 1, depth do
    local b = math.floor(ts / SIZE[k])
    local key = KEYS[first + k - 1]
    if redis.call('HINCRBY', key, 'c' .. b, 1) == 1 then redis.call('EXPIRE', key, TTL[k]) end
    redis.call('HINCRBY', key, 's' .. b, value)
  end
end
local function add(key, member)
  local added = redis.call('SADD', key, member)
  redis.call('EXPIRE', key, ttl)
  return added
end
if ARGV[7] ~= '' then add(KEYS[5], ARGV[6]) end
if ARGV[2] ~= '1' then
  bump(6, 2, 0)
  return 0
end
if ARGV[7] ~= '' then add(KEYS[2], ARGV[7]) end
if ARGV[3] == '1' then
  local entities = tonumber(ARGV[13])
  for i = 0, entities - 1 do bump(6 + 4 * i, 4, amount) end
  local x = tonumber(amount)
  local s = redis.call('HMGET', user, 'n', 'mean', 'm2')
  local n = (tonumber(s[1]) or 0) + 1
  local mean = tonumber(s[2]) or 0
  local m2 = tonumber(s[3]) or 0
  local delta = x - mean
  mean = mean + delta / n
  m2 = m2 + delta * (x - mean)
  redis.call('HSET', user, 'n', string.format('%d', n),
    'mean', string.format('%.17g', mean), 'm2', string.format('%.17g', m2))
  redis.call('HINCRBY', user, 'h' .. ARGV[5], 1)
  if ARGV[8] ~= '' and add(KEYS[3], ARGV[8]) == 1 then bump(6 + 4 * entities, 3, amount) end
  if ARGV[9] ~= '' then add(KEYS[4], ARGV[9]) end
end
if ARGV[10] ~= '' then
  local lts = tonumber(redis.call('HGET', user, 'lts'))
  if not lts or ts >= lts then
    redis.call('HSET', user, 'lat', ARGV[10], 'lon', ARGV[11], 'lts', ARGV[1])
  end
end
redis.call('EXPIRE', user, ttl)
return 1
"""
)
_SCRIPTS: Final = {
    hashlib.sha1(lua.encode()).hexdigest(): lua for lua in (_SNAPSHOT_LUA, _RECORD_LUA)
}
_SNAPSHOT_SHA, _RECORD_SHA = _SCRIPTS
_USER_FIELDS: Final = ("n", "mean", "m2", *(f"h{h}" for h in range(24)), "lat", "lon", "lts")
_BATCH: Final = 500


class RedisFeatureState:
    """`FeatureState` over Redis; `prefix` isolates deployments and tests."""

    def __init__(
        self, client: redis.Redis, prefix: str = "guardpay:risk", *, history_ttl: int = 400 * 86_400
    ) -> None:
        self._r = client
        self._p = prefix
        self._history_ttl = history_ttl

    # ---- reading

    def snapshot(self, req: Probe) -> StateSnapshot:
        return self.snapshot_many((req,))[0]

    def snapshot_many(self, probes: Sequence[Probe]) -> list[StateSnapshot]:
        """Every probe's reads in one pipeline: a micro-batch's snapshots in one round
        trip (each probe's reads are independent of the others')."""
        plans = [self._plan(probe) for probe in probes]

        def queue(pipe: Any) -> None:
            for probe, (_, keys, argv) in zip(probes, plans, strict=True):
                self._queue_snapshot(pipe, probe, keys, argv)

        results = iter(self._execute(queue))
        return [
            self._decode(probe, series, results)
            for probe, (series, _, _) in zip(probes, plans, strict=True)
        ]

    def _plan(self, req: Probe) -> tuple[list[tuple[str, str]], list[str], list[int]]:
        """The series a probe reads, and the snapshot script's keys and arguments."""
        ts = epoch_seconds(req.at)
        series = [*req.entity_ids(), (DECLINED, req.user_id)]
        if req.payee_id is not None:
            series.append((PAYEE_FIRST, req.payee_id))
        keys: list[str] = []
        argv: list[int] = [ts]
        for kind, ident in series:
            argv.append(DEPTH[kind])
            for k in range(DEPTH[kind]):
                groups = self._window_groups(kind, k, ident, ts)
                keys += groups
                argv.append(len(groups))
        return series, keys, argv

    def _decode(
        self, req: Probe, series: list[tuple[str, str]], results: Iterator[Any]
    ) -> StateSnapshot:
        """One probe's snapshot from its replies, in the order `_queue_snapshot` queued."""
        flat = iter(next(results))
        totals = {
            kind: [(next(flat), next(flat)) for _ in range(DEPTH[kind])] for kind, _ in series
        }
        declined = totals.pop(DECLINED)[1][0]
        payee_first = totals.pop(PAYEE_FIRST)[2][0] if req.payee_id is not None else 0
        return _snapshot_from(req, results, velocity_from_totals(totals), payee_first, declined)

    def _queue_snapshot(self, pipe: Any, req: Probe, keys: list[str], argv: list[int]) -> None:
        pipe.evalsha(_SNAPSHOT_SHA, len(keys), *keys, *argv)
        pipe.hmget(self._key("u", req.user_id), _USER_FIELDS)
        if req.device_id is not None:
            pipe.sismember(self._key("ud", req.user_id), req.device_id)
            pipe.scard(self._key("du", req.device_id))
            pipe.sismember(self._key("du", req.device_id), req.user_id)
        if req.payee_id is not None:
            pipe.sismember(self._key("up", req.user_id), req.payee_id)
        if req.merchant_id is not None:
            pipe.sismember(self._key("um", req.user_id), req.merchant_id)

    def _window_groups(self, kind: str, level: int, ident: str, ts: int) -> list[str]:
        """The (one or two) group keys holding the window's buckets at `level`."""
        span = SPAN[level]
        now = ts // BUCKET_SECONDS[level]
        groups = range((now - span + 1) // span, now // span + 1)
        return [self._counter_key(kind, level, g, ident) for g in groups]

    def _execute(self, queue: Callable[[Any], None]) -> list[Any]:
        """Run one pipeline of reads; if the server lost its scripts (restart, SCRIPT
        FLUSH), load them and run it again (reads are safe to repeat)."""
        for _ in range(2):
            pipe = self._r.pipeline(transaction=False)
            queue(pipe)
            results = pipe.execute(raise_on_error=False)
            _raise_unexpected(results)
            if not any(isinstance(r, NoScriptError) for r in results):
                return results
            self._load_scripts()
        raise RuntimeError("Redis keeps losing the risk state scripts")

    def _load_scripts(self) -> None:
        for lua in _SCRIPTS.values():
            self._r.script_load(lua)

    # ---- writing

    def record(self, event: RiskEvent) -> None:
        self.record_many((event,))

    def record_many(self, events: Iterable[RiskEvent]) -> None:
        """One pipeline per 500 events; each event is one atomic script call."""
        batch: list[tuple[list[str], list[Any]]] = []
        for event in events:
            batch.append(self._record_call(event))
            if len(batch) == _BATCH:
                self._record_batch(batch)
                batch = []
        if batch:
            self._record_batch(batch)

    def _record_batch(self, calls: list[tuple[list[str], list[Any]]]) -> None:
        pipe = self._r.pipeline(transaction=False)
        for keys, argv in calls:
            pipe.evalsha(_RECORD_SHA, len(keys), *keys, *argv)
        results = pipe.execute(raise_on_error=False)
        _raise_unexpected(results)
        lost = [c for c, r in zip(calls, results, strict=True) if isinstance(r, NoScriptError)]
        if lost:  # the server lost its scripts: those calls did nothing, so redo just them
            self._load_scripts()
            for keys, argv in lost:
                self._r.evalsha(_RECORD_SHA, len(keys), *keys, *argv)

    def _record_call(self, e: RiskEvent) -> tuple[list[str], list[Any]]:
        """The record script's keys and arguments for one event."""
        keys = [self._key(kind, e.user_id) for kind in ("u", "ud", "up", "um")]
        keys.append(self._key("du", e.device_id or ""))
        entities = e.entity_ids() if e.accepted and e.money_moving else ()
        for kind, ident in entities:
            keys += self._event_groups(kind, ident, e.ts)
        if not e.accepted:
            keys += self._event_groups(DECLINED, e.user_id, e.ts)
        elif e.money_moving and e.payee_id is not None:
            keys += self._event_groups(PAYEE_FIRST, e.payee_id, e.ts)
        lat, lon = (repr(e.location[0]), repr(e.location[1])) if e.location else ("", "")
        argv: list[Any] = [e.ts, int(e.accepted), int(e.money_moving), e.amount, e.hour_local]
        argv += [e.user_id, e.device_id or "", e.payee_id or "", e.merchant_id or ""]
        argv += [lat, lon, self._history_ttl, len(entities)]
        return keys, argv

    def _event_groups(self, kind: str, ident: str, ts: int) -> list[str]:
        """The group key, per level, of the bucket an event at `ts` falls in."""
        return [
            self._counter_key(kind, k, ts // BUCKET_SECONDS[k] // SPAN[k], ident)
            for k in range(DEPTH[kind])
        ]

    # ---- keys

    def _key(self, kind: str, ident: str) -> str:
        return f"{self._p}:{kind}:{ident}"

    def _counter_key(self, kind: str, level: int, group: int, ident: str) -> str:
        return f"{self._p}:c:{kind}:{level}:{group}:{ident}"

    def clear(self) -> None:
        """Delete every key under the prefix (SCAN, not KEYS: never blocks the server)."""
        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", self._p) + ":*"
        batch: list[Any] = []
        for key in self._r.scan_iter(match=pattern, count=1_000):
            batch.append(key)
            if len(batch) >= _BATCH:
                self._r.delete(*batch)
                batch = []
        if batch:
            self._r.delete(*batch)


def _raise_unexpected(results: list[Any]) -> None:
    for result in results:
        if isinstance(result, Exception) and not isinstance(result, NoScriptError):
            raise result


def _snapshot_from(
    req: Probe,
    results: Iterator[Any],
    velocity: dict[str, int],
    payee_first: int,
    declined: int,
) -> StateSnapshot:
    """Decode the user hash and set memberships, in the order `_queue_snapshot` queued."""
    user = next(results)
    device = (False, 0, False)
    if req.device_id is not None:
        device = (bool(next(results)), int(next(results)), bool(next(results)))
    payee_known = bool(next(results)) if req.payee_id is not None else False
    merchant_known = bool(next(results)) if req.merchant_id is not None else False
    lat, lon, lts = user[27], user[28], user[29]
    return StateSnapshot(
        velocity=velocity,
        user_count=int(user[0] or 0),
        user_mean=float(user[1] or 0.0),
        user_m2=float(user[2] or 0.0),
        hour_histogram=tuple(int(h or 0) for h in user[3:27]),
        device_known=device[0],
        device_users=device[1],
        device_user_seen=device[2],
        payee_known=payee_known,
        merchant_known=merchant_known,
        last_location=(float(lat), float(lon)) if lts is not None else None,
        last_location_ts=int(lts) if lts is not None else None,
        payee_new_payers_24h=payee_first,
        user_declined_1h=declined,
    )
