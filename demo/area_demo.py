"""Count people inside one or two zones of the picture.

A zone is --area top,left,bottom,right in normalized coordinates (0,0 is the top left corner).
Example: python3 area_demo.py --input shop.mp4 --area 0.5,0,1,0.5 --area 0.5,0.5,1,1
"""

import argparse
import sys

import interrupts  # noqa: F401 (first: from here on a signal ends the demo in one line)

# isort: split
import democli
from sdclient import API


def area(text: str):
    top, left, bottom, right = democli.numbers(text, 4, "an area top,left,bottom,right")
    if top >= bottom or left >= right:
        raise argparse.ArgumentTypeError(f"{text!r}: top must be above bottom and left of right")
    return API.DetectionArea(top=top, left=left, bottom=bottom, right=right)


def main(argv: list[str] | None = None) -> int:
    parser = democli.parser(__doc__)
    parser.add_argument(
        "--area",
        type=area,
        action="append",
        required=True,
        help="top,left,bottom,right (up to two)",
    )
    args = parser.parse_args(argv)
    if len(args.area) > 2:
        parser.error(f"{len(args.area)} areas given: the server takes at most 2")
    for number, each in enumerate(args.area, 1):
        each.name = f"area {number}"
    settings = API.DetectionSettings(
        objSettings=democli.object_settings(),
        detAreaSettings=API.DetectionAreaSettings(enabled=True, areas=args.area),
    )
    return democli.run(lambda: democli.detect(args, settings))


if __name__ == "__main__":
    sys.exit(main())
