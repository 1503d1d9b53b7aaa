"""Transports: the in-process ``responses`` interceptor and the threaded HTTP server."""

from ais_emulator.transports.responses_mock import MockAis, mock_ais
from ais_emulator.transports.server import EmulatorServer

__all__ = ["EmulatorServer", "MockAis", "mock_ais"]
