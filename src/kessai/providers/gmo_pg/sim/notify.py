"""GMO's 結果通知 from the simulator: a CP932 form POST to the shop's 結果通知プログラム URL
after a payment changes at GMO (a コンビニ slip paid, a wallet approved …).

The shop must answer "0"; anything else, an error status or no answer, and GMO sends the
same notification again later, up to `notify_retries` more times (GMO: every hour, five
times; the simulator waits `notify_retry_seconds` of real time so tests can watch it).
Every attempt is kept: GET /_notifications.

The URL is set per simulator (SimulatorConfig.notify_url, or POST /_control
{"notify_url": …}); none set, nothing is sent.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from kessai.providers.gmo_pg import codec
from kessai.providers.gmo_pg.methods import pay_type_of
from kessai.providers.gmo_pg.sim.state import Transaction, gmo_datetime

log = logging.getLogger("kessai.sim.gmo_pg")


@dataclass
class Attempt:
    order_id: str
    status: str
    attempt: int
    answer: str

    def json(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "status": self.status,
            "attempt": self.attempt,
            "answer": self.answer,
        }


def fields(tran: Transaction, overrides: dict[str, str] | None = None) -> dict[str, str]:
    """What GMO posts: ShopPass masked, the rest as the transaction stands."""
    form = {
        "ShopID": tran.shop_id,
        "ShopPass": "**********",
        "AccessID": tran.access_id,
        "AccessPass": "********************************",
        "OrderID": tran.order_id,
        "Status": tran.status,
        "JobCd": tran.job_cd,
        "Amount": str(tran.amount),
        "Tax": str(tran.tax),
        "Currency": "JPN",
        "TranID": tran.tran_id,
        "TranDate": gmo_datetime(tran.process_date),
        "PayType": pay_type_of(tran.pay_method),
        "ErrCode": "",
        "ErrInfo": "",
    }
    return form | (overrides or {})


class Notifier:
    def __init__(
        self,
        url: Callable[[], str | None],
        retries: Callable[[], int],
        pause: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self._url, self._retries, self._pause, self._sleep = url, retries, pause, sleep
        self.attempts: list[Attempt] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def send(self, form: dict[str, str]) -> None:
        """Start sending in the background (GMO does not wait for the shop either)."""
        url = self._url()
        if not url:
            return
        task = asyncio.get_running_loop().create_task(self._deliver(url, form))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, url: str, form: dict[str, str]) -> None:
        body = codec.encode_request(form)
        async with httpx.AsyncClient(timeout=10) as client:
            for attempt in range(1 + max(0, self._retries())):
                if attempt:
                    await self._sleep(self._pause())
                try:
                    reply = await client.post(
                        url, content=body, headers={"Content-Type": codec.CONTENT_TYPE}
                    )
                    answer = f"{reply.status_code} {reply.text.strip()[:40]}"
                    done = reply.status_code == 200 and reply.text.strip() == "0"
                except httpx.HTTPError as exc:
                    answer, done = type(exc).__name__, False
                self.attempts.append(Attempt(form["OrderID"], form["Status"], attempt + 1, answer))
                if done:
                    return
        log.info("結果通知 %s %s: gave up", form["OrderID"], form["Status"])

    async def drain(self) -> None:
        """Wait for every notification under way (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
