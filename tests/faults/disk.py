"""Disks that fill up and turn read-only, for the store's fault tests (these run as root).

`SmallDisk` mounts a tmpfs of a few megabytes: filling it gives the store ENOSPC exactly as a full
disk does, and `mount -o remount,ro` makes it read-only under running processes, as a file system
remounted read-only after an error does. Root ignores file permissions, so `chmod a-w` would
prove nothing; where mounting is not allowed (no CAP_SYS_ADMIN), `chattr +i` (immutable files
and directory; honoured even for root) stands in for read-only and RLIMIT_FSIZE for a full disk.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _run(*args: str) -> bool:
    return subprocess.run(args, capture_output=True, check=False).returncode == 0


@functools.cache
def can_mount() -> bool:
    if os.environ.get("LAPOR_FAULTS_NO_MOUNT"):  # to exercise the fallbacks
        return False
    with tempfile.TemporaryDirectory() as tmp:
        if not _run("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", tmp):
            return False
        _run("umount", tmp)
        return True


@functools.cache
def can_chattr() -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "probe"
        probe.write_text("x")
        if not _run("chattr", "+i", str(probe)):
            return False
        try:
            with probe.open("a") as file:
                file.write("y")
        except PermissionError:
            return True
        finally:
            _run("chattr", "-i", str(probe))
        return False


class SmallDisk:
    """A tmpfs of `size_kb` at `path`, mounted until `close`."""

    def __init__(self, path: Path, size_kb: int) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k,mode=0755", "tmpfs", str(path)],
            check=True,
            capture_output=True,
        )
        self._fillers: list[Path] = []

    def fill(self, leave: int = 0) -> int:
        """Take the free bytes but `leave` (a filler file, written until ENOSPC when `leave` is 0).
        Returns the bytes taken."""
        filler = self.path / f"filler-{len(self._fillers)}"
        self._fillers.append(filler)
        stat = os.statvfs(self.path)
        budget = stat.f_bavail * stat.f_frsize - leave if leave else None
        taken = 0
        chunk = b"\0" * 4096
        with filler.open("wb", buffering=0) as file:
            while budget is None or taken + len(chunk) <= budget:
                try:
                    taken += file.write(chunk) or 0
                except OSError as error:
                    if error.errno != errno.ENOSPC:
                        raise
                    break
        return taken

    def free(self) -> None:
        for filler in self._fillers:
            filler.unlink(missing_ok=True)
        self._fillers.clear()

    def read_only(self) -> None:
        subprocess.run(
            ["mount", "-o", "remount,ro", str(self.path)], check=True, capture_output=True
        )

    def writable(self) -> None:
        subprocess.run(
            ["mount", "-o", "remount,rw", str(self.path)], check=True, capture_output=True
        )

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.writable()
        subprocess.run(["umount", "-l", str(self.path)], check=False, capture_output=True)


@contextlib.contextmanager
def small_disk(path: Path, size_kb: int) -> Iterator[SmallDisk]:
    disk = SmallDisk(path, size_kb)
    try:
        yield disk
    finally:
        disk.close()


@contextlib.contextmanager
def frozen(directory: Path) -> Iterator[None]:
    """The directory and everything under it immutable (chattr +i): read-only even for root."""
    paths = [directory, *sorted(directory.rglob("*"))]
    for path in paths:
        subprocess.run(["chattr", "+i", str(path)], check=True, capture_output=True)
    try:
        yield
    finally:
        for path in paths:
            subprocess.run(["chattr", "-i", str(path)], check=False, capture_output=True)


def unwritable(directory: Path) -> bool:
    """True when even root cannot create a file here."""
    probe = directory / f".probe-{os.getpid()}"
    try:
        probe.write_text("x")
    except OSError:
        return True
    probe.unlink()
    return False
