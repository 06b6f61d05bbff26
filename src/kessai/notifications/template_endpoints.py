"""/api/v1/mail-templates (テンプレートの編集・プレビュー・変数) and /api/v1/mail-settings
(SMTPサーバー, マイページURL)."""

from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kessai.core.db import read_transaction, transaction
from kessai.core.errors import InvalidInput
from kessai.notifications import repository as repo
from kessai.notifications import settings as mail_settings
from kessai.notifications.models import MailTemplate
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
from kessai.web.deps import PrincipalDep, ServicesDep

router = APIRouter(prefix="/api/v1", tags=["メール"])

Subject = Annotated[
    str, StringConstraints(min_length=1, max_length=300, pattern=r"^[^\x00-\x1f\x7f]*$")
]
Body = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=20_000, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
    ),
]
Name = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=100, strip_whitespace=True, pattern=r"^[^\x00-\x1f\x7f]*$"
    ),
]


class Variable(BaseModel):
    name: str
    description: str


class TemplateOut(BaseModel):
    code: str
    name: str
    kind: str
    recipient: str
    builtin: bool
    edited: bool = Field(description="既定の文面から編集されているか")
    subject: str
    body: str
    variables: list[Variable]


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: Subject
    body: Body
    name: Name | None = Field(default=None, description="テンプレート名 (独自テンプレートのみ)")


class CustomTemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    recipient: Recipient = Field(description="customer (顧客宛) / shop (ショップ宛)")
    subject: Subject
    body: Body


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: Subject | None = Field(default=None, description="編集中の件名 (省略時は保存済み)")
    body: Body | None = Field(default=None, description="編集中の本文 (省略時は保存済み)")


class PreviewOut(BaseModel):
    subject: str
    body: str


class TestMailIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: EmailStr


def _variables(spec: TemplateSpec) -> list[Variable]:
    return [Variable(name=n, description=VARIABLES[n][0]) for n in spec.variables]


async def _out(s: AsyncSession, code: str) -> TemplateOut:
    spec, row = await template_spec(s, code)
    text = await template_text(s, code)
    return TemplateOut(
        code=code,
        name=spec.name,
        kind=spec.kind.value,
        recipient=spec.recipient.value,
        builtin=spec.builtin,
        edited=spec.builtin and row is not None,
        subject=text.subject,
        body=text.body,
        variables=_variables(spec),
    )


@router.get("/mail-templates", response_model=list[TemplateOut], summary="メールテンプレートの一覧")
async def list_templates(services: ServicesDep, _: PrincipalDep) -> list[TemplateOut]:
    async with read_transaction(services.sessions) as s:
        custom = [r.code for r in await repo.list_templates(s) if r.code not in BUILTIN]
        return [await _out(s, code) for code in [*BUILTIN, *custom]]


@router.get("/mail-templates/{code}", response_model=TemplateOut, summary="メールテンプレート")
async def get_template(code: str, services: ServicesDep, _: PrincipalDep) -> TemplateOut:
    async with read_transaction(services.sessions) as s:
        return await _out(s, code)


@router.put(
    "/mail-templates/{code}",
    response_model=TemplateOut,
    summary="メールテンプレートの編集 (使えない変数・書式の誤りは 422)",
)
async def put_template(
    code: str, data: TemplateIn, services: ServicesDep, principal: PrincipalDep
) -> TemplateOut:
    async with transaction(services.sessions) as s:
        await save_template(
            s,
            code,
            TemplateText(data.subject, data.body),
            actor=principal.actor,
            now=services.clock.now(),
            name=data.name,
        )
        return await _out(s, code)


@router.post(
    "/mail-templates",
    response_model=TemplateOut,
    status_code=201,
    summary="独自メールテンプレートの追加 (自動化設定のメール用)",
)
async def add_template(
    data: CustomTemplateIn, services: ServicesDep, principal: PrincipalDep
) -> TemplateOut:
    async with transaction(services.sessions) as s:
        spec = custom_spec("custom_0", data.name, data.recipient)
        check_text(spec, TemplateText(data.subject, data.body))
        taken = await s.scalar(select(func.count()).select_from(MailTemplate))
        code = f"custom_{int(taken or 0) + 1}"
        while await repo.get_template(s, code) is not None:
            code = f"custom_{int(code.split('_')[1]) + 1}"
        s.add(
            MailTemplate(
                code=code,
                name=data.name,
                recipient=data.recipient.value,
                subject=data.subject,
                body=data.body,
                updated_by=principal.actor,
                updated_at=services.clock.now(),
            )
        )
        await s.flush()
        return await _out(s, code)


@router.delete(
    "/mail-templates/{code}",
    status_code=204,
    summary="独自テンプレートの削除・既定テンプレートを既定の文面に戻す",
)
async def delete_template(code: str, services: ServicesDep, _: PrincipalDep) -> Response:
    async with transaction(services.sessions) as s:
        await reset_template(s, code)
    return Response(status_code=204)


@router.post(
    "/mail-templates/{code}/preview",
    response_model=PreviewOut,
    summary="プレビュー (変数に見本の値を入れて表示)",
)
async def preview(
    code: str, services: ServicesDep, _: PrincipalDep, data: PreviewIn | None = None
) -> PreviewOut:
    async with read_transaction(services.sessions) as s:
        spec, _saved_row = await template_spec(s, code)
        saved = await template_text(s, code)
    draft = data or PreviewIn()
    text = TemplateText(draft.subject or saved.subject, draft.body or saved.body)
    mail = check_text(spec, text)
    return PreviewOut(subject=mail.subject, body=mail.body)


@router.get(
    "/mail-settings", response_model=mail_settings.MailSettingsOut, summary="メール設定 (SMTP)"
)
async def get_settings(services: ServicesDep, _: PrincipalDep) -> mail_settings.MailSettingsOut:
    async with read_transaction(services.sessions) as s:
        return mail_settings.shown(await mail_settings.load(s), services.settings.smtp_url)


@router.put(
    "/mail-settings",
    response_model=mail_settings.MailSettingsOut,
    summary="メール設定の保存 (パスワードは保存後に表示しません)",
)
async def put_settings(
    data: mail_settings.MailSettingsIn, services: ServicesDep, _: PrincipalDep
) -> mail_settings.MailSettingsOut:
    async with transaction(services.sessions) as s:
        stored = await mail_settings.save(s, services.keyring, data)
    return mail_settings.shown(stored, services.settings.smtp_url)


@router.post("/mail-settings/test", summary="テストメールを今すぐ送信")
async def send_test_mail(
    data: TestMailIn, services: ServicesDep, _: PrincipalDep
) -> dict[str, str]:
    from kessai.notifications import smtp
    from kessai.notifications.models import OutboxMail

    async with read_transaction(services.sessions) as s:
        server = mail_settings.server(
            await mail_settings.load(s), services.keyring, services.settings.smtp_url
        )
    if server is None:
        raise InvalidInput("SMTPサーバーが設定されていません", code="smtp_not_configured")
    now = services.clock.now()
    mail = OutboxMail(
        id=0,
        to_address=str(data.to),
        from_address="no-reply@localhost",
        from_name="kessai",
        subject="【kessai】テストメール",
        body="メール設定のテスト送信です。\n",
        created_at=now,
    )
    try:
        await smtp.send(server, mail)
    except Exception as exc:  # the server's own words help the operator most
        raise InvalidInput(
            f"テストメールを送信できませんでした: {type(exc).__name__}: {exc}",
            code="smtp_send_failed",
        ) from None
    return {"result": "sent", "to": str(data.to)}
