"""Bring a database to the newest schema with Alembic (`kessai db upgrade`, tests, make run)."""

from pathlib import Path

from alembic import command
from alembic.config import Config

from kessai.core.db import private_file
from kessai.core.settings import sqlite_path

ROOT = Path(__file__).resolve().parents[3]


def alembic_config(database_url: str) -> Config:
    ini = ROOT / "alembic.ini"
    if not ini.exists():
        raise FileNotFoundError(f"alembic.ini not found at {ini}: run kessai from its checkout")
    config = Config(str(ini))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    path = sqlite_path(database_url)
    if path is not None:
        private_file(path, create=True)  # created 0600, before SQLite makes it 0644
    command.upgrade(alembic_config(database_url), revision)
