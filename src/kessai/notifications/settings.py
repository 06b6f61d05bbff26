"""メール設定: the SMTP server (set in the admin or the API; KESSAI_SMTP_URL when unset) and
the マイページ URL the templates link to. The password is sealed and never shown again."""

from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession

from kessai.core.crypto import Keyring
from kessai.core.models import AppSetting

KEY = "mail_settings"
PASSWORD_CONTEXT = "mail_settings.smtp_password"  # noqa: S105 - the sealing context
Host = Annotated[
    str, StringConstraints(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.\-:\[\]]+$")
]
Text = Annotated[str, StringConstraints(max_length=254, pattern=r"^[^\x00-\x1f\x7f]*$")]


class MailSettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    smtp_host: Host | None = Field(
        default=None, description="SMTPサーバー (未設定なら KESSAI_SMTP_URL)"
    )
    smtp_port: int = Field(default=25, ge=1, le=65535, description="ポート番号")
    smtp_starttls: bool = Field(default=False, description="STARTTLS を使う")
    smtp_username: Text | None = Field(default=None, description="SMTP認証のユーザー名")
    smtp_password: Text | None = Field(
        default=None, description="SMTP認証のパスワード (保存後は表示しません。省略すると変更なし)"
    )
    card_change_url: (
        Annotated[str, StringConstraints(max_length=2000, pattern=r"^https?://[^\s]+$")] | None
    ) = Field(
        default=None, description="マイページのカード変更URL (テンプレートの card_change_url)"
    )


class MailSettingsOut(BaseModel):
    smtp_host: str | None
    smtp_port: int
    smtp_starttls: bool
    smtp_username: str | None
    smtp_password_set: bool
    card_change_url: str | None
    source: str = Field(description="settings (この設定) / environment (KESSAI_SMTP_URL) / none")


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    starttls: bool = False
    username: str | None = None
    password: str | None = None


async def load(session: AsyncSession) -> dict[str, object]:
    row = await session.get(AppSetting, KEY)
    return dict(row.value) if row is not None else {}


async def save(session: AsyncSession, keyring: Keyring, data: MailSettingsIn) -> dict[str, object]:
    stored = await load(session)
    value: dict[str, object] = data.model_dump(exclude={"smtp_password"})
    if data.smtp_password is not None:
        value["smtp_password"] = (
            keyring.encrypt(data.smtp_password, context=PASSWORD_CONTEXT)
            if data.smtp_password
            else None
        )
    else:
        value["smtp_password"] = stored.get("smtp_password")
    row = await session.get(AppSetting, KEY)
    if row is None:
        session.add(AppSetting(key=KEY, value=value))
    else:
        row.value = value
    await session.flush()
    return value


def shown(stored: dict[str, object], env_url: str | None) -> MailSettingsOut:
    host = stored.get("smtp_host")
    return MailSettingsOut(
        smtp_host=str(host) if host else None,
        smtp_port=int(stored.get("smtp_port") or 25),  # type: ignore[call-overload]
        smtp_starttls=bool(stored.get("smtp_starttls")),
        smtp_username=str(stored["smtp_username"]) if stored.get("smtp_username") else None,
        smtp_password_set=bool(stored.get("smtp_password")),
        card_change_url=str(stored["card_change_url"]) if stored.get("card_change_url") else None,
        source="settings" if host else ("environment" if env_url else "none"),
    )


def server(stored: dict[str, object], keyring: Keyring, env_url: str | None) -> SmtpServer | None:
    """The SMTP server to send through: the saved one, else KESSAI_SMTP_URL, else none."""
    from kessai.notifications.smtp import parse_smtp_url  # smtp imports SmtpServer from here

    host = stored.get("smtp_host")
    if host:
        sealed = stored.get("smtp_password")
        return SmtpServer(
            str(host),
            int(stored.get("smtp_port") or 25),  # type: ignore[call-overload]
            bool(stored.get("smtp_starttls")),
            str(stored["smtp_username"]) if stored.get("smtp_username") else None,
            keyring.decrypt_text(str(sealed), context=PASSWORD_CONTEXT) if sealed else None,
        )
    if env_url:
        return SmtpServer(*parse_smtp_url(env_url))
    return None
