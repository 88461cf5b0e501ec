"""The run lock: one trainer per run folder, proven by the kernel (``fcntl.flock`` on ``<run>/.lock``), and
whether the process a run names is alive (a pid and its start token, so a reused pid is not taken for it).

Light: the standard library only (plus the run's error type).
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from cs_env.files import is_int
from cs_tui.files import open_run_file
from cs_tui.training.run_record import RunError

#: Held (``fcntl.flock``) by the one process training the run; the kernel drops it when that process dies.
LOCK_FILE = ".lock"


class RunLocked(RunError):
    """The run is being trained by another process (it holds the run's lock)."""


class RunLock:
    """The exclusive right to train a run: ``fcntl.flock`` on ``<run>/.lock``.

    The kernel releases it when the process exits, however it dies (``kill -9`` included), so it can
    never be left stuck; a second trainer of the same run is refused while the first lives.
    """

    def __init__(self, run_path: Path) -> None:
        self.path = Path(run_path) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        """Take the lock without waiting; :class:`RunLocked` naming the holder if another process has it."""
        import fcntl

        fd = open_run_file(self.path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = lock_holder(self.path.parent)
            by = f"process {holder}" if holder is not None else "another process"
            raise RunLocked(f"{self.path.parent} is being trained by {by}; one run has one trainer at a time") from None
        except OSError:
            os.close(fd)
            raise
        with contextlib.suppress(OSError):  # for people reading the folder; the kernel's record is what counts
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        """Drop the lock (closing the file is enough)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire() if self._fd is None else self

    def __exit__(self, *exc: object) -> None:
        self.release()


def run_locked(run_path: Path) -> bool | None:
    """Whether some process holds the run's lock: True, False, or None for a run without a lock file
    (written before locks existed)."""
    import fcntl

    try:
        fd = os.open(Path(run_path) / LOCK_FILE, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except OSError:
        return None
    finally:
        os.close(fd)


def lock_holder(run_path: Path) -> int | None:
    """The pid holding the run's lock, as the kernel reports it (``/proc/locks``); None if none or unknown.

    This is what proves a process is the run's trainer: a pid written in ``meta.json`` can name any
    process, but only the trainer holds the lock on this very file.
    """
    holders = flock_holders(Path(run_path) / LOCK_FILE)
    return holders[0] if holders else None


def flock_holders(path: Path, mode: str = "WRITE") -> list[int]:
    """The pids holding a ``flock`` on ``path`` (``WRITE``: exclusive, ``READ``: shared), as the kernel
    reports them in ``/proc/locks``; [] if none or unknown."""
    try:
        info = os.stat(path)
        table = Path("/proc/locks").read_text()
    except OSError:
        return []
    device = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    pids = []
    for line in table.splitlines():
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 9443 fe:00:2147363 0 EOF"; waiters are marked "->" and skipped
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[3] == mode and fields[5] == device:
            with contextlib.suppress(ValueError):
                pids.append(int(fields[4]))
    return pids


def _process_start(pid: int) -> str | None:
    """A token that changes when ``pid`` is reused (Linux: start time in /proc); None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its closing ')'
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def process_token(pid: int | None = None) -> str | None:
    """This process's (or ``pid``'s) start token, stored in ``meta.json`` beside the pid."""
    return _process_start(os.getpid() if pid is None else pid)


def pid_alive(pid: object, token: object = None) -> bool:
    """Whether ``pid`` is a live process (and, when ``token`` is known, the same one that wrote it)."""
    if not is_int(pid) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    except OSError:
        return False
    if isinstance(token, str):
        current = _process_start(pid)
        if current is not None and current != token:
            return False
    # a zombie (exited, not yet reaped by its parent) has finished its work
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat[stat.rfind(")") + 2 :].startswith("Z"):
            return False
    except OSError:
        pass
    return True
