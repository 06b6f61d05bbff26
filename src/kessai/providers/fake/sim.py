"""The simulated connector's one page: the 3-D Secure step of its `challenge` scenario.

The customer "authenticates" at /sim/fake/3ds; the storefront then asks 決済照会 (reconcile)
to finish the payment. Everything else of this provider lives in its ledger (the reference
store), so it keeps no records here; /_control and /_calls come from the simulator base.
"""

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from kessai.providers.simulator.base import Simulator


class FakeSimulator(Simulator):
    name = "fake"

    def routes(self) -> list[BaseRoute]:
        return [Route("/3ds", self.challenge, methods=["GET"])]

    async def challenge(self, _request: Request) -> Response:
        self.log("3ds")
        return HTMLResponse(
            "<!doctype html><meta charset=utf-8><title>3Dセキュア (擬似)</title>"
            "<p>本人認証が完了しました(擬似)。ショップの画面に戻ってください。</p>"
        )
