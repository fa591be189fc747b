"""The API's result codes and what each means for the person running a demo.

One table for the Thrift demos (sdclient.py) and the REST demo (http_demo.py): the REST
server answers the same numbers in its JSON `status`.
"""

from __future__ import annotations

SUCCESS = 1

NAMES = {
    1: "SUCCESS",
    2: "ERR_GENERIC",
    3: "ERR_BUSY",
    4: "ERR_INVALID_REQ",
    5: "ERR_UNSUPPORTED",
    6: "ERR_NOT_ACTIVATED",
    7: "ERR_API_LIMIT",
    8: "ERR_NET_FAIL",
}

MEANINGS = {
    2: "the server failed to process the request",
    3: "the server is busy: every session slot is taken "
    "(clear_sessions.py frees them) or it is still working",
    4: "the server rejected the request as invalid (a bad image, session id or setting)",
    5: "this server does not support that detection",
    6: "the server is not activated: run activate_server.py with your licence key",
    7: "the licence's API call limit is reached",
    8: "the server could not reach the licence service: it needs internet access",
}


def code_name(code: object) -> str:
    """The code's name, e.g. ERR_BUSY, or a phrase saying it is unknown."""
    return NAMES.get(code, f"unknown result code {code}")  # type: ignore[call-overload]


# REST mode has no activation call: the server takes its licence key only when it starts.
REST_MEANINGS = {
    **MEANINGS,
    6: "the server is not activated: in REST mode it takes its licence key only at start, "
    "from LICENSE_SECRET (store the key with store_license.py, set LICENSE_SECRET, then "
    "register_task_definition.py and a new task with run_task.py)",
}


def explain(code: object, rest: bool = False) -> str:
    """What the code means and its name: "the server is busy: ... (ERR_BUSY)".

    `rest`: the REST server's meaning, where it differs (it has no activation call).
    """
    meanings = REST_MEANINGS if rest else MEANINGS
    meaning = meanings.get(code, "the server answered with an error")  # type: ignore[call-overload]
    return f"{meaning} ({code_name(code)})"
