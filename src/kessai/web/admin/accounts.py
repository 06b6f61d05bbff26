"""設定 > 外部連携アカウント管理: list, 新規登録, 編集, 接続テスト, 変更履歴."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response

from kessai.accounts import (
    connection_tests,  # noqa: F401 - registers the 接続テスト
    key_exchange,
)
from kessai.accounts import service as accounts
from kessai.accounts.connection import notice
from kessai.accounts.integrations import (
    INTEGRATIONS,
    IntegrationSpec,
    derived_values,
    integration,
    is_configured,
    missing_for_action,
)
from kessai.accounts.models import ProviderAccount
from kessai.accounts.secrets import configured_values as stored_values
from kessai.core.db import transaction
from kessai.core.errors import InvalidInput, KessaiError, NotFound
from kessai.history.repository import list_changes
from kessai.payments.capabilities import PROVIDERS
from kessai.users.service import Permission, Principal
from kessai.web.admin.core import AdminContext, AdminError, read_form, redirect, render
from kessai.web.admin.forms import (
    NAME_FIELD,
    FormErrors,
    Posted,
    build_sections,
    change_views,
    form_errors,
    parse_form,
    visible_fields,
)

MAX_ID = 2**53
AccountId = Annotated[int, Path(ge=1, le=MAX_ID)]
BASE = "/admin/settings/accounts"


@dataclass(frozen=True)
class AccountRow:
    id: int
    integration_name: str
    name: str
    missing: list[str]
    editable: bool
    connection_notice: str | None  # connection.notice: kessai cannot reach its provider

    @property
    def complete(self) -> bool:
        return not self.missing


def _spec_of(account: ProviderAccount) -> IntegrationSpec | None:
    if account.integration is None:
        return None
    try:
        return integration(account.integration)
    except InvalidInput:  # written by a newer version
        return None


def configured_values(
    rows: Sequence[ProviderAccount], *, leave_out: int | None = None
) -> dict[str, Mapping[str, object]]:
    """The other accounts' (masked) values by integration code, preferring a complete one:
    what `shown()` and the cross-integration rules look at."""
    out: dict[str, Mapping[str, object]] = {}
    for row in rows:
        spec = _spec_of(row)
        if spec is None or row.id == leave_out:
            continue
        values = accounts.display_values(row)
        if spec.code not in out or not is_configured(spec, out[spec.code]):
            out[spec.code] = values
    return out


def _actions(spec: IntegrationSpec, stored: Mapping[str, object] | None) -> list[dict[str, Any]]:
    exchanged = key_exchange.exchange_of(spec.code) is not None
    return [
        {
            "label": action.label,
            "help": action.help,
            "missing": missing_for_action(spec, action.key, stored or {}),
            # 「Amazonアカウント新規登録・連携」 is its own panel (its own form).
            "key_exchange": exchanged and action.key == "link_account",
        }
        for action in spec.actions
    ]


def _key_exchange(spec: IntegrationSpec, account: ProviderAccount | None) -> dict[str, Any] | None:
    """The 連携 panel of an account whose keys the provider hands over."""
    if account is None or key_exchange.exchange_of(spec.code) is None:
        return None
    linked = key_exchange.is_linked(spec.code, stored_values(account))
    return {
        "linked": linked,
        "label": key_exchange.LINKED if linked else key_exchange.NOT_LINKED,
        "action": next((a for a in spec.actions if a.key == "link_account"), None),
    }


def add_account_routes(router: APIRouter, ctx: AdminContext) -> None:
    view = Depends(ctx.require(Permission.ACCOUNTS_VIEW))
    edit = Depends(ctx.require(Permission.ACCOUNTS_EDIT, csrf=True))
    test = Depends(ctx.require(Permission.ACCOUNTS_TEST, csrf=True))

    async def all_accounts() -> Sequence[ProviderAccount]:
        async with transaction(ctx.services.sessions) as s:
            return await accounts.list_accounts(s)

    def form_page(
        request: Request,
        spec: IntegrationSpec,
        *,
        account: ProviderAccount | None,
        others: Mapping[str, Mapping[str, object]],
        name: str = "",
        posted: Posted | None = None,
        errors: FormErrors | None = None,
        history: Sequence[Any] = (),
        status_code: int = 200,
    ) -> Response:
        stored = accounts.display_values(account) if account is not None else None
        errors = errors or FormErrors()
        return render(
            request,
            "account_form.html",
            {
                "nav": "accounts",
                "spec": spec,
                "account": account,
                "name": name or (account.name if account is not None else ""),
                "name_field": NAME_FIELD,
                "name_errors": errors.by_field.get(NAME_FIELD, []),
                "sections": build_sections(
                    spec,
                    stored=stored,
                    configured=others,
                    submitted=posted.typed if posted is not None else None,
                    errors=errors,
                    derived=derived_values(spec, str(request.base_url)),
                    files=accounts.file_infos(account) if account is not None else None,
                ),
                "errors": errors,
                "retype_secrets": posted is not None and posted.secrets_typed and errors.count,
                "missing": accounts.missing_fields(account) if account is not None else [],
                "connection_notice": notice(account)
                if account is not None
                else accounts.new_account_notice(ctx.services, spec),
                "actions": _actions(spec, stored),
                "key_exchange": _key_exchange(spec, account),
                "history": history,
                "action_url": f"{BASE}/{account.id}"
                if account is not None
                else f"{BASE}/new/{spec.code}",
            },
            status_code=status_code,
        )

    @router.get("/settings/accounts", summary="外部連携アカウント一覧")
    async def account_list(request: Request, _: Annotated[Principal, view]) -> Response:
        rows = []
        for account in await all_accounts():
            spec = _spec_of(account)
            rows.append(
                AccountRow(
                    id=account.id,
                    integration_name=spec.name
                    if spec
                    else PROVIDERS.get(account.provider, account.provider),
                    name=account.name,
                    missing=accounts.missing_fields(account) if spec else [],
                    editable=spec is not None,
                    connection_notice=notice(account),
                )
            )
        return render(request, "accounts.html", {"nav": "accounts", "rows": rows})

    @router.get("/settings/accounts/new", summary="外部連携アカウント新規登録: 連携先の選択")
    async def choose_integration(request: Request, _: Annotated[Principal, view]) -> Response:
        counts: dict[str, int] = {}
        for account in await all_accounts():
            if account.integration:
                counts[account.integration] = counts.get(account.integration, 0) + 1
        unconnected = {
            spec.code
            for spec in INTEGRATIONS
            if accounts.new_account_notice(ctx.services, spec) is not None
        }
        return render(
            request,
            "account_choose.html",
            {
                "nav": "accounts",
                "integrations": INTEGRATIONS,
                "counts": counts,
                "unconnected": unconnected,
            },
        )

    @router.get("/settings/accounts/new/{code}", summary="外部連携アカウント新規登録")
    async def new_account(
        request: Request, code: Annotated[str, Path(max_length=40)], _: Annotated[Principal, view]
    ) -> Response:
        spec = _integration_or_404(code)
        others = configured_values(await all_accounts())
        return form_page(request, spec, account=None, others=others, name=spec.name)

    @router.post("/settings/accounts/new/{code}", summary="外部連携アカウントを登録")
    async def create(
        request: Request, code: Annotated[str, Path(max_length=40)], who: Annotated[Principal, edit]
    ) -> Response:
        spec = _integration_or_404(code)
        others = configured_values(await all_accounts())
        form = await read_form(request)
        name = str(form.get(NAME_FIELD) or "")
        posted = await parse_form(visible_fields(spec, others), form)
        try:
            await accounts.create_account(
                ctx.services, spec.code, name, posted.values, actor=who.actor
            )
        except InvalidInput as exc:
            errors = _errors_of(exc, spec, others)
            return form_page(
                request,
                spec,
                account=None,
                others=others,
                name=name,
                posted=posted,
                errors=errors,
                status_code=422,
            )
        return redirect(BASE, flash="created")

    @router.get("/settings/accounts/{account_id}", summary="外部連携アカウント編集")
    async def edit_account(
        request: Request, account_id: AccountId, _: Annotated[Principal, view]
    ) -> Response:
        account, spec, others, history = await _load(account_id)
        return form_page(request, spec, account=account, others=others, history=history)

    @router.post("/settings/accounts/{account_id}", summary="外部連携アカウントを保存")
    async def update(
        request: Request, account_id: AccountId, who: Annotated[Principal, edit]
    ) -> Response:
        account, spec, others, history = await _load(account_id)
        form = await read_form(request)
        name = str(form.get(NAME_FIELD) or "")
        posted = await parse_form(visible_fields(spec, others), form)
        try:
            await accounts.update_account(
                ctx.services,
                account_id,
                posted.values,
                clear=posted.clear,
                actor=who.actor,
                name=name,
            )
        except InvalidInput as exc:
            return form_page(
                request,
                spec,
                account=account,
                others=others,
                name=name,
                posted=posted,
                errors=_errors_of(exc, spec, others),
                history=history,
                status_code=422,
            )
        return redirect(f"{BASE}/{account_id}", flash="saved")

    @router.post("/settings/accounts/{account_id}/test", summary="接続テスト")
    async def connection_test(
        request: Request, account_id: AccountId, _: Annotated[Principal, test]
    ) -> Response:
        try:
            result = await accounts.test_connection(ctx.services, account_id)
        except KessaiError as exc:
            return render(request, "_result.html", {"ok": False, "message": exc.message})
        detail = result.detail
        return render(
            request,
            "_result.html",
            {"ok": result.ok, "message": result.message, "detail": detail or None},
        )

    async def _load(
        account_id: int,
    ) -> tuple[ProviderAccount, IntegrationSpec, dict[str, Mapping[str, object]], list[Any]]:
        async with transaction(ctx.services.sessions) as s:
            account = await accounts.get_account(s, account_id)
            rows = await accounts.list_accounts(s)
            records = await list_changes(s, accounts.HISTORY_ENTITY, account_id)
        spec = _spec_of(account)
        if spec is None:
            raise AdminError(
                409,
                "編集できません",
                "この外部連携アカウントは連携先が登録されていないため、画面から編集できません",
            )
        return (
            account,
            spec,
            configured_values(rows, leave_out=account_id),
            change_views(spec, records),
        )


def _integration_or_404(code: str) -> IntegrationSpec:
    try:
        return integration(code)
    except InvalidInput as exc:
        raise NotFound(exc.message) from None


def _errors_of(
    exc: InvalidInput, spec: IntegrationSpec, others: Mapping[str, Mapping[str, object]]
) -> FormErrors:
    errors = form_errors(exc.detail, visible_fields(spec, others), name_field=True)
    if not errors.count:  # not a field problem (e.g. a duplicate name): show the message
        errors.general.append(exc.message)
    return errors
