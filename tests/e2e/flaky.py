"""A loopback stand-in in front of kessai's webhook URL that fails a provider's first notice:
"down" before kessai sees it, "answer_lost" after kessai took it (the provider hears an
error, not kessai's answer); every later notice passes through to kessai."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tests.loopback import serve


class Flaky:
    def __init__(self, target: str, mode: str) -> None:
        self.target, self.mode, self.seen = target, mode, 0

    async def take(self, request: Request) -> Response:
        self.seen += 1
        if self.seen == 1 and self.mode == "down":
            return PlainTextResponse("down", 503)
        async with httpx.AsyncClient() as client:
            reply = await client.post(
                self.target,
                content=await request.body(),
                headers={"Content-Type": request.headers["content-type"]},
            )
        if self.seen == 1:
            return PlainTextResponse("lost", 502)
        return Response(reply.content, reply.status_code)

    def first(self) -> tuple[int, str]:
        """The status and answer the provider got for the first notice."""
        return (503, "down") if self.mode == "down" else (502, "lost")


@asynccontextmanager
async def flaky(target: str, mode: str) -> AsyncIterator[tuple[Flaky, str]]:
    """The stand-in served on loopback, and the URL to give the provider."""
    stand_in = Flaky(target, mode)
    app = Starlette(routes=[Route("/notice", stand_in.take, methods=["POST"])])
    async with serve(app) as url:
        yield stand_in, f"{url}/notice"
