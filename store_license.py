"""Before step 2 (optional): store the server's licence key as an SSM SecureString parameter.

The key comes from SD_API_LICENSE_KEY, else from a prompt that does not echo it. Prints the
LICENSE_SECRET=... line for your .env; register_task_definition.py then hands the key to the
server when the task starts, without ever writing it into the task definition. An existing
parameter is left alone unless --overwrite; --delete removes it at clean-up.
"""

import argparse
import getpass
import os
import re
import sys

from plumbing import arguments, clients, errors, exit_codes, output, redaction, runner

from botocore.exceptions import ClientError

import constants

DEFAULT_NAME = "/sd-apiserver/license"
# SSM's rule: letters, digits and _.-/ ; a name may not start with aws or ssm.
PARAMETER_NAME = re.compile(r"(?!/?(?i:aws|ssm))/?[\w.-]+(?:/[\w.-]+)*", re.ASCII)
MAX_KEY_LENGTH = 4096  # a standard-tier parameter's limit


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--name",
        type=parameter_name,
        default=DEFAULT_NAME,
        help=f"the SSM parameter's name (default: {DEFAULT_NAME})",
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument(
        "--overwrite", action="store_true", help="replace the key if the parameter exists"
    )
    action.add_argument("--delete", action="store_true", help="delete the parameter")


def parameter_name(text: str) -> str:
    if len(text) > 1011 or not PARAMETER_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an SSM parameter name: letters, digits, _ . - and /, "
            "not starting with aws or ssm"
        )
    return text


def read_key() -> str:
    """The key from SD_API_LICENSE_KEY, else typed at a prompt that does not echo it."""
    key = os.environ.get(constants.LICENSE_KEY_VARIABLE, "").strip()
    if not key:
        if not sys.stdin.isatty():
            raise constants.SettingError(
                f"no licence key: set {constants.LICENSE_KEY_VARIABLE}, or run this in a "
                "terminal to type it at a prompt"
            )
        try:
            key = getpass.getpass("licence key (not shown): ").strip()
        except EOFError:
            key = ""
    if not key:
        raise constants.SettingError("no licence key given: nothing stored")
    if len(key) > MAX_KEY_LENGTH or "\n" in key:
        raise constants.SettingError(
            f"the licence key is not one line of at most {MAX_KEY_LENGTH} characters"
        )
    return key


def store(ssm, name: str, key: str, overwrite: bool) -> int:
    try:
        response = ssm.put_parameter(
            Name=name,
            Value=key,
            Type="SecureString",
            Overwrite=overwrite,
            Description="SmartyzeDetect API server licence key",
        )
    except ClientError as error:
        if errors.aws_error_code(error) == "ParameterAlreadyExists":
            existing = ssm.get_parameter(Name=name)["Parameter"]
            output.say(f"parameter {name} already exists: kept (--overwrite replaces its key)")
            if existing["Type"] != "SecureString":
                output.warn(
                    f"{name} is a {existing['Type']} parameter, stored unencrypted: "
                    "--overwrite makes it a SecureString"
                )
            print(f"LICENSE_SECRET={existing['ARN']}")
            return exit_codes.EXIT_OK
        raise
    arn = ssm.get_parameter(Name=name)["Parameter"]["ARN"]
    output.say(
        f"stored the licence key as SecureString {name} (version {response['Version']}); "
        "put this line in your .env:"
    )
    print(f"LICENSE_SECRET={arn}")
    return exit_codes.EXIT_OK


def delete(ssm, name: str) -> int:
    try:
        ssm.delete_parameter(Name=name)
    except ClientError as error:
        if errors.aws_error_code(error) != "ParameterNotFound":
            raise
        output.say(f"parameter {name} does not exist (already deleted?): nothing to do")
        return exit_codes.EXIT_OK
    output.say(f"deleted parameter {name}; remove LICENSE_SECRET from your .env")
    return exit_codes.EXIT_OK


def store_license(args: argparse.Namespace) -> int:
    if args.delete:
        return delete(clients.client("ssm"), args.name)
    key = read_key()
    redaction.never_print(key)  # some AWS validation messages quote the value they refused
    return store(clients.client("ssm"), args.name, key, args.overwrite)


def main(argv: list[str] | None = None) -> int:
    args = arguments.parse_args(__doc__, argv, add_arguments)
    return runner.run(store_license, args)


if __name__ == "__main__":
    sys.exit(main())
