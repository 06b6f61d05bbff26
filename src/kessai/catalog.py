"""Every job kind and the installation's calendar, in one place above the domains.

Importing this registers each domain's job kinds (so the API process, an in-process run and a
Dramatiq worker know the same kinds) and the schedules `kessai scheduler` runs. The
composition root (kessai.services) imports it; a domain never does.

The calendar (Asia/Tokyo):
- 定期受注 一括決済: every day from 00:10 (subscriptions due on or before today).
- 再オーソリバッチ: each shipping day at the shop's time (default 05:00, weekdays minus the
  shop's 発送日 calendar holidays), orders failed within the last 30 days.
- GMO 洗替依頼: monthly from each GMO PG account's request day (default the 1st, 01:00),
  hourly until it is sent or the deadline day (default the 10th) has passed.
- GMO 洗替結果取得: monthly from the result day and hour (default the 27th, 0時), hourly
  until the result file is applied.
- GMO 継続課金: 売上データ送信 from the 8th 05:00 (until the 17th), 売上結果取得 from the
  18th 06:00, 有効性チェック結果取得 from the 27th 06:00; each hourly until done.
- Every tick: the 取消期限・与信期限 that came within a 自動化設定 rule's N days (one event
  per order, window and N); the next look of each 対象待ち provider notification whose pause
  has passed (kessai.inbox.service.look_pauses).
- 決済結果の自動照会: every hour, orders whose provider answer was lost and orders in
  与信審査中 (payments.unsettled).
"""

from kessai.automation import deadlines as automation_deadlines
from kessai.automation import run as automation_run  # noqa: F401  (自動化設定: its job and listener)
from kessai.cardupdater.jobs import (
    REQUEST_KIND,
    RESULT_KIND,
    month_params,
    request_due,
    result_due,
)
from kessai.imports import (
    payment_statuses,  # noqa: F401
    shipments,  # noqa: F401
)
from kessai.inbox import kind as inbox_kind  # noqa: F401
from kessai.inbox.service import look_again
from kessai.jobs.schedules import TICK_STEPS, Schedule, register_schedule
from kessai.payments import unsettled
from kessai.payments.bulk import kind  # noqa: F401
from kessai.recurring import jobs as recurring
from kessai.subscriptions import (
    billing,  # noqa: F401
    reauthorization,  # noqa: F401
)
from kessai.subscriptions.billing import billing_params, due_billing
from kessai.subscriptions.reauthorization import reauthorization_due, reauthorization_params

BILLING = register_schedule(
    Schedule(
        name="定期受注 一括決済 (毎日)",
        kind="billing",
        due=due_billing,
        params=billing_params,
    )
)
REAUTHORIZATION = register_schedule(
    Schedule(
        name="再オーソリバッチ (発送日)",
        kind="reauthorization",
        due=reauthorization_due,
        params=reauthorization_params,
    )
)
CARD_UPDATER_REQUEST = register_schedule(
    Schedule(name="GMO 洗替依頼 (毎月)", kind=REQUEST_KIND, due=request_due, params=month_params)
)
CARD_UPDATER_RESULT = register_schedule(
    Schedule(
        name="GMO 洗替結果取得 (毎月27日)", kind=RESULT_KIND, due=result_due, params=month_params
    )
)
RECURRING = [
    register_schedule(
        Schedule(name=f"{step.name} (毎月)", kind=step.kind, due=step.due, params=month_params)
    )
    for step in (recurring.SEND, recurring.RESULT, recurring.CHECK)
]
TICK_STEPS["取消期限・与信期限の確認 (自動化設定)"] = automation_deadlines.scan
TICK_STEPS["決済サービスからの通知の再確認 (対象待ち)"] = look_again
UNSETTLED = register_schedule(
    Schedule(name="決済結果の自動照会 (毎時)", kind=unsettled.KIND, due=unsettled.hourly_due)
)
