"""The installation's calendar, in one place: which job runs when (Asia/Tokyo).

- 定期受注 一括決済: every day from 00:10 (subscriptions due on or before today).
- 再オーソリバッチ: each shipping day at the shop's time (default 05:00, weekdays minus the
  shop's 発送日 calendar holidays), orders failed within the last 30 days.
"""

from kessai.jobs.schedules import Schedule, register_schedule
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
