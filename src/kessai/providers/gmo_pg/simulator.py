"""GMO PG simulator entry point; the implementation and its documentation live in sim/."""

from kessai.providers.gmo_pg.sim import *  # noqa: F403
from kessai.providers.gmo_pg.sim import __all__ as __all__
from kessai.providers.gmo_pg.sim import __doc__ as _doc

__doc__ = _doc
