"""The simulated connector's one page: the 3-D Secure step of its `challenge` scenario.

The customer "authenticates" at /sim/fake/3ds; the storefront then asks 決済照会 (reconcile)
to finish the payment. Everything else of this provider lives in its ledger.
"""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from kessai.providers.kit import AsgiApp, SimulatorContext


async def challenge(_request: Request) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><meta charset=utf-8><title>3Dセキュア (擬似)</title>"
        "<p>本人認証が完了しました(擬似)。ショップの画面に戻ってください。</p>"
    )


def create_simulator(_ctx: SimulatorContext) -> AsgiApp:
    app: AsgiApp = Starlette(routes=[Route("/3ds", challenge, methods=["GET"])])
    return app
