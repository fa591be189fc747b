"""Before step 2 (optional): store the server's licence key as an SSM SecureString parameter.

The key comes from SD_API_LICENSE_KEY, else from a prompt that does not echo it. Prints the
LICENSE_SECRET=... line for your .env; register_task_definition.py then hands the key to the
server when the task starts, without ever writing it into the task definition. An existing
parameter is left alone unless --overwrite; --delete removes it at clean-up.
"""

from plumbing import arguments, clients, errors, exit_codes, output, redaction, runner

import argparse
import getpass
import os
import re
import sys

from botocore.exceptions import ClientError

import constants

DEFAULT_NAME = "/sd-apiserver/license"
# SSM's rule: letters, digits and _.-/ ; a name may not start with aws or ssm.
PARAMETER_NAME = re.compile(r"(?!/?(?i:aws|ssm))/?[\w.-]+(?:/[\w.-]+)*", re.ASCII)
MAX_KEY_LENGTH = 4096  # a standard-tier parameter's limit
# "The maximum length for a parameter name that you create is 1011 characters. This includes
# the characters in the ARN that precede the name you specify" (PutParameter reference,
# https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html).
MAX_NAME_WITH_ARN = 1011


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
    """--name; a name with a hierarchy gets the leading slash SSM requires (team/x: /team/x)."""
    if len(text) > MAX_NAME_WITH_ARN or not PARAMETER_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an SSM parameter name: letters, digits, _ . - and /, "
            "not starting with aws or ssm"
        )
    # "For parameters in a hierarchy, you must include a leading forward slash" (PutParameter).
    return f"/{text}" if "/" in text and not text.startswith("/") else text


def check_name_length(ssm, name: str) -> None:
    """SSM counts the ARN's start (arn:aws:ssm:REGION:ACCOUNT:parameter) in a name's 1011."""
    prefix = f"arn:{ssm.meta.partition}:ssm:{ssm.meta.region_name}:{'0' * 12}:parameter"
    length = len(prefix) + len("/" + name.lstrip("/"))
    if length > MAX_NAME_WITH_ARN:
        raise constants.SettingError(
            f"--name is {len(name)} characters: with its ARN ({prefix}...) it would be {length}, "
            f"and SSM allows {MAX_NAME_WITH_ARN}: use a shorter name"
        )


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
            # Not the account's default tier, which may be Advanced (billed per parameter).
            Tier="Standard",
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
    ssm = clients.client("ssm")
    check_name_length(ssm, args.name)
    return store(ssm, args.name, key, args.overwrite)


def main(argv: list[str] | None = None) -> int:
    args = arguments.parse_args(__doc__, argv, add_arguments)
    return runner.run(store_license, args)


if __name__ == "__main__":
    sys.exit(main())
