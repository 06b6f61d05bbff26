"""/api/v1/sandbox/clock: set or advance the sandbox clock (refused in production)."""

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from kessai.core.clock import to_tokyo
from kessai.core.errors import Conflict, InvalidInput
from kessai.web.deps import PrincipalDep, ServicesDep

router = APIRouter(prefix="/api/v1/sandbox", tags=["サンドボックス"])


class ClockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    set: datetime | None = Field(default=None, description="この日時に合わせる (タイムゾーン付き)")
    advance_days: int = 0
    advance_seconds: int = 0
    reset: bool = Field(default=False, description="実際の時刻に戻す")


class ClockOut(BaseModel):
    now: datetime
    now_tokyo: str
    offset_seconds: float


def _out(services: ServicesDep) -> ClockOut:
    now = services.clock.now()
    return ClockOut(
        now=now,
        now_tokyo=to_tokyo(now).strftime("%Y-%m-%d %H:%M:%S JST"),
        offset_seconds=services.clock.offset.total_seconds(),
    )


def _require_sandbox(services: ServicesDep) -> None:
    if not services.settings.sandbox:
        raise Conflict(
            "本番環境(KESSAI_ENV=production)では時計を変更できません", code="sandbox_only"
        )


@router.get("/clock", response_model=ClockOut, summary="サンドボックスの時計")
async def get_clock(services: ServicesDep, _: PrincipalDep) -> ClockOut:
    return _out(services)


@router.post("/clock", response_model=ClockOut, summary="サンドボックスの時計を設定・進める")
async def post_clock(data: ClockIn, services: ServicesDep, _: PrincipalDep) -> ClockOut:
    _require_sandbox(services)
    if data.set is not None and data.set.tzinfo is None:
        raise InvalidInput(
            "set にはタイムゾーン付きの日時を指定してください (例: 2026-12-27T05:00:00+09:00)"
        )
    if data.reset:
        services.clock.set_offset(timedelta(0))
    if data.set is not None:
        services.clock.set_now(data.set.astimezone(UTC))
    delta = timedelta(days=data.advance_days, seconds=data.advance_seconds)
    if delta:
        services.clock.advance(delta)
    await services.save_clock()
    return _out(services)
