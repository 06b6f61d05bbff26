"""ダッシュボード: what needs a person today, each line a count that links to the list it
counts (the same conditions, so the list shows exactly those)."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import func, select

from kessai.cardupdater.jobs import overdue_count as updater_overdue
from kessai.cardupdater.repository import not_done_count
from kessai.core.clock import to_tokyo
from kessai.core.db import transaction
from kessai.customers.updater import UpdaterResult
from kessai.jobs.models import Job
from kessai.jobs.status import JobStatus
from kessai.orders.models import Order
from kessai.payments.deadlines import DeadlineKind, closing_soon, stuck_in_shipment_report
from kessai.payments.status import PaymentStatus
from kessai.recurring.jobs import overdue_count as recurring_overdue
from kessai.subscriptions import repository as subscriptions
from kessai.users.service import Permission, Principal
from kessai.web.admin.core import AdminContext, render
from kessai.web.admin.subscriptions import month_range

S = PaymentStatus
# 決済状況 that a person must look at (seed 004), in the order the dashboard lists them.
ATTENTION = (
    (S.AUTHORIZE_FAILED, "顧客に新しいカードの登録か支払い方法の変更を促してください"),
    (S.CREDIT_CHECK_FAILED, "顧客に別の支払い方法への変更を促してください"),
    (S.CAPTURE_FAILED, "決済履歴と決済会社の管理画面を確認してください"),
    (S.CANCEL_FAILED, "決済会社へ取消可否を確認し、必要なら強制取消処理を実施してください"),
    (S.SHIPMENT_REPORT_FAILED, "発送完了日・配送伝票番号を確認して売上処理をやり直してください"),
    (S.MODIFY_FAILED, "決済履歴のエラーを確認してください"),
)
DEFAULT_DAYS = 7
FAILED_JOBS = (JobStatus.FAILED, JobStatus.PARTIALLY_FAILED)


@dataclass(frozen=True)
class Line:
    label: str
    count: int
    href: str
    note: str = ""


def _months_back(now: datetime, months: int) -> date:
    first = to_tokyo(now).date().replace(day=1)
    index = first.year * 12 + first.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def add_dashboard_routes(router: APIRouter, ctx: AdminContext) -> None:
    @router.get("/dashboard", summary="ダッシュボード")
    async def dashboard(
        request: Request,
        _: Annotated[Principal, Depends(ctx.require(Permission.ORDERS_VIEW))],
        days: Annotated[int, Query(ge=1, le=60)] = DEFAULT_DAYS,
    ) -> Response:
        now = ctx.services.clock.now()
        within = timedelta(days=days)
        async with transaction(ctx.services.sessions) as s:
            by_status = dict(
                (
                    await s.execute(
                        select(Order.payment_status, func.count())
                        .where(Order.payment_status.in_([st.value for st, _ in ATTENTION]))
                        .group_by(Order.payment_status)
                    )
                ).all()
            )
            unknown = await s.scalar(
                select(func.count())
                .select_from(Order)
                .where(Order.in_flight_attempt_id.is_not(None))
            )
            stuck = await s.scalar(
                select(func.count()).select_from(Order).where(*stuck_in_shipment_report(now))
            )
            cancel = await closing_soon(s, now, within, DeadlineKind.CANCEL)
            authorization = await closing_soon(s, now, within, DeadlineKind.AUTHORIZATION)
            jobs = dict(
                (
                    await s.execute(
                        select(Job.status, func.count())
                        .where(Job.status.in_([j.value for j in FAILED_JOBS]))
                        .group_by(Job.status)
                    )
                ).all()
            )
            not_done = await not_done_count(s, _months_back(now, 2))
            month = to_tokyo(now).date().replace(day=1)
            since, until = month_range(month)
            # 定期受注 whose card got the result this month: the very search the link opens.
            updater = {
                r: (
                    await subscriptions.search(
                        s,
                        subscriptions.SubscriptionSearch(
                            updater_result=r.value,
                            updater_checked_from=since,
                            updater_checked_to=until,
                            limit=0,
                        ),
                    )
                )[1]
                for r in UpdaterResult
            }
        overdue = await updater_overdue(ctx.services, now) + await recurring_overdue(
            ctx.services, now, _months_back(now, 2)
        )
        lines = [
            Line(
                st.label,
                int(by_status.get(st.value, 0)),
                f"/admin/orders?payment_status={st.value}",
                note,
            )
            for st, note in ATTENTION
        ]
        lines.insert(
            2,
            Line(
                "決済結果不明(要照会)",
                int(unknown or 0),
                "/admin/orders?due=reconcile",
                "決済照会で決済会社の結果を確認してください",
            ),
        )
        lines.insert(
            3,
            Line(
                "出荷報告依頼中のまま1日以上",
                int(stuck or 0),
                "/admin/orders?due=stuck",
                "自動照会で決まらなかった受注です。後払い決済会社の管理画面で取引IDを検索し、"
                "出荷報告済みなら強制売上処理(決済サービス未連携)を実施。済みでなければ"
                "管理画面で配送伝票番号を入力して出荷報告済みにしてから強制売上処理を実施",
            ),
        )
        deadlines = [
            Line(
                f"取消期限が{days}日以内",
                len(cancel),
                f"/admin/orders?due=cancel&days={days}",
                "PayPay(決済日時から30日)、d払い(翌々月末20時)など、期限を過ぎると取消できません",
            ),
            Line(
                f"与信期限が{days}日以内",
                len(authorization),
                f"/admin/orders?due=authorization&days={days}",
                "期限を過ぎると売上処理できません(再オーソリが必要です)",
            ),
            *(
                Line(
                    f"{j.label}のジョブ",
                    int(jobs.get(j.value, 0)),
                    f"/admin/jobs?status={j.value}",
                    "ジョブ詳細のログと結果CSVで失敗した受注を確認してください",
                )
                for j in FAILED_JOBS
            ),
            Line(
                "結果ファイルの待機超過(自動洗替・継続課金、直近3か月)",
                overdue,
                f"/admin/jobs?status={JobStatus.FAILED.value}",
                "取得日と待機日数を過ぎても届かないファイルです。ジョブのログで理由を確認し、"
                "GMO PG の管理画面で処理状況を確認してください",
            ),
        ]
        updaters = [
            Line(
                r.label,
                updater[r],
                f"/admin/subscriptions?updater_result={r.value}&updater_month={month:%Y-%m}",
                "" if r is UpdaterResult.VALID else "支払い方法またはカード情報の変更が必要です",
            )
            for r in UpdaterResult
        ]
        updaters.append(
            Line(
                "自動洗替が未実施の月(直近3か月)",
                not_done,
                f"/admin/jobs?status={JobStatus.FAILED.value}",
                "「GMO 洗替結果取得」のログで理由を確認し、SFTPの連携情報を見直してください",
            )
        )
        return render(
            request,
            "dashboard.html",
            {
                "nav": "dashboard",
                "lines": lines,
                "deadlines": deadlines,
                "updaters": updaters,
                "month": f"{month.year}年{month.month}月",
                "days": days,
                "today": to_tokyo(now).strftime("%Y/%m/%d"),
            },
        )
