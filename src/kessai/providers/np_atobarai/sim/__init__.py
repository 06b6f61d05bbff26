"""NP後払い simulator: an ASGI app answering like NP's test environment (JSON over
/v1/…, Basic auth 加盟店コード:SP_CODE, X-NP-Terminal-Id), its state in kessai's database
through the simulator base's store.

APIs: POST /v1/transactions (取引登録), PATCH /v1/transactions/update (取引変更),
PATCH /v1/transactions/cancel (取消), POST /v1/shipments (出荷報告),
POST /v1/authorizations/find (与信結果), POST /v1/transactions/find (取引状況).

Test amounts (billed_amount) pick the credit check, like a test card:
- any other amount: 00 (与信OK)
- 29001: 20 NG001 (限度額超過); 29002: 20 NG999 (その他: final)
- 29003: 10 保留 RE009 + RE021, 00 once NP has looked again (the next find)
- 29004: 10 保留 RE026, then 20 NG999
- 29005: RE (再登録)
Input NP refuses (400 E0100002 / E0100003): no name, a zip that is not 7 digits, an address
without its 都道府県, a phone number that is not 10–11 digits, goods not adding up to
billed_amount, an unknown pd_company_code or an empty slip_no.

Faults: POST /_control with the simulator base's switches (latency_seconds, lose_response,
rate_limit (HTTP 429), inject_error {"info": "E0100002"}, server_error), the api being the
path after /v1 ("transactions", "shipments", "transactions/find" …); {"reset": true}.
GET /_calls lists the calls answered (paths and results, never the buyer's address),
GET /_records the transactions kept.
"""

from kessai.providers.np_atobarai.sim.app import create_simulator

__all__ = ["create_simulator"]
