"""/api/v1/sandbox/clock: set or advance the sandbox clock (refused in production)."""

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from kessai.core.clock import to_tokyo, utcnow
from kessai.core.errors import Conflict, InvalidInput
from kessai.jobs.schedules import tick
from kessai.web.deps import PrincipalDep, ServicesDep
from kessai.web.idempotency import run_idempotent

router = APIRouter(prefix="/api/v1/sandbox", tags=["サンドボックス"])

# The clock stays in years every rule can compute with (a year-9999 clock would overflow
# every deadline computed from it and leave the sandbox unusable).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
MAX_DAYS = 36_600


class ClockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    set: AwareDatetime | None = Field(
        default=None, description="この日時に合わせる (タイムゾーン付き: 2026-12-27T05:00:00+09:00)"
    )
    advance_days: int = Field(default=0, ge=-MAX_DAYS, le=MAX_DAYS, description="日数を進める")
    advance_seconds: int = Field(
        default=0, ge=-MAX_DAYS * 86_400, le=MAX_DAYS * 86_400, description="秒数を進める"
    )
    reset: bool = Field(default=False, description="実際の時刻に戻す (set・advance より先に適用)")


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


def _new_offset(services: ServicesDep, data: ClockIn) -> timedelta:
    """The offset the request asks for, checked before the clock is touched."""
    real = utcnow()
    offset = timedelta(0) if data.reset else services.clock.offset
    if data.set is not None:
        offset = data.set.astimezone(UTC) - real
    offset += timedelta(days=data.advance_days, seconds=data.advance_seconds)
    try:
        target = real + offset
    except OverflowError:
        target = LATEST
    if not EARLIEST <= target < LATEST:
        first, last = EARLIEST.year, LATEST.year - 1
        raise InvalidInput(
            f"サンドボックスの時計は{first}年から{last}年までの日時にしてください",
            code="clock_out_of_range",
        )
    return offset


@router.get("/clock", response_model=ClockOut, summary="サンドボックスの時計")
async def get_clock(services: ServicesDep, _: PrincipalDep) -> ClockOut:
    return _out(services)


@router.post(
    "/clock",
    response_model=ClockOut,
    summary="サンドボックスの時計を設定・進める",
    responses={409: {"description": "本番環境では不可 (sandbox_only)"}},
)
async def post_clock(
    data: ClockIn, request: Request, services: ServicesDep, principal: PrincipalDep
) -> JSONResponse:
    _require_sandbox(services)

    async def handler() -> tuple[int, object]:
        services.clock.set_offset(_new_offset(services, data))
        await services.save_clock()
        await tick(services)  # what the new time makes due runs now, not at the next beat
        return 200, _out(services)

    return await run_idempotent(request, services, principal, handler)
