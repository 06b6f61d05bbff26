"""Notices a simulator posts to the merchant, sent again while the merchant does not take them.

A provider that tells the shop about a payment (SBPS's 結果CGI, a webhook) sends the same
notice again, after growing pauses, while the shop does not take it: no answer, an error
status, or an answer other than the agreed one. `Notifier` does it once for every simulator:

- `Resend`: the provider's schedule, the pauses before each re-send, declared once by its
  simulator (`Simulator.resend`); `POST /_control {"resend_pauses": [0.01, 0.02]}` replaces it
  for this simulator (tests shorten it), `GET /_control` shows it;
- `send(notice)`: the first attempt at once (the provider waits for it before the customer
  goes back to the shop), the re-sends in the background on the simulator's sleep, stopping
  at the first attempt taken; `start(notice)`: every attempt in the background (a webhook
  that follows an API call's answer);
- each attempt kept in the notice's record, kind "notice" (`GET /_records?kind=notice`: its
  attempts with time, HTTP status and answer, whether it was taken, when the next re-send is
  due) and logged in the call log under the notice's name (`GET /_calls?api=結果CGI`: result
  "ok" when taken, "not_taken" otherwise, the status and answer as info);
- `POST /_control {"resend_notice": "<key>"}` posts a notice once more though it was taken:
  the duplicate a provider sends when it lost the shop's answer;
- `drain()` waits for the re-sends under way, `close()` stops them (tests, shutdown).

A restarted simulator keeps the records but not the re-sends that were still to come.
"""

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx

from kessai.core.clock import to_tokyo

log = logging.getLogger("kessai.sim.notify")

KIND = "notice"  # the records' kind
MAX_RESENDS = 20  # a schedule /_control may set: more is no provider's


@dataclass(frozen=True)
class Resend:
    """When a notice not taken is posted again: the pause in seconds before each re-send."""

    pauses: tuple[float, ...] = ()

    @classmethod
    def growing(cls, first: float, times: int, factor: float = 2.0) -> "Resend":
        """`times` re-sends, the first after `first` seconds, each pause `factor` longer."""
        return cls(tuple(first * factor**n for n in range(times)))

    @classmethod
    def parse(cls, given: object) -> "Resend":
        """A schedule from /_control: a list of non-negative seconds (ValueError refuses)."""
        if not isinstance(given, list) or len(given) > MAX_RESENDS:
            raise ValueError(f"resend_pauses must be a list of at most {MAX_RESENDS} numbers")
        pauses: list[float] = []
        for pause in given:
            if isinstance(pause, bool) or not isinstance(pause, int | float):
                raise ValueError("resend_pauses: each pause is a number of seconds")
            if not math.isfinite(pause) or pause < 0:
                raise ValueError("resend_pauses: each pause is zero or more seconds")
            pauses.append(float(pause))
        return cls(tuple(pauses))


@dataclass(frozen=True)
class Notice:
    """One notice: where it goes, what is posted, and what answer means the shop took it."""

    api: str  # its name in the call log, e.g. 結果CGI
    key: str  # its record's key, the same for every attempt
    ref: str  # what it is about: the provider's order id
    url: str
    body: bytes
    headers: Mapping[str, str]
    taken: Callable[[int, str], bool]  # (HTTP status, answer text) → the shop took it
    encoding: str = "utf-8"  # of the answer


class Clock(Protocol):
    def now(self) -> datetime: ...


class Host(Protocol):
    """What a notifier uses of its simulator (the simulator base)."""

    @property
    def clock(self) -> Clock: ...

    @property
    def records(self) -> dict[str, dict[str, dict[str, Any]]]: ...

    def keep(self, kind: str, key: str, data: dict[str, Any] | None) -> None: ...

    async def flush(self) -> None: ...

    def log(self, api: str, ref: str = "", result: str = "ok", info: str = "") -> Any: ...


