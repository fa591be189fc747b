"""Flag people standing closer to each other than a minimum distance.

--ground gives four points x,y of a rectangle on the ground as seen in the picture, in order
around it; --min-separation two points x,y whose distance on the ground is the minimum.
Example: python3 socialdist_demo.py --input hall.mp4 \\
    --ground 0.2,0.5 0.8,0.5 1,1 0,1 --min-separation 0.45,0.8 0.55,0.8
"""

import sys

import interrupts  # noqa: F401 (first: from here on a signal ends the demo in one line)

# isort: split
import democli
from sdclient import API


def main(argv: list[str] | None = None) -> int:
    parser = democli.parser(__doc__)
    parser.add_argument(
        "--ground", type=democli.point, nargs=4, required=True, metavar="X,Y", help="four points"
    )
    parser.add_argument(
        "--min-separation",
        type=democli.point,
        nargs=2,
        required=True,
        metavar="X,Y",
        help="two points",
    )
    args = parser.parse_args(argv)
    a, b = args.min_separation
    if (a.x, a.y) == (b.x, b.y):
        parser.error("--min-separation: the two points are the same")
    settings = API.DetectionSettings(
        objSettings=democli.object_settings(),
        sdSettings=API.SocialDistanceSettings(
            enabled=True, groundBoundary=args.ground, minSeparation=args.min_separation
        ),
    )
    return democli.run(lambda: democli.detect(args, settings))


if __name__ == "__main__":
    sys.exit(main())
