"""A Python without the POSIX-only parts of `signal`, as on Windows: for tests' child processes.

Put this folder on a child's PYTHONPATH (tests.conftest.windows_like_environment does) and
Python's `site` imports this module before the script runs: SIGHUP, SIGALRM, the interval timers
(setitimer, getitimer, alarm), pthread_sigmask and the other names Windows' `signal` lacks are
gone from both `signal` and `_signal`, so code that uses one unguarded fails as it would on
Windows. (What else differs on Windows, such as no Unix sockets, is left as it is.)
"""

import _signal
import signal

# Present on Linux and macOS, absent from Python's `signal` on Windows.
POSIX_ONLY = (
    "SIGHUP",
    "SIGALRM",
    "SIGQUIT",
    "SIGUSR1",
    "SIGUSR2",
    "alarm",
    "pause",
    "setitimer",
    "getitimer",
    "ITIMER_REAL",
    "ITIMER_VIRTUAL",
    "ITIMER_PROF",
    "ItimerError",
    "siginterrupt",
    "pthread_sigmask",
    "pthread_kill",
    "sigpending",
    "sigwait",
)

for _module in (signal, _signal):
    for _name in POSIX_ONLY:
        if hasattr(_module, _name):
            delattr(_module, _name)
