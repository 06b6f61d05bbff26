"""自動化設定: the shop's ordered rules (イベント, 条件, アクション)."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kessai.core.db import Base, IdType, UTCDateTime


class AutomationRule(Base):
    __tablename__ = "automation_rules"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, index=True)  # 並び順: smaller runs first
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    event: Mapped[dict[str, Any]] = mapped_column(JSON)  # rules.EventSpec
    conditions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # rules.Conditions
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # rules.ActionSpec
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AutomationRun(Base):
    """One rule run on one event: written with the rule's actions, so a job chunk run twice
    acts once."""

    __tablename__ = "automation_runs"
    __table_args__ = (UniqueConstraint("rule_id", "event_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    rule_id: Mapped[int] = mapped_column(IdType, index=True)
    event_id: Mapped[int] = mapped_column(IdType)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
