"""Count people crossing a line, and in which direction.

--line x1,y1,x2,y2 is the line, --in-point x,y any point on its "in" side; a crossing is judged
on the bottom middle of each person's box. Coordinates are normalized (0,0 is the top left).
Example: python3 linecross_demo.py --input door.mp4 --line 0,0.6,1,0.6 --in-point 0.5,0.9
"""

import sys

import interrupts  # noqa: F401 (first: from here on a signal ends the demo in one line)

# isort: split
import democli
from sdclient import API

CRITERIA = {
    "cross": API.LineCrossCriteria.LINE_CROSS,
    "segment": API.LineCrossCriteria.LINE_SEGMENT_CROSS,
    "both": API.LineCrossCriteria.LINE_CROSS_BOTH_DIR,
    "segment-both": API.LineCrossCriteria.LINE_SEGMENT_CROSS_BOTH_DIR,
}


def line(text: str) -> list:
    x1, y1, x2, y2 = democli.numbers(text, 4, "a line x1,y1,x2,y2")
    return [API.NormPoint(x=x1, y=y1), API.NormPoint(x=x2, y=y2)]


def main(argv: list[str] | None = None) -> int:
    parser = democli.parser(__doc__)
    parser.add_argument("--line", type=line, required=True, help="x1,y1,x2,y2")
    parser.add_argument("--in-point", type=democli.point, required=True, help="x,y on the in side")
    parser.add_argument(
        "--criteria",
        choices=list(CRITERIA),
        default="both",
        help="cross: out-to-in over the whole line; segment: only over the drawn segment; "
        "both / segment-both: in and out (default: both)",
    )
    args = parser.parse_args(argv)
    (a, b), p = args.line, args.in_point
    if (a.x, a.y) == (b.x, b.y):
        parser.error("--line: the two ends are the same point")
    if (b.x - a.x) * (p.y - a.y) - (b.y - a.y) * (p.x - a.x) == 0:
        parser.error("--in-point lies on the line: pick a point on one side of it")
    settings = API.DetectionSettings(
        objSettings=democli.object_settings(),
        lineCrossSettings=API.LineCrossSettings(
            enabled=True, boundary=args.line, inPoint=p, crossCriteria=CRITERIA[args.criteria]
        ),
    )
    return democli.run(lambda: democli.detect(args, settings))


if __name__ == "__main__":
    sys.exit(main())
