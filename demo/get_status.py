"""Ask the API server for its version, API version, activation state and capacity."""

import sys

import interrupts  # noqa: F401 (first: from here on a signal ends the demo in one line)

# isort: split
import democli
from console import say
from results import print_json
from sdclient import API, Client, code_name


def main(argv: list[str] | None = None) -> int:
    args = democli.parser(__doc__, detection=False).parse_args(argv)

    def get_status() -> int:
        with Client(democli.endpoint(args), timeout=args.timeout) as api:
            status = api.call("getStatus")
        if args.json:
            print_json(status)
            return 0
        activated = status.initStatus == API.ResultCode.SUCCESS
        capability = status.capability.numConcurrentSessions if status.capability else "?"
        print(f"server version: {status.version}")
        print(f"API version: {status.apiVersion}")
        print(f"activated: {'yes' if activated else 'no'} ({code_name(status.initStatus)})")
        print(f"concurrent sessions: {capability}")
        if not activated:
            say("next: activate_server.py --license YOUR-KEY")
        return 0

    return democli.run(get_status)


if __name__ == "__main__":
    sys.exit(main())
