"""Find people in an image or a video.

Example: python3 detection_demo.py --host 54.210.1.2 --input street.jpg --output street-boxes.jpg
"""

import sys

import interrupts  # noqa: F401 (first: from here on a signal ends the demo in one line)

# isort: split
import democli
from sdclient import API


def main(argv: list[str] | None = None) -> int:
    parser = democli.parser(__doc__)
    parser.add_argument(
        "--env",
        choices=sorted(democli.ENVIRONMENTS),
        default="normal",
        help="how crowded the scene is: normal is fastest, very-busy most accurate",
    )
    args = parser.parse_args(argv)
    settings = API.DetectionSettings(objSettings=democli.object_settings(args.env))
    return democli.run(lambda: democli.detect(args, settings))


if __name__ == "__main__":
    sys.exit(main())
