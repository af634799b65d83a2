"""Webhooks (issue 7): events POSTed to the webhook_url of the API key whose room they concern,
signed (signaling/webhook_signature.py), retried with exponential backoff, and logged.

The queue is two SQLite tables (signaling/store.py: webhook_events, webhook_attempts), so
nothing is lost across a restart: an event is stored before anyone is told it exists, and
pending ones are picked up again at start-up. Every state change (an attempt and the event's
new state) is one transaction, so there are no half-written rows. Delivery is at least once:
an attempt cut short by a crash is made again, with the same ``webhook-id``, which is what
receivers deduplicate on.

One dispatcher task, owned by this service, starts the deliveries: at most one in flight per
API key, oldest first, so a receiver sees a room's events in the order they happened
(participant_left never before its participant_joined); an event being retried holds back the
later ones of its key until it is delivered or given up. Across keys at most
``MAX_IN_FLIGHT`` run at once. A POST never runs under a room's lock or blocks the event
loop: ``emit`` only inserts a row and wakes the dispatcher.

A delivery succeeds on any 2xx answer within ``webhook_timeout_s``. Anything else (3xx, which
is not followed, 4xx, 5xx, a timeout, a refused connection) is retried after
``webhook_retry_base_s * 2**(attempt - 1)`` seconds, up to ``webhook_max_attempts`` attempts;
then the event is ``failed``. Each attempt's status or error is in the delivery log
(``GET /api/v1/webhooks/deliveries``, signaling/webhooks_api.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from signaling.api_keys import ApiKeys
from signaling.config import Config
from signaling.metrics import Metrics
from signaling.store import Store
from signaling.webhook_signature import sign

log = logging.getLogger(__name__)

EVENTS = (
    "room_started",
    "room_finished",
    "participant_joined",
    "participant_left",
    "recording_ready",
    "transcript_ready",
    "action_items_ready",
)
# Deliveries in flight at once, over all keys: enough for a few slow receivers not to hold up
# the others, few enough that a backlog after an outage does not open hundreds of sockets.
MAX_IN_FLIGHT = 8
# The dispatcher looks at the queue at least this often; a new event or a finished delivery
# wakes it at once, and it sleeps only until the next retry is due.
IDLE_CHECK_S = 60.0
# How much of a failed answer's body goes into the delivery log: enough for an error message,
# never the whole of a huge body.
ERROR_BODY_BYTES = 200
# Delivered and failed events are kept this long for the delivery log, then deleted.
LOG_RETENTION_S = 7 * 86400
PRUNE_EVERY_S = 3600.0
MAX_LOG_LIMIT = 500
USER_AGENT = "Sparkle-Webhooks/1"
_COLUMNS = "seq, id, api_key, event, room, created_at, body, state, attempts, next_attempt_at"


@dataclass(frozen=True)
class StoredEvent:
    seq: int
    id: str
    api_key: str
    event: str
    room: str
    created_at: float
    body: str
    state: str  # pending | delivered | failed
    attempts: int
    next_attempt_at: float | None


@dataclass(frozen=True)
class Outcome:
    status: int | None  # the HTTP status, None when there was no answer
    error: str | None  # None: delivered

    @property
    def delivered(self) -> bool:
        return self.error is None


class WebhookService:
    def __init__(
        self,
        config: Config,
        store: Store,
        api_keys: ApiKeys,
        metrics: Metrics,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._store = store
        self._keys = api_keys
        self._metrics = metrics
        self._clock = clock
        self._wake = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._busy: dict[str, asyncio.Task[None]] = {}  # api key -> its delivery in flight
        self._session: aiohttp.ClientSession | None = None
        self._closing = False
        self._pruned_at = 0.0

    # --- events ---------------------------------------------------------------------------

    def emit(
        self,
        event: str,
        *,
        room_name: str,
        room_sid: str | None,
        owner_key: str | None,
        fields: dict[str, Any],
    ) -> str | None:
        """Queue ``event`` for the owner key's webhook (None: the primary key's); its id, or
        None when that key has no webhook_url (nothing is stored then). Never raises: a
        webhook must not break the meeting it reports on."""
        assert event in EVENTS, event
        key = self._keys.get(owner_key or self._keys.primary_key)
        if key is None or key.webhook_url is None:
            return None
        event_id = "WH_" + secrets.token_urlsafe(12)
        now = self._clock()
        payload = {
            "id": event_id,
            "event": event,
            "created_at": now,
            "room": {"name": room_name, "sid": room_sid},
            **fields,
        }
        body = json.dumps(payload, separators=(",", ":"))
        try:
            self._store.insert(
                "INSERT INTO webhook_events (id, api_key, event, room, created_at, body, state,"
                " attempts, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?)",
                (event_id, key.key, event, room_name, now, body, now),
            )
        except sqlite3.Error:
            log.exception("room %s: the %s webhook event could not be stored", room_name, event)
            return None
        self._wake.set()
        return event_id

    # --- the delivery log -------------------------------------------------------------------

    def deliveries(
        self, *, api_key: str | None, event_id: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Events newest first, each with its attempts; ``api_key`` None: every key's."""
        where, params = ["1 = 1"], []
        if api_key is not None:
            where.append("api_key = ?")
            params.append(api_key)
        if event_id is not None:
            where.append("id = ?")
            params.append(event_id)
        rows = self._store.query(
            f"SELECT {_COLUMNS} FROM webhook_events WHERE {' AND '.join(where)}"
            " ORDER BY seq DESC LIMIT ?",
            (*params, min(limit, MAX_LOG_LIMIT)),
        )
        events = [_event(row) for row in rows]
        attempts: dict[str, list[dict[str, Any]]] = {event.id: [] for event in events}
        if events:
            marks = ",".join("?" * len(events))
            for row in self._store.query(
                "SELECT event_id, attempt, at, url, status, error, duration_ms"
                f" FROM webhook_attempts WHERE event_id IN ({marks}) ORDER BY attempt",
                tuple(attempts),
            ):
                attempts[str(row[0])].append(
                    {
                        "attempt": int(row[1]),
                        "at": float(row[2]),
                        "url": str(row[3]),
                        "status": None if row[4] is None else int(row[4]),
                        "error": None if row[5] is None else str(row[5]),
                        "duration_ms": round(float(row[6]), 1),
                    }
                )
        return [
            {
                "id": event.id,
                "event": event.event,
                "api_key": event.api_key,
                "room": event.room,
                "created_at": event.created_at,
                "state": event.state,
                "next_attempt_at": event.next_attempt_at,
                "payload": json.loads(event.body),
                "attempts": attempts[event.id],
            }
            for event in events
        ]

    # --- the dispatcher -------------------------------------------------------------------

    def start(self) -> None:
        """Start delivering (and resume what a previous run left pending); needs the loop."""
        if self._runner is not None or self._closing:
            return
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=MAX_IN_FLIGHT),
            # A receiver's cookies are not ours to keep or send back.
            cookie_jar=aiohttp.DummyCookieJar(),
            headers={"User-Agent": USER_AGENT},
        )
        self._runner = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while not self._closing:
            self._wake.clear()
            try:
                wait_s = self._dispatch()
            except sqlite3.Error:
                log.exception("webhooks: reading the queue failed; trying again later")
                wait_s = IDLE_CHECK_S
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_s):
                    await self._wake.wait()

    def _dispatch(self) -> float:
        """Start the deliveries that are due; how long until the next one is."""
        now = self._clock()
        if now - self._pruned_at > PRUNE_EVERY_S:
            self._prune(now)
        wait_s = IDLE_CHECK_S
        for head in self._heads():
            if head.api_key in self._busy:
                continue
            due = head.next_attempt_at or now
            if due > now:
                wait_s = min(wait_s, due - now)
                continue
            if len(self._busy) >= MAX_IN_FLIGHT:
                break  # a finished delivery wakes the dispatcher
            self._busy[head.api_key] = asyncio.create_task(self._deliver(head))
        return max(wait_s, 0.001)

    def _heads(self) -> list[StoredEvent]:
        """Each key's oldest pending event. SQLite takes a bare column's value from the row
        MIN() picked (https://sqlite.org/lang_select.html#bareagg)."""
        rows = self._store.query(
            "SELECT MIN(seq), id, api_key, event, room, created_at, body, state, attempts,"
            " next_attempt_at FROM webhook_events WHERE state = 'pending' GROUP BY api_key"
        )
        return sorted((_event(row) for row in rows), key=lambda event: event.seq)

    async def _deliver(self, event: StoredEvent) -> None:
        try:
            attempt = event.attempts + 1
            key = self._keys.get(event.api_key)
            url = "" if key is None or key.webhook_url is None else key.webhook_url
            started = time.perf_counter()
            final = False
            if key is None:
                outcome, final = Outcome(None, "the API key was revoked"), True
            elif not url:
                outcome, final = Outcome(None, "the API key has no webhook_url any more"), True
            else:
                outcome = await self._post(url, key.webhook_secret, event)
            duration_ms = (time.perf_counter() - started) * 1000
            self._record(event, attempt, url, outcome, duration_ms, final=final)
        except Exception:
            log.exception("webhook %s: delivery failed unexpectedly", event.id)
        finally:
            self._busy.pop(event.api_key, None)
            self._wake.set()

    async def _post(self, url: str, secret: str, event: StoredEvent) -> Outcome:
        assert self._session is not None
        body = event.body.encode()
        # A fresh timestamp and signature per attempt: a receiver's replay window is counted
        # from the attempt, not from when the event happened.
        headers = {
            "Content-Type": "application/json",
            **sign(secret, event.id, int(self._clock()), body),
        }
        timeout_s = self._config.webhook_timeout_s
        try:
            async with asyncio.timeout(timeout_s):
                async with self._session.post(
                    url, data=body, headers=headers, allow_redirects=False
                ) as response:
                    if 200 <= response.status < 300:
                        return Outcome(response.status, None)
                    if 300 <= response.status < 400:
                        where = response.headers.get("Location", "")[:200]
                        return Outcome(
                            response.status,
                            f"HTTP {response.status}: redirects are not followed"
                            f" (to {where!r}); set webhook_url to the final URL",
                        )
                    text = await response.content.read(ERROR_BODY_BYTES)
                    return Outcome(response.status, _answer(response.status, text))
        except TimeoutError:
            return Outcome(None, f"no answer within {timeout_s:g} s (webhook_timeout_s)")
        except aiohttp.ClientError as exc:
            return Outcome(None, f"{type(exc).__name__}: {exc}"[:300])
        except (OSError, ValueError) as exc:
            return Outcome(None, f"{type(exc).__name__}: {exc}"[:300])

    def _record(
        self,
        event: StoredEvent,
        attempt: int,
        url: str,
        outcome: Outcome,
        duration_ms: float,
        *,
        final: bool,
    ) -> None:
        """The attempt and the event's new state, in one transaction."""
        now = self._clock()
        next_at: float | None = None
        if outcome.delivered:
            state, result = "delivered", "delivered"
        elif final or attempt >= self._config.webhook_max_attempts:
            state, result = "failed", "failed"
        else:
            state, result = "pending", "retry"
            next_at = now + self._config.webhook_retry_base_s * 2 ** (attempt - 1)
        self._store.write_many(
            [
                (
                    "INSERT INTO webhook_attempts (event_id, attempt, at, url, status, error,"
                    " duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (event.id, attempt, now, url, outcome.status, outcome.error, duration_ms),
                ),
                (
                    "UPDATE webhook_events SET state = ?, attempts = ?, next_attempt_at = ?"
                    " WHERE id = ?",
                    (state, attempt, next_at, event.id),
                ),
            ]
        )
        self._metrics.count_webhook_delivery(result)
        if result != "delivered":
            level = logging.WARNING if result == "retry" else logging.ERROR
            log.log(
                level,
                "webhook %s (%s, attempt %d): %s; %s",
                event.id,
                event.event,
                attempt,
                outcome.error,
                "will retry" if result == "retry" else "giving up",
            )

    def _prune(self, now: float) -> None:
        self._pruned_at = now
        cutoff = now - LOG_RETENTION_S
        done = "state != 'pending' AND created_at < ?"
        self._store.write_many(
            [
                (
                    f"DELETE FROM webhook_attempts WHERE event_id IN"
                    f" (SELECT id FROM webhook_events WHERE {done})",
                    (cutoff,),
                ),
                (f"DELETE FROM webhook_events WHERE {done}", (cutoff,)),
            ]
        )

    async def close(self) -> None:
        """Stop delivering. A delivery cut short stays pending and is made again (same
        webhook-id) by the next start, so nothing is lost and no task is left."""
        self._closing = True
        tasks = [task for task in (self._runner, *self._busy.values()) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._busy.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None


def _answer(status: int, text: bytes) -> str:
    shown = "".join(c if c.isprintable() else " " for c in text.decode("utf-8", "replace"))
    shown = " ".join(shown.split())
    return f"HTTP {status}" + (f": {shown}" if shown else "")


def _event(row: tuple[Any, ...]) -> StoredEvent:
    seq, event_id, api_key, event, room, created_at, body, state, attempts, next_at = row
    return StoredEvent(
        seq=int(seq),
        id=str(event_id),
        api_key=str(api_key),
        event=str(event),
        room=str(room),
        created_at=float(created_at),
        body=str(body),
        state=str(state),
        attempts=int(attempts),
        next_attempt_at=None if next_at is None else float(next_at),
    )
