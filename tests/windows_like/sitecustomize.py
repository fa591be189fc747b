"""Put on PYTHONPATH, makes a child Python lack what Windows lacks: SIGHUP, SIGALRM, timers and
signal masks are gone from `signal` and `_signal` before the code under test starts."""

import _signal
import signal

WINDOWS_LACKS = (
    "SIGHUP", "SIGALRM", "SIGQUIT", "SIGUSR1", "SIGUSR2",
    "setitimer", "getitimer", "ITIMER_REAL", "ITIMER_VIRTUAL", "ITIMER_PROF", "ItimerError",
    "alarm", "pause", "siginterrupt", "sigpending",
    "pthread_sigmask", "pthread_kill", "sigwait", "SIG_BLOCK", "SIG_UNBLOCK", "SIG_SETMASK",
)
for _name in WINDOWS_LACKS:
    for _module in (signal, _signal):
        if hasattr(_module, _name):
            delattr(_module, _name)
