"""What an API handler gets: configuration, state, and where the simulator is reached."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from kessai.providers.gmo_pg.sim.config import SimulatorConfig
from kessai.providers.gmo_pg.sim.state import State, Transaction

Reply = list[tuple[str, str]]


@dataclass
class Ctx:
    config: SimulatorConfig
    state: State
    base: Callable[[], str]  # e.g. http://127.0.0.1:8001/sim/gmo-pg (no trailing slash)
    order_id: str = ""  # for the call log: the order the call was about

    @property
    def base_url(self) -> str:
        return self.base()

    def about(self, tran: Transaction | None) -> Transaction | None:
        if tran is not None:
            self.order_id = tran.order_id
        return tran

    def challenge_url(self, tran: Transaction) -> str:
        # lower-case query keys: a client that splits the response on "&" must keep them
        # inside the URL value (codec.parse_response does)
        return f"{self.base_url}/payment/Tds2Challenge?tds2TransID={tran.tds2_trans_id}&lang=ja"


Handler = Callable[[Ctx, Mapping[str, str]], Reply]
