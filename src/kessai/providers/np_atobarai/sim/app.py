"""The ASGI app on the simulator base: NP's JSON endpoints under /v1 (credentials checked
first); /_control, /_records and /_calls come from the base."""

import base64
import itertools
import json
from collections.abc import Mapping
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from kessai.providers.kit import AsgiApp, SimulatorContext
from kessai.providers.np_atobarai.sandbox import TEST_SHOP_CODE, TEST_SP_CODE, TEST_TERMINAL_ID
from kessai.providers.np_atobarai.sim import rules
from kessai.providers.simulator import base
from kessai.providers.simulator.base import Call, Records, Scenarios

SIMULATOR = "np_atobarai"
_READ_ONLY = {"transactions/find", "authorizations/find"}
Handled = tuple[int, dict[str, Any], list[dict[str, Any]]]


class Simulator(base.Simulator):
    """NP's test environment on the simulator base: /v1 calls go through its fault switches,
    transactions through its store; test amounts pick the credit check (sim/rules.py)."""

    name = SIMULATOR
    # NP documents no throttling answer: the simulator's is HTTP 429, as a front would answer,
    # which the connector takes as no answer (settled by a lookup).
    rate_limit_code = "TooManyRequests"
    scenarios = Scenarios(
        amounts={
            amount: " ".join([first, *([why] if isinstance(why, str) else why or [])])
            for amount, (first, why, _later) in rules.CHECKS.items()
        }
    )

    def __init__(self, ctx: SimulatorContext | None = None) -> None:
        super().__init__(ctx)
        self.transactions: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)

    # --- what the base asks ----------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        return [Route("/v1/{path:path}", self.api, methods=["POST", "PATCH"])]

    def error(self, api: str, code: str) -> Response:
        status = 429 if code == self.rate_limit_code else 400
        return _json(status, {"errors": [{"codes": [code]}]})

    def restore(self, records: Records) -> None:
        self.transactions.update(records.get("transaction", {}))

    def forget(self) -> None:
        self.transactions.clear()

    def kept(self, changed: list[dict[str, Any]]) -> None:
        for t in changed:
            self.keep("transaction", t["np_transaction_id"], t)

    def by_shop_id(self, shop_id: str) -> dict[str, Any] | None:
        for t in self.transactions.values():
            if t["shop_transaction_id"] == shop_id:
                return t
        return None

    def new_id(self) -> str:
        while True:
            candidate = f"NP{self.clock.now():%y%m%d}{next(self._ids):06d}"
            if candidate not in self.transactions:
                return candidate

    # --- one call -----------------------------------------------------------------------
    async def api(self, request: Request) -> Response:
        """/v1/<path>: JSON in, JSON out (200 results, 400 errors, 401 bad credentials)."""
        api, method = str(request.path_params["path"]), request.method
        body = await request.body()
        await self.ready()
        if not _authorized({k.lower(): v for k, v in request.headers.items()}):
            self.log(api, "", "unauthorized", "E0100001")
            return _json(401, {"errors": [{"codes": ["E0100001"]}]})
        try:
            transactions = json.loads(body)["transactions"]
            first = transactions[0]
            if not isinstance(first, dict) or len(transactions) != 1:
                raise ValueError
        except (ValueError, KeyError, IndexError, TypeError):
            self.log(api, "", "error", "E0100002")
            return _json(400, {"errors": [{"codes": ["E0100002"]}]})
        shop_id = str(first.get("shop_transaction_id") or "") or _np_shop_id(self, first)
        if api in _READ_ONLY and method == "POST":
            handler = partial(self.find, first, full=api == "transactions/find")
        elif (method, api) in HANDLERS:
            handler = partial(HANDLERS[(method, api)], self, first)
        else:
            self.log(api, shop_id, "unsupported")
            return _json(404, {"errors": [{"codes": ["E0100002"]}]})

        async def act(call: Call) -> Response:
            status, answer, changed = handler()
            self.kept(changed)
            if status != 200:
                codes = [c for e in answer.get("errors", []) for c in e.get("codes", [])]
                call.result, call.info = "error", " ".join(codes)
            return _json(status, answer)

        return await self.answer(api, act, shop_id)

    # --- the APIs -------------------------------------------------------------------
    def register(self, t: dict[str, Any]) -> Handled:
        codes = rules.registration_errors(t)
        if codes:
            return 400, {"errors": [{"codes": codes}]}, []
        shop_id = str(t["shop_transaction_id"])
        if self.by_shop_id(shop_id) is not None:
            return 400, {"errors": [{"codes": ["E0100118"]}]}, []
        record = {
            "np_transaction_id": self.new_id(),
            "shop_transaction_id": shop_id,
            "billed_amount": t["billed_amount"],
            "goods": t["goods"],
            "status": "registered",
            "shipments_reported": 0,
            **rules.credit_check(int(t["billed_amount"])),
        }
        self.transactions[record["np_transaction_id"]] = record
        return 200, {"results": [_result(record)]}, [record]

    def find(self, t: dict[str, Any], *, full: bool) -> Handled:
        np_id = str(t.get("np_transaction_id") or "")
        shop_id = str(t.get("shop_transaction_id") or "")
        record = self.transactions.get(np_id) if np_id else self.by_shop_id(shop_id)
        if record is None:
            return 400, {"errors": [{"codes": ["E0100119"]}]}, []
        changed = []
        later = record.pop("later", None)
        if later is not None:  # NP has looked again since
            record["authori_result"], reason = later
            record.pop("authori_hold", None)
            if reason:
                record["authori_ng"] = reason
            changed.append(record)
        answer = _result(record)
        if full:
            answer |= {
                "shop_transaction_id": record["shop_transaction_id"],
                "billed_amount": record["billed_amount"],
                "status": record["status"],
            }
        return 200, {"results": [answer]}, changed

    def update(self, t: dict[str, Any]) -> Handled:
        record = self.transactions.get(str(t.get("np_transaction_id") or ""))
        if record is None:
            return 400, {"errors": [{"codes": ["E0100119"]}]}, []
        if record["status"] != "registered":
            return 400, {"errors": [{"codes": ["E0100115"]}]}, []
        codes = rules.registration_errors(t, update=True)
        if codes:
            return 400, {"errors": [{"codes": codes}]}, []
        for key in ("authori_hold", "authori_ng", "later"):
            record.pop(key, None)
        record |= {"billed_amount": t["billed_amount"], "goods": t["goods"]}
        record |= rules.credit_check(int(t["billed_amount"]))
        return 200, {"results": [_result(record)]}, [record]

    def cancel(self, t: dict[str, Any]) -> Handled:
        record = self.transactions.get(str(t.get("np_transaction_id") or ""))
        if record is None:
            return 400, {"errors": [{"codes": ["E0100119"]}]}, []
        if record["status"] == "canceled":
            return 400, {"errors": [{"codes": ["E0100115"]}]}, []
        record["status"] = "canceled"
        return 200, {"results": [{"np_transaction_id": record["np_transaction_id"]}]}, [record]

    def ship(self, t: dict[str, Any]) -> Handled:
        record = self.transactions.get(str(t.get("np_transaction_id") or ""))
        if record is None:
            return 400, {"errors": [{"codes": ["E0100119"]}]}, []
        codes = rules.shipment_errors(t)
        if codes:
            return 400, {"errors": [{"codes": codes}]}, []
        if record["status"] != "registered" or record["authori_result"] != "00":
            return 400, {"errors": [{"codes": ["E0100115"]}]}, []
        record |= {
            "status": "shipped",
            "pd_company_code": t["pd_company_code"],
            "slip_no": t["slip_no"],
            "shipments_reported": record["shipments_reported"] + 1,
        }
        return 200, {"results": [{"np_transaction_id": record["np_transaction_id"]}]}, [record]


