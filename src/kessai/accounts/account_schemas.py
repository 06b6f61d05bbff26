"""Request and response shapes of /api/v1/integrations and /api/v1/provider-accounts."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kessai.accounts.integrations import FieldSpec, IntegrationSpec

VALUES_HELP = (
    "項目キー → 値。秘密情報(パスワード・鍵)を空にして送ると保存済みの値がそのまま残ります。"
    'ファイル項目は {"filename": "client.pem", "content_base64": "…", "password": "…"(任意)}。'
)


class ChoiceOut(BaseModel):
    value: str
    label: str


class FieldOut(BaseModel):
    key: str
    label: str
    kind: str = Field(description="text, secret, file, flag, choice, url, number")
    help: str
    required: bool = Field(description="利用(支払い方法の有効化)に必要")
    required_if: list[str] = Field(description="このフラグ項目が有効なら入力必須")
    default: Any
    choices: list[ChoiceOut]
    flag_labels: list[str] = Field(description="flag の [有効時, 無効時] の表示")
    secret: bool = Field(description="保存後は表示されない(マスク)")
    file_format: str | None
    file_format_label: str | None
    password_field: str | None
    read_only: bool
    resets: str | None = Field(description="チェックして保存するとこの項目を空に戻す")
    only_with: list[str] = Field(description="いずれかの連携が設定済みの場合のみ表示")
    max_length: int | None
    min_value: int | None
    max_value: int | None


class SectionOut(BaseModel):
    title: str
    fields: list[FieldOut]


class ActionOut(BaseModel):
    key: str
    label: str
    help: str
    requires: list[str]


class IntegrationOut(BaseModel):
    number: int = Field(description="仕様(外部連携アカウント管理)での番号 1〜29")
    code: str
    name: str
    description: str
    provider: str | None
    payment: bool = Field(description="支払い方法を持つ連携")
    channels: list[str]
    switch: str | None
    requires_any: list[str]
    sections: list[SectionOut]
    actions: list[ActionOut]
    notes: list[str]
    secret_fields: list[str]
    connection_test: bool = Field(description="接続テストに対応")


class FileInfoOut(BaseModel):
    filename: str | None
    size: int
    subject: str | None
    not_after: datetime | None


class AccountOut(BaseModel):
    id: int
    integration: str | None
    integration_name: str | None
    name: str
    provider: str
    connector: str
    simulated: bool
    connected: bool = Field(
        description="決済代行会社へ接続できる (false: 決済処理は provider_not_connected)"
    )
    connection_notice: str | None = Field(
        description="接続できない場合の説明 (「決済代行会社との接続: 未対応」の理由と代わりの連携)"
    )
    values: dict[str, Any] = Field(description="秘密情報は設定済みなら ******** 、未設定なら null")
    files: dict[str, FileInfoOut]
    missing: list[str] = Field(description="未入力の必須項目(表示名)")
    complete: bool
    created_at: datetime
    updated_at: datetime


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    integration: str = Field(max_length=40, description="連携コード (GET /integrations)")
    name: str = Field(max_length=1000, description="アカウント名")
    values: dict[str, Any] = Field(default_factory=dict, description=VALUES_HELP)


class AccountUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=1000)
    values: dict[str, Any] = Field(default_factory=dict, description=VALUES_HELP)
    clear: list[str] = Field(default_factory=list, description="空にする項目キー")


class ConnectionTestOut(BaseModel):
    ok: bool
    message: str
    detail: dict[str, Any]


class AccountChangeOut(BaseModel):
    id: int
    field: str
    field_label: str
    before: str | None
    after: str | None
    actor: str
    created_at: datetime


def field_out(spec: FieldSpec) -> FieldOut:
    return FieldOut(
        key=spec.key,
        label=spec.label,
        kind=spec.kind.value,
        help=spec.help,
        required=spec.required,
        required_if=list(spec.required_if),
        default=spec.default,
        choices=[ChoiceOut(value=v, label=label) for v, label in spec.choices],
        flag_labels=list(spec.flag_labels),
        secret=spec.is_secret,
        file_format=spec.file_format.value if spec.file_format else None,
        file_format_label=spec.file_format.label if spec.file_format else None,
        password_field=spec.password_field,
        read_only=spec.read_only,
        resets=spec.resets,
        only_with=list(spec.only_with),
        max_length=spec.limit,
        min_value=spec.min_value,
        max_value=spec.max_value,
    )


def integration_out(spec: IntegrationSpec, *, connection_test: bool) -> IntegrationOut:
    return IntegrationOut(
        number=spec.number,
        code=spec.code,
        name=spec.name,
        description=spec.description,
        provider=spec.provider,
        payment=spec.is_payment,
        channels=[c.value for c in spec.channels],
        switch=spec.switch,
        requires_any=list(spec.requires_any),
        sections=[
            SectionOut(title=section.title, fields=[field_out(f) for f in section.fields])
            for section in spec.sections
        ],
        actions=[
            ActionOut(key=a.key, label=a.label, help=a.help, requires=list(a.requires))
            for a in spec.actions
        ],
        notes=list(spec.notes),
        secret_fields=sorted(f.key for f in spec.fields if f.is_secret),
        connection_test=connection_test,
    )
