"""Upgrading the schema while the previous kessai still serves.

Each migration declares `online_safe` (a module-level bool; a test holds every one to it):
True when the previous version keeps working on the new schema while and after it is
applied: new tables, new nullable columns or ones with a server default, new indexes.
A rolling upgrade is then: `kessai db upgrade`, then restart the processes one by one
onto the new version (/readyz of an old process stays ready on the newer schema).

`kessai db upgrade` lists what it is about to apply and refuses a migration that is not
online-safe on a database already in use, until it is told the old version is stopped
(`--offline`). A new, empty database has nothing serving on it.
"""

from dataclasses import dataclass

from alembic.script import ScriptDirectory

from kessai.core.errors import ConfigurationError
from kessai.core.migrate import alembic_config


@dataclass(frozen=True)
class Step:
    revision: str
    title: str  # the migration's first docstring line
    online_safe: bool


def steps(database_url: str, current: set[str]) -> list[Step]:
    """The migrations from `current` (the database's revisions) to head, oldest first."""
    script = ScriptDirectory.from_config(alembic_config(database_url))
    base = next(iter(current)) if current else None
    found = []
    for rev in script.iterate_revisions("head", base):
        safe = getattr(rev.module, "online_safe", None)
        if not isinstance(safe, bool):
            raise ConfigurationError(
                f"マイグレーション {rev.revision} に online_safe (True/False) がありません"
            )
        title = (rev.doc or "").strip().splitlines()[0] if rev.doc else ""
        found.append(Step(rev.revision, title, safe))
    return list(reversed(found))


def refuse_unsafe(pending: list[Step], in_use: bool, offline: bool) -> None:
    """ConfigurationError when a pending migration would break the running version."""
    unsafe = [s for s in pending if not s.online_safe]
    if not unsafe or not in_use or offline:
        return
    names = "、".join(f"{s.revision} ({s.title})" for s in unsafe)
    raise ConfigurationError(
        f"次のマイグレーションは旧バージョンの稼働中には適用できません: {names}。"
        "kessai serve・worker・scheduler をすべて停止してから "
        "`kessai db upgrade --offline` を実行してください"
    )
