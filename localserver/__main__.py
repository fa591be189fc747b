"""`python -m localserver`: the local API server (see localserver/server.py, or --help)."""

import os
import signal
import sys


def _stop_during_startup(signum: int, _frame) -> None:
    os.write(2, b"local API server stopped during start-up\n")
    os._exit(0 if signum == signal.SIGTERM else 128 + signum)


# Before the heavy imports (OpenCV): a signal during start-up ends the process cleanly. Windows
# has no SIGHUP: a signal the platform lacks is skipped.
for _name in ("SIGTERM", "SIGINT", "SIGHUP"):
    if hasattr(signal, _name):
        signal.signal(getattr(signal, _name), _stop_during_startup)

from localserver.server import main  # noqa: E402

code = main()
sys.stdout.flush()
sys.stderr.flush()
# Detection threads may be inside OpenCV: ending without interpreter finalization keeps a
# stop mid-detection from aborting the process.
os._exit(code)
