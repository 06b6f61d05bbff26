"""SBPS simulator: an ASGI app answering like SBPS's sandbox XML API (POST /api/xmlapi.do,
Shift_JIS, Basic auth, sps_hashcode checked with the test hash key, pay_method_info taken
only 3DES-encrypted with the test key and IV (else 10105998, the simulator's code)), its records in
kessai's database through the simulator base's store.

APIs: ST01-00131-101 (決済, トークン), ST02-00101-101 (確定), ST02-00201 (売上), ST02-00303
(取消返金), ST02-00307 (部分返金), MG01-00101 (決済結果参照: res_pay_status 1 与信, 2 確定,
3 売上, 4 取消返金), each with its method's suffix (101 クレジット, 401/402/405 the carriers);
決済 and 確定 exist for the card only (a carrier's ST02-00101-40x is answered 40x05000, an
unknown request id). POST /token turns a test card into a one-time token and token_key, as
SBPS's token JS does in the browser.

キャリア決済 (link type, kessai.providers.sbps.link): /f01/FepBuyInfoReceive.do takes the
購入要求 (A01-1) as a Shift_JIS form POST, or the same fields in a GET's query, checks the
merchant, the fields and sps_hashcode in SBPS's order (an error page and nothing recorded
otherwise) and shows the carrier's page; GET /f01/pay?order_id=…&result=OK|NG is the
customer's answer. On OK the payment is held (status 2) and the 結果CGI is posted to
pagecon_url as a signed Shift_JIS form, taken when answered HTTP 200 with a text starting
"OK,"; not taken (no answer, an error status, another text) it is posted again 1, 2, 4 and
8 minutes later, stopping once taken (app.RESEND, sent by the simulator base's notices). Each
attempt is in GET /_records?kind=notice (keyed by tracking id) and GET /_calls?api=結果CGI;
POST /_control {"resend_pauses": [seconds, …]} changes the schedule, {"resend_notice":
"<tracking id>"} posts a taken notice once more. The customer then goes to success_url
(cancel_url on NG, nothing held, no notice).

Test cards (sandbox.py): 4111111111111111 succeeds; 4000000000000028 → 10142001 (soft),
4000000000000655 → 10143001 (final). A sixth authorization of one order (its order_id
without the "-n" of a 再オーソリ) is refused with 10106201.

Faults: POST /_control with the simulator base's switches (latency_seconds, lose_response,
rate_limit (HTTP 429), inject_error {"info": "10199999"}, server_error); `api` is the
request id ("ST01-00131-101" …); {"reset": true}. GET /_calls lists the calls (ids, order
ids as ref, results), GET /_records what it keeps: transactions, issued tokens (brand and
test outcome, never the card number) and carrier purchases awaiting the customer.
"""

from kessai.providers.sbps.sim.app import create_simulator

__all__ = ["create_simulator"]
