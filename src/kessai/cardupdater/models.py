"""洗替ラウンド (one account's 自動洗替 of one month), the cards it sent, the result lines."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kessai.core.db import Base, IdType, UTCDateTime


class UpdaterRun(Base):
    """One account's 自動洗替 for the month whose 27th returns its result.

    status (status.RunStatus): selected → uploaded → applied. A failed upload leaves it
    selected (retried until the deadline); the result is applied once, by the one
    transaction whose compare-and-set moves it from uploaded to applied.
    """

    __tablename__ = "card_updater_runs"
    __table_args__ = (UniqueConstraint("account_id", "month"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("provider_accounts.id"))
    month: Mapped[str] = mapped_column(String(7))  # "2026-12": its result comes on 2026-12-27
    status: Mapped[str] = mapped_column(String(20))
    first: Mapped[bool] = mapped_column(default=False)  # 初回洗替: every registered card
    targets: Mapped[int] = mapped_column(Integer, default=0)
    request_path: Mapped[str | None] = mapped_column(String(300))
    request_sha256: Mapped[str | None] = mapped_column(String(64))
    upload_attempts: Mapped[int] = mapped_column(Integer, default=0)
    uploaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result_path: Mapped[str | None] = mapped_column(String(300))
    result_sha256: Mapped[str | None] = mapped_column(String(64))
    result_lines: Mapped[int | None] = mapped_column(Integer)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result_job_id: Mapped[int | None] = mapped_column(Integer)  # the 洗替結果取得 that applied it
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class UpdaterTarget(Base):
    """A stored card in a run's request file, with the card as sent and the result."""

    __tablename__ = "card_updater_targets"
    __table_args__ = (UniqueConstraint("run_id", "member_id", "card_seq"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("card_updater_runs.id", ondelete="CASCADE"))
    card_id: Mapped[int] = mapped_column(ForeignKey("customer_cards.id"))
    member_id: Mapped[str] = mapped_column(String(60))
    card_seq: Mapped[str] = mapped_column(String(10))
    sent_masked_number: Mapped[str] = mapped_column(String(25))
    sent_expire: Mapped[str] = mapped_column(String(4))
    result: Mapped[str | None] = mapped_column(String(1))  # 洗替判定結果, once applied
    masked_number: Mapped[str | None] = mapped_column(String(25))  # as the result gave it
    expire: Mapped[str | None] = mapped_column(String(4))
    result_line: Mapped[int | None] = mapped_column(Integer)


class UpdaterResultLine(Base):
    """A result file's line, staged inside the transaction that checks and applies it."""

    __tablename__ = "card_updater_result_lines"
    # Lines are matched to the run's targets by card: without this the match is a scan.
    __table_args__ = (
        Index("ix_card_updater_result_lines_card", "run_id", "member_id", "card_seq"),
    )

    run_id: Mapped[int] = mapped_column(
        ForeignKey("card_updater_runs.id", ondelete="CASCADE"), primary_key=True
    )
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[str] = mapped_column(String(60))
    card_seq: Mapped[str] = mapped_column(String(10))
    result: Mapped[str] = mapped_column(String(1))
    masked_number: Mapped[str | None] = mapped_column(String(25))
    expire: Mapped[str | None] = mapped_column(String(4))
