"""管理画面 (/admin): server-rendered Jinja2 pages with htmx, in Japanese."""

from kessai.web.admin.router import admin_router

__all__ = ["admin_router"]
