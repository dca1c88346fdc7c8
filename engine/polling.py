"""A thread of the timers process that polls for work: the background jobs' and the
notification outbox's. Each pass runs in its own app context; a pass that finds nothing,
or fails, waits before the next (`pause`), so an outage shows in the log without
spinning it."""
from __future__ import annotations

import logging
import threading

from .db import db

log = logging.getLogger(__name__)


class PollingWorker:
    name = "worker"

    def __init__(self, app):
        self.app = app
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def work(self) -> bool:
        """One pass; whether it found work (then the next pass follows at once)."""
        raise NotImplementedError

    def pause(self, failures: int) -> float:
        """Seconds to wait after a pass that found nothing, or the `failures`-th failure in a row."""
        raise NotImplementedError

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            busy = False
            with self.app.app_context():
                try:
                    busy = self.work()
                    failures = 0
                except Exception:
                    failures += 1
                    log.exception("the %s thread failed (%d in a row)", self.name, failures)
                finally:
                    db.session.remove()
            if not busy:
                self._stop.wait(self.pause(failures))
