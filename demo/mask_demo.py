"""Find faces with and without a mask."""

import sys

import interrupts  # noqa: F401 (first: from here on a signal ends the demo in one line)

# isort: split
import democli
from sdclient import API


def main(argv: list[str] | None = None) -> int:
    args = democli.parser(__doc__).parse_args(argv)
    settings = API.DetectionSettings(maskSettings=API.MaskDetectionSettings(enabled=True))
    return democli.run(lambda: democli.detect(args, settings))


if __name__ == "__main__":
    sys.exit(main())
