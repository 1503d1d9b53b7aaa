"""Transports: the in-process ``responses`` interceptor, the threaded HTTP server, and
an in-process route for one boto3 client (``serve_boto3``)."""

from ais_emulator.transports.botocore_hook import serve_boto3
from ais_emulator.transports.mock_routing import BlockedRequestError
from ais_emulator.transports.responses_mock import MockAis, mock_ais
from ais_emulator.transports.server import EmulatorServer

__all__ = ["BlockedRequestError", "EmulatorServer", "MockAis", "mock_ais", "serve_boto3"]
