"""メールテンプレート and メール設定 in the admin: each template with its variables, edited
with a live preview (htmx), back to the default; the SMTP server and the マイページ URL."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import ValidationError

from kessai.core.db import transaction
from kessai.core.errors import InvalidInput, KessaiError
from kessai.notifications import repository as repo
from kessai.notifications import settings as mail_settings
from kessai.notifications.service import (
    reset_template,
    save_template,
    template_spec,
    template_text,
)
from kessai.notifications.templates import (
    BUILTIN,
    VARIABLES,
    Recipient,
    TemplateSpec,
    TemplateText,
    check_text,
    custom_spec,
)
from kessai.users.service import Permission, Principal
from kessai.web.admin.core import AdminContext, read_form, redirect, render

Code = Annotated[str, Path(max_length=60, pattern=r"^[a-z0-9_.]+$")]
BASE = "/admin/settings/mail-templates"


def add_mail_routes(router: APIRouter, ctx: AdminContext) -> None:
    edit = Depends(ctx.require(Permission.SETTINGS_EDIT))
    post = Depends(ctx.require(Permission.SETTINGS_EDIT, csrf=True))

    async def spec_of(code: str) -> tuple[TemplateSpec, bool]:
        async with transaction(ctx.services.sessions) as s:
            spec, row = await template_spec(s, code)
        return spec, row is not None

    async def page(
        request: Request, code: str, text: TemplateText | None, error: str | None
    ) -> Response:
        spec, edited = await spec_of(code)
        if text is None:
            async with transaction(ctx.services.sessions) as s:
                text = await template_text(s, code)
        variables = [(n, VARIABLES[n][0]) for n in spec.variables]
        return render(
            request,
            "mail_template.html",
            {
                "nav": "mail_templates",
                "spec": spec,
                "edited": edited,
                "text": text,
                "variables": variables,
                "error": error,
            },
            status_code=422 if error else 200,
        )

    @router.get("/settings/mail-templates", summary="メールテンプレート")
    async def templates(request: Request, _: Annotated[Principal, edit]) -> Response:
        async with transaction(ctx.services.sessions) as s:
            rows = {r.code: r for r in await repo.list_templates(s)}
        listed = [(spec, spec.code in rows) for spec in BUILTIN.values()]
        listed += [
            (custom_spec(r.code, r.name, Recipient(r.recipient)), True)
            for r in rows.values()
            if r.code not in BUILTIN
        ]
        return render(request, "mail_templates.html", {"nav": "mail_templates", "rows": listed})

    @router.get("/settings/mail-templates/{code}", summary="メールテンプレートの編集")
    async def show(request: Request, code: Code, _: Annotated[Principal, edit]) -> Response:
        return await page(request, code, None, None)

    @router.post("/settings/mail-templates/{code}", summary="メールテンプレートを保存")
    async def save(request: Request, code: Code, who: Annotated[Principal, post]) -> Response:
        form = await read_form(request)
        text = TemplateText(str(form.get("subject") or ""), str(form.get("body") or ""))
        if not text.subject.strip() or not text.body.strip():
            return await page(request, code, text, "件名と本文を入力してください")
        try:
            async with transaction(ctx.services.sessions) as s:
                await save_template(s, code, text, actor=who.actor, now=ctx.services.clock.now())
        except InvalidInput as exc:
            return await page(request, code, text, exc.message)
        return redirect(f"{BASE}/{code}", flash="saved")

    @router.post("/settings/mail-templates/{code}/preview", summary="プレビュー")
    async def preview(request: Request, code: Code, _: Annotated[Principal, post]) -> Response:
        form = await read_form(request)
        text = TemplateText(str(form.get("subject") or ""), str(form.get("body") or ""))
        spec, _edited = await spec_of(code)
        try:
            mail = check_text(spec, text)
        except KessaiError as exc:
            return render(request, "_result.html", {"ok": False, "message": exc.message})
        return render(request, "_mail_preview.html", {"mail": mail})

    @router.post("/settings/mail-templates/{code}/reset", summary="既定の文面に戻す")
    async def reset(code: Code, _: Annotated[Principal, post]) -> Response:
        if code in BUILTIN:
            async with transaction(ctx.services.sessions) as s:
                await reset_template(s, code)
        return redirect(f"{BASE}/{code}", flash="saved")

    @router.get("/settings/mail", summary="メール設定")
    async def settings_page(request: Request, _: Annotated[Principal, edit]) -> Response:
        async with transaction(ctx.services.sessions) as s:
            stored = await mail_settings.load(s)
        shown = mail_settings.shown(stored, ctx.services.settings.smtp_url)
        return render(request, "mail_settings.html", {"nav": "mail", "s": shown, "errors": []})

    @router.post("/settings/mail", summary="メール設定を保存")
    async def save_settings(request: Request, _: Annotated[Principal, post]) -> Response:
        form = await read_form(request)
        raw = {
            "smtp_host": str(form.get("smtp_host") or "").strip() or None,
            "smtp_port": str(form.get("smtp_port") or "25").strip(),
            "smtp_starttls": form.get("smtp_starttls") == "on",
            "smtp_username": str(form.get("smtp_username") or "").strip() or None,
            "smtp_password": str(form.get("smtp_password") or "") or None,
            "card_change_url": str(form.get("card_change_url") or "").strip() or None,
        }
        try:
            data = mail_settings.MailSettingsIn.model_validate(raw)
        except ValidationError as exc:
            labels = {
                "smtp_host": "SMTPサーバー",
                "smtp_port": "ポート番号",
                "smtp_username": "ユーザー名",
                "smtp_password": "パスワード",
                "card_change_url": "マイページのカード変更URL",
            }
            errors = [
                f"「{labels.get(str(e['loc'][0]), str(e['loc'][0]))}」の入力が正しくありません"
                for e in exc.errors()
            ]
            async with transaction(ctx.services.sessions) as s:
                shown = mail_settings.shown(
                    await mail_settings.load(s), ctx.services.settings.smtp_url
                )
            return render(
                request,
                "mail_settings.html",
                {"nav": "mail", "s": shown, "errors": errors},
                status_code=422,
            )
        async with transaction(ctx.services.sessions) as s:
            await mail_settings.save(s, ctx.services.keyring, data)
        return redirect("/admin/settings/mail", flash="saved")
