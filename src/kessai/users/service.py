"""管理画面のユーザー: roles and permissions, argon2id passwords, login sessions, login throttle.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106 low-memory profile) and
never logged or returned. A session is a random token in an HttpOnly cookie; the database keeps
only its SHA-256, with the CSRF token that every POST of that session must carry.
"""

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from kessai.core.errors import Conflict, InvalidInput, Unauthorized
from kessai.core.labels import by_code_or_label
from kessai.users.models import AdminSession, AdminUser


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {Role.ADMIN: "管理者", Role.OPERATOR: "運用担当", Role.VIEWER: "閲覧のみ"}


class Permission(StrEnum):
    """What a screen or button needs. Later features add members and grant them below."""

    ORDERS_VIEW = "orders.view"
    # オーソリ・売上・取消・金額変更・再オーソリ
    ORDERS_OPERATE = "orders.operate"
    ORDERS_FORCE_CAPTURE = "orders.force_capture"
    ORDERS_FORCE_CANCEL = "orders.force_cancel"
    # 決済状況一括変更 / 決済状況CSV一括更新: each operation its own (強制 ones above)
    ORDERS_BULK_CAPTURE = "orders.bulk_capture"
    ORDERS_BULK_CANCEL = "orders.bulk_cancel"
    ORDERS_BULK_REAUTHORIZE = "orders.bulk_reauthorize"
    # 出荷CSVインポート (発送情報の登録; 同時の売上処理は orders.bulk_capture も要る)
    ORDERS_IMPORT_SHIPMENTS = "orders.import_shipments"
    # 定期受注のステータス・次回発送予定日の変更
    SUBSCRIPTIONS_EDIT = "subscriptions.edit"
    # 顧客への決済方法変更のご案内の送信
    CUSTOMERS_NOTIFY = "customers.notify"
    ACCOUNTS_VIEW = "accounts.view"
    # 外部連携アカウントの登録・変更: the keys to the shop's money, so 管理者 only.
    ACCOUNTS_EDIT = "accounts.edit"
    ACCOUNTS_TEST = "accounts.test"
    USERS_MANAGE = "users.manage"
    # 自動化設定・メールテンプレート・メール設定・Webhook: 管理者 only (they act on every order).
    SETTINGS_EDIT = "settings.edit"
    # APIキーの発行・失効: a key may reach the shop's money, so 管理者 only.
    API_KEYS_MANAGE = "api_keys.manage"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.OPERATOR: frozenset(
        {
            Permission.ORDERS_VIEW,
            Permission.ORDERS_OPERATE,
            Permission.ORDERS_BULK_CAPTURE,
            Permission.ORDERS_BULK_CANCEL,
            Permission.ORDERS_BULK_REAUTHORIZE,
            Permission.ORDERS_IMPORT_SHIPMENTS,
            Permission.SUBSCRIPTIONS_EDIT,
            Permission.CUSTOMERS_NOTIFY,
            Permission.ACCOUNTS_VIEW,
            Permission.ACCOUNTS_TEST,
        }
    ),
    Role.VIEWER: frozenset({Permission.ORDERS_VIEW, Permission.ACCOUNTS_VIEW}),
}


def has_permission(role: str, permission: Permission) -> bool:
    try:
        return permission in ROLE_PERMISSIONS[Role(role)]
    except ValueError:  # a role this version does not know grants nothing
        return False


def parse_role(raw: str) -> Role:
    role = by_code_or_label(Role, raw.strip())
    if role is not None:
        return role
    choices = "・".join(f"{role.value} ({role.label})" for role in Role)
    raise InvalidInput(f"ロールは {choices} のいずれかを指定してください", code="invalid_role")


# --- passwords -----------------------------------------------------------------------------

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256  # argon2 takes any length; the cap keeps a login request cheap

_hasher = PasswordHasher()  # argon2id


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def check_password_rules(password: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            f"パスワードは{MIN_PASSWORD_LENGTH}〜{MAX_PASSWORD_LENGTH}文字で指定してください",
            code="invalid_password",
        )


