"""A pure-Python emulator of the AIStore REST API, for the unchanged ``aistore`` SDK.

    from ais_emulator import Emulator, mock_ais, EmulatorServer
"""

from ais_emulator.emulator import Emulator
from ais_emulator.store.errors import StoreError
from ais_emulator.transports import BlockedRequestError, EmulatorServer, mock_ais

__all__ = ["BlockedRequestError", "Emulator", "EmulatorServer", "StoreError", "mock_ais"]
