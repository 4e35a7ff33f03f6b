"""A supervised engine worker's side of supervision: it ends with the server that started it.

The server starts each engine environment's worker with ``SUPERVISOR_PID`` set to its own
pid. A thread of the worker (not a task: a worker whose event loop is stuck must still go)
polls its parent; once that server is gone (killed outright, it could not stop its workers)
the worker stops as on SIGTERM, and exits outright if that has not ended it soon after, so
no orphan keeps a model's memory (GPU memory included).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

log = logging.getLogger(__name__)
SUPERVISOR_PID = "POLYVOX_SUPERVISOR_PID"
"""Set in a worker's environment: the server that started it."""
POLL_SECONDS = 0.25
EXIT_GRACE = 3.0
"""Seconds the worker gets to stop on its own before it exits outright."""


def supervised() -> bool:
    """Whether this process is an engine worker a server started."""
    return bool(os.environ.get(SUPERVISOR_PID))


def follow_supervisor() -> threading.Thread | None:
    """In a supervised worker: start the thread that ends the process with its server."""
    supervisor = int(os.environ.get(SUPERVISOR_PID) or 0)
    if not supervisor:
        return None

    def watch() -> None:
        while os.getppid() == supervisor:
            time.sleep(POLL_SECONDS)
        log.warning("the server that started this worker (pid %d) is gone: stopping", supervisor)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(EXIT_GRACE)
        os._exit(1)  # still here: whatever held it up does not matter any more

    thread = threading.Thread(target=watch, name="polyvox-supervisor", daemon=True)
    thread.start()
    return thread
