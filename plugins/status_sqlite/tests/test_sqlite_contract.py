"""The shared status backend contract, run against the sqlite backend."""

from offlineimap_status_sqlite import SqliteStatusBackend
from offlineimap_testing.status_contract import StatusBackendContract


class TestSqliteContract(StatusBackendContract):
    backend_class = SqliteStatusBackend
