"""The shared status backend contract, run against the plain backend."""

from offlineimap_status_plain import PlainStatusBackend
from offlineimap_testing.status_contract import StatusBackendContract


class TestPlainContract(StatusBackendContract):
    backend_class = PlainStatusBackend
