"""設定: 支払い方法管理 (methods per account, channels, the seed-003 flags offered only where
the method has them), ショップ設定 (クレジットカード変更, 発送日 calendar, 再オーソリ time) and
ユーザー・権限 (users, and each role's per-operation permissions)."""

from datetime import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from sqlalchemy import select
from starlette.datastructures import FormData

from kessai.accounts import methods as pm
from kessai.accounts.integrations import ALL_CHANNELS
from kessai.core.db import transaction
from kessai.core.errors import Conflict, InvalidInput, NotFound
from kessai.orders.schemas import MAX_ID
from kessai.shop.schemas import WEEKDAY_LABELS, ShopSettingsPatch
from kessai.shop.service import get_shop_settings, update_shop_settings
from kessai.users.models import AdminUser
from kessai.users.roles import (
    ADMIN_ONLY,
    EDITABLE_ROLES,
    PERMISSION_LABELS,
    parse_permissions,
    role_grants,
    set_role_grants,
)
from kessai.users.service import Permission, Principal, Role, create_user, parse_role
from kessai.web.admin import inputs
from kessai.web.admin.core import AdminContext, read_form, redirect, render
from kessai.web.admin.order_detail import when

RowId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _required_yen(form: FormData, name: str, label: str) -> int:
    value = inputs.yen(form, name, label)
    if value is None:
        raise InvalidInput(f"{label}を入力してください", code="amount_required")
    return value


