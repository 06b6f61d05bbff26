"""Relaying the outbox and sending what is due: claim by compare-and-set, sign, POST, record.

Each pump round: (tx) hand new events to the endpoints that want them; (tx) claim the due
deliveries; send them, a few dozen at once, outside any transaction; (tx) record every try
in the delivery log and move each delivery on. A sender killed mid-send leaves its claim,
taken over after the lease: a delivery is sent at least once, with the same webhook-id.
Retries follow the Standard Webhooks schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h,
20 h, 24 h, with a little jitter); a 410 disables the endpoint. The client connects only
where kessai.webhooks.destination allows, to the very addresses it checked, and follows no
redirect; a destination it refuses is a final failure of the delivery (送信失敗, with the
reason), never retried: nothing was sent.
"""

import asyncio
import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiohttp

from kessai.core.clock import utcnow
from kessai.core.db import transaction
from kessai.core.metrics import WEBHOOK_DELIVERIES
from kessai.webhooks import destination, signing
from kessai.webhooks import repository as repo
from kessai.webhooks.models import DeliveryStatus

if TYPE_CHECKING:
    from kessai.services import Services

log = logging.getLogger("kessai.webhooks")

# The wait before each try after the first (the spec's example schedule); 10 tries in all.
SCHEDULE = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
)
MAX_TRIES = len(SCHEDULE) + 1
TIMEOUT_SECONDS = 15  # the spec recommends 15–30 s
LEASE = timedelta(minutes=2)  # far past a try's timeout: its sender is gone
BATCH = 200
CONCURRENCY = 32
RESPONSE_KEPT = 2000  # characters of a response body kept in the log
SECRET_CONTEXT = "webhook_endpoint.secret"  # noqa: S105 - the sealing context, not a secret
GONE_REASON = "410 Gone を受信したため送信を停止しました"


def retry_delay(tries: int, retry_after: float | None = None) -> timedelta | None:
    """The wait after `tries` failed tries; None when the schedule is used up. A
    `retry-after` from the endpoint lengthens it (never beyond a day)."""
    if tries >= MAX_TRIES:
        return None
    delay = SCHEDULE[tries - 1]
    delay += delay * random.uniform(0, 0.1)  # noqa: S311 - jitter, not a secret
    if retry_after is not None:
        delay = max(delay, min(timedelta(seconds=retry_after), timedelta(hours=24)))
    return delay


def body_of(type_: str, data: dict[str, Any], created_at: datetime) -> bytes:
    """The payload (type, timestamp, data), the same bytes on every try."""
    stamp = created_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    payload = {"type": type_, "timestamp": stamp, "data": data}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Answer:
    status_code: int | None
    response: str | None
    error: str | None
    duration_ms: int
    retry_after: float | None = None
    refused: str | None = None  # the destination rule's code: not sent

    @classmethod
    def refusal(cls, exc: destination.Refused) -> "Answer":
        return cls(None, None, exc.message, 0, refused=exc.code)

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _retry_after(value: str | None) -> float | None:
    try:
        return None if value is None else max(float(value), 0.0)
    except ValueError:
        return None  # an HTTP date: the schedule decides


