"""Login throttling shared by every process: failed logins are rows in the database.

Two limits within one window: per account (the e-mail typed, so guessing one password is
slow) and per client address (so guessing across many e-mails is slow too). A success
clears its account's failures; an administrator sees every lockout and can lift it
(/admin/settings/login-lockouts). The window moves with the injected clock.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kessai.users.models import LoginFailure

ACCOUNT = "account"
ADDRESS = "address"


@dataclass(frozen=True)
class Lockout:
    kind: str  # ACCOUNT or ADDRESS
    key: str  # the e-mail or the address
    failures: int
    until: datetime

    @property
    def kind_label(self) -> str:
        return "アカウント" if self.kind == ACCOUNT else "接続元IPアドレス"


@dataclass(frozen=True)
class LoginThrottle:
    limit: int = 5  # failures per account within the window
    address_limit: int = 20  # failures per client address within the window
    window: timedelta = timedelta(minutes=15)

    async def _until(self, s: AsyncSession, kind: str, key: str, now: datetime) -> datetime | None:
        """When the lockout of `key` ends, or None when it is not locked out."""
        limit = self.limit if kind == ACCOUNT else self.address_limit
        column = LoginFailure.email if kind == ACCOUNT else LoginFailure.address
        times = (
            await s.scalars(
                select(LoginFailure.failed_at)
                .where(column == key, LoginFailure.failed_at > now - self.window)
                .order_by(LoginFailure.failed_at.desc())
                .limit(limit)
            )
        ).all()
        if len(times) < limit:
            return None
        return times[-1] + self.window  # the limit-th latest failure leaves the window then

    async def retry_after(
        self, s: AsyncSession, email: str, address: str, now: datetime
    ) -> int | None:
        """Seconds to wait before this account or address may try again, or None."""
        ends = [
            until
            for until in (
                await self._until(s, ACCOUNT, _email(email), now),
                await self._until(s, ADDRESS, address, now),
            )
            if until is not None
        ]
        if not ends:
            return None
        return max(1, int((max(ends) - now).total_seconds() + 0.999))

    async def failed(self, s: AsyncSession, email: str, address: str, now: datetime) -> None:
        # Failures older than the window count for nothing: dropped as new ones come.
        await s.execute(delete(LoginFailure).where(LoginFailure.failed_at <= now - self.window))
        s.add(LoginFailure(email=_email(email), address=address[:64], failed_at=now))

    async def succeeded(self, s: AsyncSession, email: str) -> None:
        await s.execute(delete(LoginFailure).where(LoginFailure.email == _email(email)))

    async def lockouts(self, s: AsyncSession, now: datetime) -> list[Lockout]:
        """Every account and address locked out now, the latest first."""
        found: list[Lockout] = []
        for kind, column, limit in (
            (ACCOUNT, LoginFailure.email, self.limit),
            (ADDRESS, LoginFailure.address, self.address_limit),
        ):
            rows = await s.execute(
                select(column, func.count())
                .where(LoginFailure.failed_at > now - self.window)
                .group_by(column)
                .having(func.count() >= limit)
            )
            for key, count in rows.all():
                until = await self._until(s, kind, key, now)
                if until is not None:
                    found.append(Lockout(kind, key, int(count), until))
        return sorted(found, key=lambda lock: lock.until, reverse=True)

    async def lift(self, s: AsyncSession, kind: str, key: str) -> int:
        """An administrator lifts a lockout: that account's or address's failures go."""
        column = LoginFailure.email if kind == ACCOUNT else LoginFailure.address
        result = await s.execute(delete(LoginFailure).where(column == key))
        return int(result.rowcount)  # type: ignore[attr-defined]


def _email(email: str) -> str:
    return email.strip().lower()[:254]
