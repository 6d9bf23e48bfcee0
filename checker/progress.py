"""A progress bar on stderr, for people at a terminal waiting on a long check.

It appears only when stderr is a terminal and the check has already taken
longer than a second, redraws itself in place, and erases itself at the end,
so logs, pipes and CI output never contain it.
"""
from __future__ import annotations

import shutil
import threading
import time
from typing import TextIO

DELAY_SECONDS = 1.0
REDRAW_SECONDS = 0.1


class Progress:
    def __init__(self, stream: TextIO, total: int, delay: float = DELAY_SECONDS):
        self.stream = stream
        self.total = total
        self.delay = delay
        self.done = 0
        self.current = ""
        self.started = time.monotonic()
        self.drawn = False
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        isatty = getattr(self.stream, "isatty", None)
        return bool(isatty and isatty()) and self.total > 0

    def __enter__(self) -> "Progress":
        if self.enabled:
            self.thread = threading.Thread(target=self._tick, name="lockspec-progress",
                                           daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        if self.thread is not None:
            self.thread.join()
        with self.lock:
            if self.drawn:
                self.stream.write("\r\033[K")
                self.stream.flush()

    def working_on(self, label: str) -> None:
        with self.lock:
            self.current = label

    def advance(self) -> None:
        with self.lock:
            self.done += 1

    def _tick(self) -> None:
        # The thread only draws; the counters are updated by the checking loop.
        while not self.stopped.wait(REDRAW_SECONDS):
            elapsed = time.monotonic() - self.started
            if elapsed >= self.delay:
                with self.lock:
                    self.stream.write("\r" + self.render(elapsed) + "\033[K")
                    self.stream.flush()
                    self.drawn = True

    def render(self, elapsed: float) -> str:
        width = shutil.get_terminal_size((80, 24)).columns
        bar_width = 24
        filled = bar_width * self.done // max(1, self.total)
        bar = "=" * filled + (">" if filled < bar_width else "") + " " * (bar_width - filled - 1)
        text = f"[{bar[:bar_width]}] {self.done}/{self.total} specs {elapsed:5.1f}s {self.current}"
        return text[:max(10, width - 1)]
