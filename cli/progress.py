"""The progress bar of `lapor directory import` (rich): one line per phase of the import."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

PHASES = {
    "read": "membaca dan memeriksa berkas / reading and checking the file",
    "compare": "membandingkan instansi / comparing institutions",
    "check": "memeriksa direktori baru / checking the new directory",
    "store": "menyimpan perubahan / storing the changes",
}


class ImportProgress:
    """Called by the import as `progress(phase, advance, total)`; draws the bars on stderr."""

    def __init__(self) -> None:
        self.bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=Console(stderr=True),
        )
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> ImportProgress:
        self.bars.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.bars.stop()

    def __call__(self, phase: str, advance: int = 0, total: int | None = None) -> None:
        if phase not in self.tasks or total is not None:
            if phase in self.tasks:  # a retry after a conflict starts the phase again
                self.bars.reset(self.tasks[phase], total=total)
            else:
                self.tasks[phase] = self.bars.add_task(PHASES.get(phase, phase), total=total)
        # earlier phases are done once a later one starts
        for name, task in self.tasks.items():
            if name == phase:
                break
            self.bars.update(task, completed=self.bars.tasks[task].total)
        if advance:
            self.bars.advance(self.tasks[phase], advance)
