"""What the step scripts share, one kind of thing a module.

Importing any of them installs the stop-signal handlers first (see `signals`), before anything
slow is imported, so that Ctrl-C at any moment ends a script in one line.
"""

from . import signals  # noqa: F401 (installs the handlers)