def _result(record: dict[str, Any]) -> dict[str, Any]:
    out = {
        "np_transaction_id": record["np_transaction_id"],
        "authori_result": record["authori_result"],
    }
    for key in ("authori_hold", "authori_ng"):
        if record.get(key):
            out[key] = record[key]
    return out


HANDLERS = {
    ("POST", "transactions"): Simulator.register,
    ("PATCH", "transactions/update"): Simulator.update,
    ("PATCH", "transactions/cancel"): Simulator.cancel,
    ("POST", "shipments"): Simulator.ship,
}


def _authorized(headers: Mapping[str, str]) -> bool:
    expected = base64.b64encode(f"{TEST_SHOP_CODE}:{TEST_SP_CODE}".encode()).decode()
    return (
        headers.get("authorization") == f"Basic {expected}"
        and headers.get("x-np-terminal-id") == TEST_TERMINAL_ID
    )


def _json(status: int, body: dict[str, Any]) -> Response:
    return JSONResponse(body, status, media_type="application/json; charset=utf-8")


def _np_shop_id(sim: Simulator, t: dict[str, Any]) -> str:
    record = sim.transactions.get(str(t.get("np_transaction_id") or ""))
    return str(record["shop_transaction_id"]) if record else ""


def create_simulator(ctx: SimulatorContext | None = None) -> AsgiApp:
    """The NP後払い simulator as an ASGI app; app.state.simulator holds it."""
    app: AsgiApp = Simulator(ctx).app()
    return app