@dataclass
class Notifier:
    host: Host
    schedule: Resend
    sleep: Callable[[float], Awaitable[Any]]
    timeout: float = 30.0
    sent: dict[str, Notice] = field(default_factory=dict)  # by key, for resend_notice
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def send(self, notice: Notice) -> bool:
        """The first attempt now; while not taken, the re-sends follow in the background."""
        self.sent[notice.key] = notice
        if await self._attempt(notice, self._pause(0)):
            return True
        if self._pause(0) is not None:
            self._start(self._resend(notice))
        return False

    def start(self, notice: Notice) -> None:
        """Every attempt in the background, the first at once."""
        self.sent[notice.key] = notice
        self._start(self._deliver(notice))

    def new_key(self, prefix: str) -> str:
        """`prefix/n`, the first n no notice has yet: a key for a provider's notice that
        carries no id of its own (records of an earlier run count too)."""
        taken = set(self.sent) | set(self.host.records.get(KIND, {}))
        n = 1
        while f"{prefix}/{n}" in taken:
            n += 1
        return f"{prefix}/{n}"

    async def once(self, key: str) -> bool:
        """Post a notice sent before once more, taken or not (the duplicate fault)."""
        notice = self.sent.get(key)
        if notice is None:
            raise ValueError(f"no notice {key!r} was sent")
        return await self._attempt(notice, None)

    def shown(self) -> dict[str, Any]:
        return {"resend_pauses": list(self.schedule.pauses), "resends_under_way": len(self._tasks)}

    async def drain(self) -> None:
        """Wait until every notice was taken or its schedule ran out (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Stop the re-sends still to come (reset, tests' teardown, shutdown)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _pause(self, resent: int) -> float | None:
        """The pause before re-send number `resent` + 1, as the schedule stands now."""
        pauses = self.schedule.pauses
        return pauses[resent] if resent < len(pauses) else None

    def _start(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, notice: Notice) -> None:
        if not await self._attempt(notice, self._pause(0)):
            await self._resend(notice)

    async def _resend(self, notice: Notice) -> None:
        resent = 0
        while (pause := self._pause(resent)) is not None:
            await self.sleep(pause)
            resent += 1
            if await self._attempt(notice, self._pause(resent)):
                return
        log.info("%s %s not taken after %d attempts", notice.api, notice.key, resent + 1)

    async def _attempt(self, notice: Notice, next_pause: float | None) -> bool:
        at = self.host.clock.now()
        status: int | None = None
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                reply = await client.post(notice.url, content=notice.body, headers=notice.headers)
            status = reply.status_code
            answer = reply.content.decode(notice.encoding, errors="replace")[:200]
            taken = notice.taken(status, answer)
        except httpx.HTTPError as exc:  # refused, timed out, the connection dropped
            answer, taken = type(exc).__name__, False
        self._record(notice, at, status, answer, taken, next_pause)
        await self.host.flush()
        info = f"{status} {answer[:40]}" if status is not None else answer
        self.host.log(notice.api, notice.ref, "ok" if taken else "not_taken", info.strip())
        return taken

    def _record(
        self,
        notice: Notice,
        at: datetime,
        status: int | None,
        answer: str,
        taken: bool,
        next_pause: float | None,
    ) -> None:
        before = self.host.records.get(KIND, {}).get(notice.key) or {}
        attempts: Sequence[dict[str, Any]] = before.get("attempts", [])
        due = None if taken or next_pause is None else at + timedelta(seconds=next_pause)
        self.host.keep(
            KIND,
            notice.key,
            {
                "api": notice.api,
                "ref": notice.ref,
                "url": notice.url,
                "attempts": [
                    *attempts,
                    {"at": _shown(at), "status": status, "answer": answer, "taken": taken},
                ],
                "taken": taken or bool(before.get("taken")),
                "answer": answer,
                "next_at": _shown(due) if due else None,
            },
        )


def _shown(at: datetime) -> str:
    return to_tokyo(at).isoformat(timespec="milliseconds")
