"""設定 > 外部連携アカウント管理 > 「Amazonアカウント新規登録・連携」: the button makes the
account's key pair and hands the operator's browser the registration form, posted to the
provider's registration page (the simulator's in the Sandbox)."""

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request, Response

from kessai.accounts import key_exchange
from kessai.users.service import Permission, Principal
from kessai.web.admin.accounts import BASE, AccountId
from kessai.web.admin.core import SECURITY_HEADERS, AdminContext, render


def add_key_exchange_routes(router: APIRouter, ctx: AdminContext) -> None:
    edit = Depends(ctx.require(Permission.ACCOUNTS_EDIT, csrf=True))

    @router.post(
        "/settings/accounts/{account_id}/key-exchange",
        summary="Amazonアカウント新規登録・連携を始める",
    )
    async def start_key_exchange(
        request: Request, account_id: AccountId, who: Annotated[Principal, edit]
    ) -> Response:
        started = await key_exchange.start(
            ctx.services, account_id, str(request.base_url), actor=who.actor
        )
        response = render(
            request,
            "account_key_exchange.html",
            {
                "nav": "accounts",
                "account_id": account_id,
                "back": f"{BASE}/{account_id}",
                "registration_url": started.url,
                "fields": started.fields,
            },
        )
        # This one page's form goes to the provider's registration page.
        target = urlsplit(started.url)
        policy = SECURITY_HEADERS["Content-Security-Policy"].replace(
            "form-action 'self'", f"form-action 'self' {target.scheme}://{target.netloc}"
        )
        response.headers["Content-Security-Policy"] = policy
        return response