def _refusal(exc: BaseException) -> destination.Refused | None:
    """The destination rule's refusal, raised by the resolver (aiohttp may wrap it)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, destination.Refused):
            return seen
        seen = seen.__cause__
    return None


class Sender:
    """One HTTP client and the opened secrets, kept across pump rounds."""

    def __init__(self, services: "Services") -> None:
        self.services = services
        self._http: aiohttp.ClientSession | None = None
        self._opened: dict[str, str] = {}
        self.policy = destination.Policy.of(services.settings)

    def secret(self, sealed: str) -> str:
        if sealed not in self._opened:
            self._opened[sealed] = self.services.keyring.decrypt_text(
                sealed, context=SECRET_CONTEXT
            )
        return self._opened[sealed]

    async def post(self, out: repo.Outgoing) -> Answer:
        try:
            destination.check_url(out.url, self.policy)  # a host given as an IP is judged here
        except destination.Refused as exc:
            return Answer.refusal(exc)
        if self._http is None:
            # A host name is judged by the connector's resolver, on the addresses it connects
            # to; no proxy from the environment (trust_env is off).
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS),
                connector=aiohttp.TCPConnector(
                    limit=CONCURRENCY, resolver=destination.PinnedResolver(self.policy)
                ),
            )
        body = body_of(out.type, out.data, out.created_at)
        # The try's real time, whatever the sandbox clock says: receivers compare it with
        # their own clocks to refuse replays.
        stamp = int(utcnow().timestamp())
        secrets = [self.secret(s) for s in out.secrets]
        headers = signing.headers(secrets, out.msg_id, stamp, body)
        started = time.perf_counter()
        try:
            async with self._http.post(
                out.url, data=body, headers=headers, allow_redirects=False
            ) as resp:
                text = (await resp.text(errors="replace"))[:RESPONSE_KEPT]
                status = resp.status
                after = _retry_after(resp.headers.get("retry-after"))
        except Exception as exc:  # refused, reset, timed out: a failed try, never lost
            took = int((time.perf_counter() - started) * 1000)
            if (refused := _refusal(exc)) is not None:
                if refused.code == destination.UNRESOLVABLE:  # DNS may answer later: retried
                    return Answer(None, None, refused.message, took)
                return Answer.refusal(refused)
            return Answer(None, None, f"{type(exc).__name__}: {exc}"[:RESPONSE_KEPT], took)
        took = int((time.perf_counter() - started) * 1000)
        return Answer(status, text, None, took, after)

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None


@dataclass(frozen=True)
class Round:
    relayed: int = 0
    sent: int = 0
    succeeded: int = 0

    @property
    def busy(self) -> bool:
        return bool(self.relayed or self.sent)


async def pump(services: "Services", sender: Sender, *, limit: int = BATCH) -> Round:
    """One round: relay new events, send the due deliveries, record the tries."""
    from kessai.webhooks.listeners import after_relay

    now = services.clock.now()
    async with transaction(services.sessions) as s:
        relayed = await repo.relay(s, now, limit)
        jobs = await after_relay(services, s, relayed.events)
    for job_id in jobs:  # committed: whoever runs jobs will find them
        await services.dispatcher.send_plan(job_id)
    async with transaction(services.sessions) as s:
        ids = await repo.due_ids(s, now, now - LEASE, limit)
        claimed = await repo.claim(s, ids, now, now - LEASE)
        outgoing = await repo.outgoing(s, claimed, now)
    if not outgoing:
        return Round(relayed=len(relayed.events))
    answers = await asyncio.gather(*(sender.post(o) for o in outgoing))
    at = services.clock.now()
    async with transaction(services.sessions) as s:
        await record(s, list(zip(outgoing, answers, strict=True)), at, manual=False)
    for answer in answers:  # counted once the tries are recorded
        WEBHOOK_DELIVERIES.labels(_result(answer)).inc()
    return Round(len(relayed.events), len(outgoing), sum(a.ok for a in answers))


def _result(answer: Answer) -> str:
    if answer.ok:
        return "delivered"
    if answer.refused:
        return "refused"
    return "gone" if answer.status_code == 410 else "failed"


async def record(
    s: Any, tried: list[tuple[repo.Outgoing, Answer]], at: datetime, *, manual: bool
) -> None:
    """The tries in the delivery log; each delivery moved on (a manual try only logs and,
    when it succeeded, marks the delivery 送信成功)."""
    await repo.log_attempts(
        s,
        [
            {
                "delivery_id": o.delivery_id,
                "attempt": o.attempt,
                "at": at,
                "status_code": a.status_code,
                "response_body": a.response,
                "error": a.error,
                "refused": a.refused,
                "duration_ms": a.duration_ms,
                "manual": manual,
            }
            for o, a in tried
        ],
    )
    finished: list[tuple[int, int, dict[str, Any]]] = []
    for o, a in tried:
        values: dict[str, Any] = {
            "status": DeliveryStatus.FAILED.value,
            "next_attempt_at": at,
            "delivered_at": None,
            "last_status_code": a.status_code,
            "last_error": a.error,
        }
        if a.ok:
            values.update(status=DeliveryStatus.SUCCEEDED.value, delivered_at=at)
        elif a.status_code == 410:
            await repo.disable(s, o.endpoint_id, GONE_REASON, at)
        elif manual:
            continue  # a manual try that failed leaves the delivery where it was
        elif a.refused:
            pass  # the rule will refuse it again: 送信失敗 now, with the reason
        elif (delay := retry_delay(o.attempt, a.retry_after)) is not None:
            values.update(status=DeliveryStatus.PENDING.value, next_attempt_at=at + delay)
        if manual:
            await repo.set_delivery(s, o.delivery_id, values)
        else:
            finished.append((o.delivery_id, o.attempt, values))
    await repo.finish(s, finished)


class Pump:
    """Runs `pump` in the background of a process until stopped: at once while there is
    work, every POLL seconds when idle."""

    POLL = 0.5

    def __init__(self, services: "Services") -> None:
        self.services = services
        self.sender = Sender(services)

    async def run(self) -> None:
        try:
            while True:
                try:
                    done = await pump(self.services, self.sender)
                except Exception:  # the database may be away for a moment: try again
                    log.exception("webhook pump failed")
                    done = Round()
                if not done.busy:
                    await asyncio.sleep(self.POLL)
        finally:
            await self.sender.aclose()
