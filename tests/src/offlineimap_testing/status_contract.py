"""The behaviour every status backend owes the engine, as a reusable pytest class.

A status plugin's tests subclass :class:`StatusBackendContract` and name their backend::

    class TestPlainContract(StatusBackendContract):
        backend_class = PlainStatusBackend

or override the ``backend_factory`` fixture when building a backend takes more than
``backend_class(account_dir, fsync=...)``. Everything runs against real files in a temporary
directory; the crash test kills a real writer process with SIGKILL.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from offlineimap.errors import FolderError
from offlineimap.status import StatusBackend, StatusRecord

#: ``backend_factory(account_dir=None, *, fsync=False)``: a fresh backend over ``account_dir``
#: (the test's account directory when ``None``).
BackendFactory = Callable[..., StatusBackend]

SEEN = frozenset("S")
RECORDS = {
    1: StatusRecord(),
    2: StatusRecord(frozenset("RS")),
    3: StatusRecord(frozenset("DFPRST"), 1_700_000_000, frozenset({"Inbox", "Work"})),
    7: StatusRecord(frozenset("F"), 42, frozenset({"Ünïcödé", "日本語", "[Gmail]/Sent Mail"})),
    123456789: StatusRecord(SEEN),
}
FOLDER_NAMES = [
    "INBOX",
    "INBOX/Sub.Folder",
    "a.b/c",
    ".",
    "Entwürfe/Größe",
    "[Gmail]/All Mail",
    "Why?#%20",
]

# The writer the crash tests kill. Every generation stores all N records with mtime = generation,
# removes the upper half, records the generation in the metadata, then prints it. With a crash
# point C > 0 it kills itself with SIGKILL at its C-th file-changing call Python sees (an open
# for writing, a rename, an unlink), and stops after three generations if it got no that far:
# backends whose I/O happens in C (sqlite) never meet a crash point and are killed from outside.
_WRITER = """
import importlib, os, signal, sys
from pathlib import Path
from offlineimap.status import StatusRecord

module, _, name = sys.argv[1].partition(":")
backend = getattr(importlib.import_module(module), name)(Path(sys.argv[2]), fsync=False)
count, crash_at = int(sys.argv[3]), int(sys.argv[4])
seen = 0

def crash_point(event, args):
    global seen
    writing = event == "open" and args[2] & (os.O_WRONLY | os.O_RDWR)
    if writing or event in ("os.rename", "os.remove"):
        seen += 1
        if seen == crash_at:
            os.kill(os.getpid(), signal.SIGKILL)

if crash_at:
    sys.addaudithook(crash_point)
