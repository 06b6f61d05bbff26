"""The 29 integrations of seed 001 (外部連携アカウント管理), in the seed's order, then the
providers kessai connects to directly (30 KOMOJU, defs_direct: 31 PayPay)."""

from kessai.accounts.integrations.defs_cards import (
    GMO_EPSILON,
    GMO_PG,
    PAYGENT,
    SBPS,
    SBPS_CARRIER,
    VERITRANS,
    YAMATO,
    ZEUS,
)
from kessai.accounts.integrations.defs_deferred import (
    ATOBARAI_COM,
    ATODINE,
    ATONE,
    DENSAN,
    GMO_ATOBARAI,
    NP_ATOBARAI,
    NP_ATOBARAI_REALTIME,
    PAIDY,
    SCORE,
    YAMATO_ATOBARAI,
)
from kessai.accounts.integrations.defs_direct import PAYPAY
from kessai.accounts.integrations.defs_komoju import KOMOJU
from kessai.accounts.integrations.defs_other import (
    AMAZON_PAY,
    AMAZON_PAY_V2,
    AT_SCORE,
    LINE_ID,
    LINE_PAY,
    MAIL_DEALER,
    ONE_D_COLOR,
    PAYPAL,
    PRODUCT_DATA_FEED,
    RELATION,
    REMISE_TENKEY,
)
from kessai.accounts.integrations.fields import IntegrationSpec
from kessai.core.errors import InvalidInput

INTEGRATIONS: tuple[IntegrationSpec, ...] = (
    GMO_PG,
    GMO_ATOBARAI,
    GMO_EPSILON,
    YAMATO,
    YAMATO_ATOBARAI,
    PAYGENT,
    SBPS,
    ZEUS,
    VERITRANS,
    SBPS_CARRIER,
    SCORE,
    NP_ATOBARAI,
    NP_ATOBARAI_REALTIME,
    ATOBARAI_COM,
    ATODINE,
    ATONE,
    PAIDY,
    AMAZON_PAY,
    AMAZON_PAY_V2,
    LINE_PAY,
    DENSAN,
    RELATION,
    MAIL_DEALER,
    LINE_ID,
    PAYPAL,
    ONE_D_COLOR,
    PRODUCT_DATA_FEED,
    REMISE_TENKEY,
    AT_SCORE,
    KOMOJU,
    PAYPAY,
)

_BY_CODE = {spec.code: spec for spec in INTEGRATIONS}


def integration(code: str) -> IntegrationSpec:
    try:
        return _BY_CODE[code]
    except KeyError:
        raise InvalidInput(
            f"外部連携アカウント「{code}」は存在しません",
            code="unknown_integration",
            detail={"integration": code},
        ) from None
