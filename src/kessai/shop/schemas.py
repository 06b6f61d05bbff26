"""The shop's settings as the API shows them, with the seeds' words in the descriptions."""

from datetime import date, time
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)

WEEKDAY_LABELS = ("月", "火", "水", "木", "金", "土", "日")
# A time of day in Asia/Tokyo ("05:00" or "05:00:00"), with no offset: JSON Schema's
# format "time" would demand one, so the document says what is sent.
LocalTime = Annotated[
    time,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$",
            "examples": ["05:00"],
        }
    ),
]
ShopName = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]


class ShopSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shop_name: ShopName = Field(
        default="ショップ", description="ショップ名 (メールの差出人名・件名)"
    )
    card_change_allowed: bool = Field(
        default=False,
        description="マイページ設定(顧客情報の変更制限) クレジットカード変更: "
        "true = 許可する, false = 許可しない",
    )
    mail_from: EmailStr | None = Field(
        default=None, description="送信元メールアドレス (顧客・ショップへのメール)"
    )
    notification_email: EmailStr | None = Field(
        default=None, description="ショップ通知先メールアドレス (未設定ならショップへは送りません)"
    )
    reauthorization_time: LocalTime = Field(
        default=time(5, 0), description="再オーソリバッチの実行時刻 (発送日の Asia/Tokyo)"
    )
    shipping_weekdays: list[int] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4],
        description="発送する曜日 (0 = 月曜 … 6 = 日曜)",
    )
    non_shipping_dates: list[date] = Field(
        default_factory=list, description="発送しない日 (祝日・休業日)"
    )

    @field_validator("shipping_weekdays")
    @classmethod
    def _weekdays(cls, value: list[int]) -> list[int]:
        if any(d < 0 or d > 6 for d in value):
            raise ValueError("曜日は 0 (月曜) から 6 (日曜) で指定してください")
        return sorted(set(value))

    @field_validator("non_shipping_dates")
    @classmethod
    def _dates(cls, value: list[date]) -> list[date]:
        return sorted(set(value))

    def is_shipping_day(self, day: date) -> bool:
        """発送日: a shipping weekday that is not in the shop's list of non-shipping dates."""
        return day.weekday() in self.shipping_weekdays and day not in self.non_shipping_dates

    @property
    def card_change_label(self) -> str:
        return "許可する" if self.card_change_allowed else "許可しない"


class ShopSettingsPatch(BaseModel):
    """A partial update: only the fields given change (null clears an address)."""

    model_config = ConfigDict(extra="forbid")

    shop_name: ShopName | None = None
    card_change_allowed: bool | None = None
    mail_from: EmailStr | None = None
    notification_email: EmailStr | None = None
    reauthorization_time: LocalTime | None = None
    shipping_weekdays: list[int] | None = None
    non_shipping_dates: list[date] | None = None