def add_settings_routes(router: APIRouter, ctx: AdminContext) -> None:
    # --- 支払い方法管理 ---------------------------------------------------------------------

    @router.get("/settings/methods", summary="支払い方法管理")
    async def methods(
        request: Request,
        principal: Annotated[Principal, Depends(ctx.require(Permission.ACCOUNTS_VIEW))],
    ) -> Response:
        async with transaction(ctx.services.sessions) as s:
            views = await pm.list_methods(s)
        return render(
            request,
            "methods.html",
            {
                "nav": "methods",
                "views": views,
                "channel_labels": {c.value: c.label for c in ALL_CHANNELS},
                "can_edit": principal.can(Permission.ACCOUNTS_EDIT),
            },
        )

    @router.get("/settings/methods/{method_id}", summary="支払い方法の編集")
    async def method_form(
        request: Request,
        method_id: RowId,
        principal: Annotated[Principal, Depends(ctx.require(Permission.ACCOUNTS_VIEW))],
    ) -> Response:
        async with transaction(ctx.services.sessions) as s:
            view = await pm.get_method(s, method_id)
        return _method_page(request, view, principal, errors=[])

    def _method_page(
        request: Request, view: pm.MethodView, principal: Principal, errors: list[str]
    ) -> Response:
        m = view.method
        offered = pm.offered_flags(m.provider, m.method_type)
        return render(
            request,
            "method_form.html",
            {
                "nav": "methods",
                "view": view,
                "method": m,
                "channels": [(c.value, c.label) for c in pm.allowed_channels(view.account)],
                "flags": [(f, pm.FLAG_LABELS[f], getattr(m, f)) for f in offered],
                "can_edit": principal.can(Permission.ACCOUNTS_EDIT),
                "errors": errors,
            },
            status_code=422 if errors else 200,
        )

    @router.post("/settings/methods/{method_id}", summary="支払い方法を保存")
    async def save_method(
        request: Request,
        method_id: RowId,
        principal: Annotated[Principal, Depends(ctx.require(Permission.ACCOUNTS_EDIT, csrf=True))],
    ) -> Response:
        form = await read_form(request)
        async with transaction(ctx.services.sessions) as s:
            view = await pm.get_method(s, method_id)
            m = view.method
            changes: dict[str, Any] = {
                "name": inputs.text(form, "name", "支払い方法名", pm.MAX_NAME),
                "enabled": form.get("enabled") == "1",
                "channels": [c for c in form.getlist("channels") if isinstance(c, str)],
                "min_amount": _required_yen(form, "min_amount", "下限金額"),
                "max_amount": _required_yen(form, "max_amount", "上限金額"),
            }
            # Only the flags this method has are on the form; the others stay as they are.
            for flag in pm.offered_flags(m.provider, m.method_type):
                changes[flag] = form.get(flag) == "1"
            try:
                await pm.update_method(
                    s, method_id, changes, actor=principal.actor, now=ctx.services.clock.now()
                )
            except (InvalidInput, Conflict) as exc:
                errors = [e["message"] for e in exc.detail.get("errors", [])] or [exc.message]
                return _method_page(request, view, principal, errors)
        return redirect(f"/admin/settings/methods/{method_id}", flash="saved")

    # --- ショップ設定 -------------------------------------------------------------------------

    @router.get("/settings/shop", summary="ショップ設定")
    async def shop(
        request: Request,
        principal: Annotated[Principal, Depends(ctx.require(Permission.ACCOUNTS_VIEW))],
    ) -> Response:
        async with transaction(ctx.services.sessions) as s:
            current = await get_shop_settings(s)
        return render(
            request,
            "shop_settings.html",
            {
                "nav": "shop",
                "shop": current,
                "weekdays": list(enumerate(WEEKDAY_LABELS)),
                "dates": "\n".join(d.strftime("%Y/%m/%d") for d in current.non_shipping_dates),
                "can_edit": principal.can(Permission.ACCOUNTS_EDIT),
            },
        )

    @router.post("/settings/shop", summary="ショップ設定を保存")
    async def save_shop(
        request: Request,
        principal: Annotated[Principal, Depends(ctx.require(Permission.ACCOUNTS_EDIT, csrf=True))],
    ) -> Response:
        form = await read_form(request)
        raw_time = inputs.text(form, "reauthorization_time", "再オーソリの実行時刻", 5)
        try:
            at = time.fromisoformat(raw_time)
        except ValueError:
            raise InvalidInput(
                "再オーソリの実行時刻は HH:MM で入力してください", code="invalid_time"
            ) from None
        days = [d for d in form.getlist("shipping_weekdays") if isinstance(d, str) and d.isdigit()]
        raw_dates = form.get("non_shipping_dates")
        lines = raw_dates.replace("\r", "")[:4000] if isinstance(raw_dates, str) else ""
        patch = ShopSettingsPatch(
            shop_name=inputs.text(form, "shop_name", "ショップ名", 100) or "ショップ",
            card_change_allowed=form.get("card_change_allowed") == "1",
            mail_from=inputs.text(form, "mail_from", "送信元メールアドレス") or None,
            notification_email=inputs.text(form, "notification_email", "通知先メールアドレス")
            or None,
            reauthorization_time=at,
            shipping_weekdays=[int(d) for d in days],
            non_shipping_dates=[
                d for line in lines.split("\n") if (d := inputs.day(line, "発送しない日"))
            ],
        )
        async with transaction(ctx.services.sessions) as s:
            await update_shop_settings(
                s, patch, actor=principal.actor, now=ctx.services.clock.now()
            )
        return redirect("/admin/settings/shop", flash="saved")

    # --- ユーザー・権限 ------------------------------------------------------------------------

    manage = Permission.USERS_MANAGE

    @router.get("/settings/users", summary="ユーザー・権限")
    async def users(
        request: Request, _: Annotated[Principal, Depends(ctx.require(manage))]
    ) -> Response:
        async with transaction(ctx.services.sessions) as s:
            found = (await s.scalars(select(AdminUser).order_by(AdminUser.id))).all()
            grants = await role_grants(s)
        return render(
            request,
            "users.html",
            {
                "nav": "users",
                "users": [
                    {
                        "id": u.id,
                        "email": u.email,
                        "name": u.name,
                        "role": u.role,
                        "active": u.active,
                        "last_login": when(u.last_login_at),
                    }
                    for u in found
                ],
                "roles": [(r.value, r.label) for r in Role],
                "editable_roles": [(r.value, r.label) for r in EDITABLE_ROLES],
                "permissions": [(p.value, PERMISSION_LABELS[p]) for p in Permission],
                "admin_only": {p.value for p in ADMIN_ONLY},
                "grants": {r.value: {p.value for p in grants[r]} for r in Role},
            },
        )

    @router.post("/settings/users", summary="ユーザーを登録")
    async def add_user(
        request: Request,
        principal: Annotated[Principal, Depends(ctx.require(manage, csrf=True))],
    ) -> Response:
        form = await read_form(request)
        password = form.get("password")
        async with transaction(ctx.services.sessions) as s:
            await create_user(
                s,
                email=inputs.text(form, "email", "メールアドレス"),
                name=inputs.text(form, "name", "名前", 100),
                password=password if isinstance(password, str) else "",
                role=parse_role(inputs.text(form, "role", "ロール", 20)),
                now=ctx.services.clock.now(),
            )
        return redirect("/admin/settings/users", flash="saved")

    @router.post("/settings/users/{user_id}", summary="ユーザーのロール・有効状態を変更")
    async def change_user(
        request: Request,
        user_id: RowId,
        principal: Annotated[Principal, Depends(ctx.require(manage, csrf=True))],
    ) -> Response:
        form = await read_form(request)
        if user_id == principal.user_id:
            raise Conflict(
                "自分自身のロール・有効状態は変更できません(他の管理者に依頼してください)",
                code="own_account",
            )
        role = parse_role(inputs.text(form, "role", "ロール", 20))
        async with transaction(ctx.services.sessions) as s:
            user = await s.get(AdminUser, user_id)
            if user is None:
                raise NotFound(f"ユーザーが見つかりませんでした (id: {user_id})")
            user.role = role.value
            user.active = form.get("active") == "1"
            user.updated_at = ctx.services.clock.now()
        return redirect("/admin/settings/users", flash="saved")

    @router.post("/settings/roles/{role}", summary="ロールの権限を変更")
    async def change_role(
        request: Request,
        role: Annotated[str, Path(max_length=20)],
        principal: Annotated[Principal, Depends(ctx.require(manage, csrf=True))],
    ) -> Response:
        form = await read_form(request)
        codes = [c for c in form.getlist("permissions") if isinstance(c, str)]
        async with transaction(ctx.services.sessions) as s:
            await set_role_grants(
                s,
                parse_role(role),
                parse_permissions(codes),
                actor=principal.actor,
                now=ctx.services.clock.now(),
            )
        return redirect("/admin/settings/users", flash="saved")
