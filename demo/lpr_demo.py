"""Read licence plates (server 2.x). Frames go at up to full HD.

Example: python3 lpr_demo.py --input gate.mp4 --region us
"""

import sys

import interrupts  # noqa: F401 (first: from here on a signal ends the demo in one line)

# isort: split
import democli
import media
from sdclient import API


def main(argv: list[str] | None = None) -> int:
    parser = democli.parser(__doc__)
    parser.add_argument("--region", help="plate region, such as us or eu (default: the server's)")
    parser.add_argument(
        "--skip-vehicle-check", action="store_true", help="look for plates outside vehicles too"
    )
    args = parser.parse_args(argv)
    settings = API.DetectionSettings(
        alprSettings=API.AlprSettings(
            enabled=True, region=args.region, skipVehicleCheck=args.skip_vehicle_check
        )
    )
    return democli.run(lambda: democli.detect(args, settings, size=media.PLATE_FRAME_SIZE))


if __name__ == "__main__":
    sys.exit(main())
