"""Activate the API server with your licence key (from --license or SD_API_LICENSE_KEY).

The key is sent to the server only; it is never printed.
"""

import os
import sys

import interrupts  # noqa: F401 (first: from here on a signal ends the demo in one line)

# isort: split
import democli
from console import say
from results import print_json
from sdclient import API, Client, check


def main(argv: list[str] | None = None) -> int:
    parser = democli.parser(__doc__, detection=False)
    parser.add_argument("--license", help="the licence key (default: SD_API_LICENSE_KEY)")
    args = parser.parse_args(argv)
    license_key = (args.license or os.environ.get("SD_API_LICENSE_KEY", "")).strip()
    if not license_key:
        say("error: no licence key: pass --license KEY or set SD_API_LICENSE_KEY")
        return 2

    def activate() -> int:
        with Client(democli.endpoint(args), timeout=args.timeout) as api:
            status = api.call("init", API.InitRequest(license=license_key))
        if args.json:
            print_json(status)
        check(status.initStatus, "init")
        say(f"server {status.version} is activated")
        return 0

    return democli.run(activate)


if __name__ == "__main__":
    sys.exit(main())
