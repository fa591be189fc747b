"""The API's types, from the project's one IDL file (demo/api.thrift), and the server's settings."""

from __future__ import annotations

from pathlib import Path

import thriftpy2

IDL = Path(__file__).resolve().parent.parent / "demo" / "api.thrift"
API = thriftpy2.load(str(IDL), module_name="sdapi_local_thrift")
Code = API.ResultCode

TCP, UNIX, REST = 1, 2, 4  # SD_API_TRANSPORT values
DEFAULT_PORT = 9090
DEFAULT_UNIX_SOCKET = "/var/data/apiserver.sock"
VERSION = "local-1.0.0"
API_VERSION = "2.1.0"
