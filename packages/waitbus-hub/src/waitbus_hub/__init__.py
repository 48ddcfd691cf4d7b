"""waitbus-hub: the broadcast daemon (docs/wire.md). Run it with `waitbus broadcast serve`."""

from ._main import build_parser, main
from ._metrics import Metrics
from ._server import Hub, HubConfig, HubError

__all__ = ["Hub", "HubConfig", "HubError", "Metrics", "build_parser", "main"]