with backend.open_folder("INBOX") as folder:
    generation = int(folder.meta().get("generation", "0"))
    for _ in range(3 if crash_at else 10**9):
        generation += 1
        record = StatusRecord(frozenset("S"), generation)
        folder.put(dict.fromkeys(range(1, count + 1), record))
        folder.remove(range(count // 2 + 1, count + 1))
        folder.set_meta({"generation": str(generation)})
        print(generation, flush=True)
"""
_CRASH_COUNT = 4000


class StatusBackendContract:
    """Tests any :class:`StatusBackend` must pass. Subclasses set :attr:`backend_class`."""

    backend_class: type[StatusBackend]

    @pytest.fixture
    def account_dir(self, tmp_path: Path) -> Path:
        return tmp_path / "Account-test"

    @pytest.fixture
    def backend_factory(self, account_dir: Path) -> BackendFactory:
        def make(directory: Path | None = None, *, fsync: bool = False) -> StatusBackend:
            return self.backend_class(directory or account_dir, fsync=fsync)

        return make

    @pytest.fixture
    def backend(self, backend_factory: BackendFactory) -> StatusBackend:
        return backend_factory()

    # ---------------------------------------------------------------------------------------------
    # Records
    # ---------------------------------------------------------------------------------------------

    def test_new_folder_is_empty(self, backend: StatusBackend) -> None:
        with backend.open_folder("INBOX") as folder:
            assert folder.records() == {}
            assert folder.meta() == {}

    def test_put_then_records_round_trip(self, backend: StatusBackend) -> None:
        with backend.open_folder("INBOX") as folder:
            folder.put(RECORDS)
            assert folder.records() == RECORDS

    def test_put_replaces_and_keeps_others(self, backend: StatusBackend) -> None:
        with backend.open_folder("INBOX") as folder:
            folder.put(RECORDS)
            changed = StatusRecord(frozenset("FS"), 99, frozenset({"Later"}))
            folder.put({3: changed, 8: StatusRecord(SEEN)})
            assert folder.records() == {**RECORDS, 3: changed, 8: StatusRecord(SEEN)}

    def test_put_nothing_changes_nothing(self, backend: StatusBackend) -> None:
        with backend.open_folder("INBOX") as folder:
            folder.put(RECORDS)
            folder.put({})
            folder.remove([])
            assert folder.records() == RECORDS

    def test_remove_known_and_unknown_uids(self, backend: StatusBackend) -> None:
        with backend.open_folder("INBOX") as folder:
            folder.put(RECORDS)
            folder.remove(iter([2, 7, 555]))
            assert folder.records() == {u: r for u, r in RECORDS.items() if u not in (2, 7)}
            folder.remove([555, 556])
            assert set(folder.records()) == {1, 3, 123456789}

    def test_records_returns_a_copy(self, backend: StatusBackend) -> None:
        with backend.open_folder("INBOX") as folder:
            folder.put(RECORDS)
            folder.records().clear()
            assert folder.records() == RECORDS

    def test_unstorable_label_is_refused_and_nothing_written(self, backend: StatusBackend) -> None:
        with backend.open_folder("INBOX") as folder:
            folder.put(RECORDS)
            with pytest.raises(FolderError, match="label"):
                folder.put({1: StatusRecord(labels=frozenset({"a,b"})), 9: StatusRecord(SEEN)})
            assert folder.records() == RECORDS
        with backend.open_folder("INBOX") as folder:
            assert folder.records() == RECORDS

    @pytest.mark.parametrize("uid", [0, -3, True, "7"])
    def test_invalid_uid_is_refused(self, backend: StatusBackend, uid: object) -> None:
        with backend.open_folder("INBOX") as folder:
            with pytest.raises(FolderError, match="UID"):
                folder.put({uid: StatusRecord()})  # type: ignore[dict-item]
            assert folder.records() == {}

    # ---------------------------------------------------------------------------------------------
    # Metadata
    # ---------------------------------------------------------------------------------------------

    def test_meta_merges_and_is_separate_from_records(self, backend: StatusBackend) -> None:
        with backend.open_folder("INBOX") as folder:
            folder.set_meta({"uidnext": "10", "highestmodseq": "77"})
            folder.put(RECORDS)
            folder.set_meta({"uidnext": "11", "uidvalidity": "1234"})
            folder.remove([1])
            assert folder.meta() == {"uidnext": "11", "highestmodseq": "77", "uidvalidity": "1234"}
            assert set(folder.records()) == set(RECORDS) - {1}

    def test_meta_must_be_text(self, backend: StatusBackend) -> None:
        with backend.open_folder("INBOX") as folder:
            folder.set_meta({"uidnext": "1"})
            with pytest.raises(FolderError, match="text"):
                folder.set_meta({"uidnext": 2, "other": "x"})  # type: ignore[dict-item]
            assert folder.meta() == {"uidnext": "1"}

    def test_meta_survives_reopen(
        self, backend: StatusBackend, backend_factory: BackendFactory
    ) -> None:
        with backend.open_folder("INBOX") as folder:
            folder.set_meta({"highestmodseq": "123456789012", "note": "ünï | , \n"})
        with backend_factory().open_folder("INBOX") as folder:
            assert folder.meta() == {"highestmodseq": "123456789012", "note": "ünï | , \n"}

    # ---------------------------------------------------------------------------------------------
    # Persistence, names, folders
    # ---------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("fsync", [False, True])
    def test_persists_across_reopen(self, backend_factory: BackendFactory, fsync: bool) -> None:
        with backend_factory(fsync=fsync).open_folder("INBOX") as folder:
            folder.put(RECORDS)
            folder.remove([2])
            folder.set_meta({"uidnext": "5"})
        with backend_factory(fsync=fsync).open_folder("INBOX") as folder:
            assert folder.records() == {u: r for u, r in RECORDS.items() if u != 2}
            assert folder.meta() == {"uidnext": "5"}

    def test_folder_names_are_kept_apart(
        self, backend: StatusBackend, backend_factory: BackendFactory
    ) -> None:
        for uid, name in enumerate(FOLDER_NAMES, start=1):
            with backend.open_folder(name) as folder:
                folder.put({uid: StatusRecord(SEEN, uid)})
                folder.set_meta({"name": name})
        reopened = backend_factory()
        for uid, name in enumerate(FOLDER_NAMES, start=1):
            assert reopened.exists(name)
            with reopened.open_folder(name) as folder:
                assert folder.records() == {uid: StatusRecord(SEEN, uid)}
                assert folder.meta() == {"name": name}

    def test_exists_and_delete_folder(
        self, backend: StatusBackend, backend_factory: BackendFactory
    ) -> None:
        assert not backend.exists("INBOX/Sub")
        with backend.open_folder("INBOX/Sub") as folder:
            folder.put(RECORDS)
            folder.set_meta({"uidnext": "9"})
        assert backend.exists("INBOX/Sub")
        assert not backend.exists("INBOX")
        backend.delete_folder("INBOX/Sub")
        backend.delete_folder("Never/Opened")
        assert not backend_factory().exists("INBOX/Sub")
        with backend.open_folder("INBOX/Sub") as folder:
            assert folder.records() == {}
            assert folder.meta() == {}

    def test_different_folders_from_threads(
        self, backend: StatusBackend, backend_factory: BackendFactory
    ) -> None:
        names = [f"Folder{n}/Sub" for n in range(8)]

        def work(name: str) -> dict[int, StatusRecord]:
            expected: dict[int, StatusRecord] = {}
            with backend.open_folder(name) as folder:
                for round_ in range(15):
                    batch = {
                        round_ * 100 + i: StatusRecord(SEEN, round_, frozenset({name}))
                        for i in range(1, 101)
                    }
                    folder.put(batch)
                    expected.update(batch)
                    gone = range(round_ * 100 + 1, round_ * 100 + 31)
                    folder.remove(gone)
                    for uid in gone:
                        del expected[uid]
                    folder.set_meta({"round": str(round_)})
                    assert folder.records() == expected
            return expected

        with ThreadPoolExecutor(max_workers=len(names)) as pool:
            results = dict(zip(names, pool.map(work, names), strict=True))
        reopened = backend_factory()
        for name, expected in results.items():
            with reopened.open_folder(name) as folder:
                assert folder.records() == expected
                assert folder.meta() == {"round": "14"}

    # ---------------------------------------------------------------------------------------------
    # Crash safety and size
    # ---------------------------------------------------------------------------------------------

    def test_sigkill_at_every_file_operation_loses_nothing(
        self, backend_factory: BackendFactory, account_dir: Path
    ) -> None:
        completed = 0
        for crash_at in range(1, 200):
            writer = self._start_writer(backend_factory, account_dir, crash_at)
            output, _ = writer.communicate()
            completed = max([completed, *map(int, output.split())])
            self._check_after_crash(backend_factory, completed)
            if writer.returncode == 0:  # ran past its last file operation
                break
        assert completed >= 3

    def test_sigkill_at_random_times_loses_nothing(
        self, backend_factory: BackendFactory, account_dir: Path
    ) -> None:
        rng = random.Random(1234)
        completed = 0
        for _ in range(5):
            writer = self._start_writer(backend_factory, account_dir, 0)
            assert writer.stdout is not None
            first = writer.stdout.readline()  # one more generation is complete
            time.sleep(rng.uniform(0, 0.08))
            writer.send_signal(signal.SIGKILL)
            output, _ = writer.communicate()
            completed = max(completed, *map(int, (first + output).split()))
            self._check_after_crash(backend_factory, completed)

    @staticmethod
    def _start_writer(
        backend_factory: BackendFactory, account_dir: Path, crash_at: int
    ) -> subprocess.Popen[str]:
        cls = type(backend_factory())
        target = f"{cls.__module__}:{cls.__qualname__}"
        command = [sys.executable, "-c", _WRITER, target, str(account_dir)]
        return subprocess.Popen(
            [*command, str(_CRASH_COUNT), str(crash_at)], stdout=subprocess.PIPE, text=True
        )

    @staticmethod
    def _check_after_crash(backend_factory: BackendFactory, completed: int) -> None:
        """Old or new content, and nothing a finished generation wrote is lost."""
        with backend_factory().open_folder("INBOX") as folder:
            records, meta = folder.records(), folder.meta()
        generations = {record.mtime for record in records.values()}
        assert len(generations) <= 1, "records from two generations: a torn write"
        generation = max(generations, default=0)
        assert generation >= completed
        expected = (set(range(1, _CRASH_COUNT + 1)), set(range(1, _CRASH_COUNT // 2 + 1)))
        assert set(records) in expected or generation == 0 == completed
        assert int(meta.get("generation", "0")) in (generation - 1, generation)

    def test_hundred_thousand_records(
        self, backend: StatusBackend, backend_factory: BackendFactory
    ) -> None:
        many = {uid: StatusRecord(frozenset("S" if uid % 4 else "RS")) for uid in range(1, 100_001)}
        with backend.open_folder("INBOX") as folder:
            folder.put(many)
            started = time.perf_counter()
            folder.put({uid: StatusRecord(frozenset("FS"), uid) for uid in range(1, 10_001)})
            put_seconds = time.perf_counter() - started
        started = time.perf_counter()
        with backend_factory().open_folder("INBOX") as folder:
            records = folder.records()
        read_seconds = time.perf_counter() - started
        assert len(records) == 100_000
        assert records[10] == StatusRecord(frozenset("FS"), 10)
        assert records[20_000] == StatusRecord(frozenset("RS"))
        # Generous bounds for a shared 2-core machine; typical figures are in the READMEs.
        assert read_seconds < 2.0, f"open + records() of 100,000 took {read_seconds:.2f}s"
        assert put_seconds < 2.0, f"put() of 10,000 into 100,000 took {put_seconds:.2f}s"
