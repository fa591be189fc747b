"""Delete every detection session on the API server, freeing its session slots."""

import sys

import interrupts  # noqa: F401 (first: from here on a signal ends the demo in one line)

# isort: split
import democli
from console import say
from results import print_json
from sdclient import Client, check


def main(argv: list[str] | None = None) -> int:
    args = democli.parser(__doc__, detection=False).parse_args(argv)

    def clear_sessions() -> int:
        with Client(democli.endpoint(args), timeout=args.timeout) as api:
            sessions = api.call("getSessions")
            if not sessions:  # an inactive server lists none: tell that apart
                check(api.call("getStatus").initStatus, "getSessions")
            for session in sessions:
                check(api.call("deleteSession", session.id), f"deleteSession {session.id}")
        if args.json:
            print_json(sessions)
        say(f"deleted {len(sessions)} session(s)")
        return 0

    return democli.run(clear_sessions)


if __name__ == "__main__":
    sys.exit(main())