def normalize_email(raw: str) -> str:
    try:
        address = validate_email(raw.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        raise InvalidInput("メールアドレスの形式が正しくありません", code="invalid_email") from None
    return address.lower()


# --- users ---------------------------------------------------------------------------------


async def find_user(session: AsyncSession, email: str) -> AdminUser | None:
    found: AdminUser | None = await session.scalar(
        select(AdminUser).where(AdminUser.email == email.strip().lower())
    )
    return found


async def create_user(
    session: AsyncSession, *, email: str, name: str, password: str, role: Role, now: datetime
) -> AdminUser:
    address = normalize_email(email)
    name = name.strip() or address.split("@", 1)[0]
    if len(name) > 100:
        raise InvalidInput("名前は100文字以内で指定してください", code="invalid_name")
    check_password_rules(password)
    if await find_user(session, address) is not None:
        raise Conflict(f"{address} は登録済みです", code="email_taken")
    user = AdminUser(
        email=address,
        name=name,
        password_hash=hash_password(password),
        role=role.value,
        active=True,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    await session.flush()
    return user


LOGIN_FAILED = "メールアドレスまたはパスワードが正しくありません"


async def authenticate(
    session: AsyncSession, email: str, password: str, now: datetime
) -> AdminUser:
    """The active user with that email and password, or Unauthorized (one message for every
    failure, and the same work done for an unknown email, so neither tells which was wrong)."""
    user = await find_user(session, email)
    if user is None or not user.active or len(password) > MAX_PASSWORD_LENGTH:
        verify_password(_dummy_hash(), password[:MAX_PASSWORD_LENGTH])
        raise Unauthorized(LOGIN_FAILED, code="login_failed")
    if not verify_password(user.password_hash, password):
        raise Unauthorized(LOGIN_FAILED, code="login_failed")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    return user


# --- sessions ------------------------------------------------------------------------------

SESSION_TTL = timedelta(hours=12)


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """The person behind an admin request."""

    user_id: int
    email: str
    name: str
    role: Role
    csrf_token: str
    # The role's permissions as the shop set them (users.roles); None: ROLE_PERMISSIONS.
    granted: frozenset[Permission] | None = None

    @property
    def permissions(self) -> frozenset[Permission]:
        return ROLE_PERMISSIONS[self.role] if self.granted is None else self.granted

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    @property
    def actor(self) -> str:
        """Written to 変更履歴 (100 characters at most)."""
        actor = f"admin:{self.email}"
        return actor if len(actor) <= 100 else f"admin:#{self.user_id}"

    def csrf_matches(self, candidates: Iterable[str | None]) -> bool:
        return any(
            c is not None and hmac.compare_digest(c.encode(), self.csrf_token.encode())
            for c in candidates
        )


async def start_session(session: AsyncSession, user: AdminUser, now: datetime) -> str:
    """A new session for `user`; returns the token for the cookie (shown nowhere else)."""
    await session.execute(
        delete(AdminSession).where(AdminSession.user_id == user.id, AdminSession.expires_at <= now)
    )
    token = secrets.token_urlsafe(32)
    session.add(
        AdminSession(
            id=_token_id(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + SESSION_TTL,
        )
    )
    await session.flush()
    return token


async def load_session(session: AsyncSession, token: str, now: datetime) -> Principal | None:
    """The principal of a live session of an active user, or None."""
    if not token or len(token) > 200:
        return None
    row = (
        await session.execute(
            select(AdminSession, AdminUser)
            .join(AdminUser, AdminUser.id == AdminSession.user_id)
            .where(AdminSession.id == _token_id(token))
        )
    ).first()
    if row is None:
        return None
    login, user = row
    if login.expires_at <= now or not user.active:
        return None
    try:
        role = Role(user.role)
    except ValueError:
        return None
    return Principal(user.id, user.email, user.name, role, login.csrf_token)


async def end_session(session: AsyncSession, token: str) -> None:
    await session.execute(delete(AdminSession).where(AdminSession.id == _token_id(token)))
