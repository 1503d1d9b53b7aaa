"""The AIS REST protocol, sans-IO: ``dispatch(emulator, Request) -> Response``."""

from ais_emulator.api import handlers  # noqa: E402,F401  (registers the routes)
from ais_emulator.api.errors import ApiError
from ais_emulator.api.routes import ROUTES, dispatch, route
from ais_emulator.api.types import Request, Response, StreamAborted

__all__ = ["ApiError", "ROUTES", "Request", "Response", "StreamAborted", "dispatch", "route"]
