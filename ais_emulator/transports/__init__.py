"""Transports: the in-process ``responses`` interceptor and the threaded HTTP server."""

from ais_emulator.transports.mock_routing import BlockedRequestError
from ais_emulator.transports.responses_mock import MockAis, mock_ais
from ais_emulator.transports.server import EmulatorServer

__all__ = ["BlockedRequestError", "EmulatorServer", "MockAis", "mock_ais"]
