"""http_demo.py against REST peers that answer oddly: any JSON, slow bytes, redirects, encodings."""

from __future__ import annotations

import gzip
import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import http_demo
from faults.http_peer import HttpPeer, Reply
from pictures import ONE, write_picture

OK = json.dumps(
    {"status": 1, "result": [{"data": [{"name": "person", "left": 0.1, "top": 0.2,
                                        "right": 0.3, "bottom": 0.4}]}]}
).encode()  # fmt: skip


@pytest.fixture
def picture(tmp_path):
    return write_picture(tmp_path / "street.jpg", [ONE])


def demo(run, peer: HttpPeer, picture, *flags: str):
    return run(http_demo, "-s", "127.0.0.1", "-p", str(peer.port), "-i", str(picture), *flags)


def head(extra: str, body: bytes) -> bytes:
    return f"HTTP/1.1 200 OK\r\n{extra}Connection: close\r\n\r\n".encode() + body


@pytest.mark.parametrize(
    "raw",
    [
        head(f"Content-Encoding: gzip\r\nContent-Length: {len(gzip.compress(OK))}\r\n",
             gzip.compress(OK)),
        head("Transfer-Encoding: chunked\r\n", b"%x\r\n" % len(OK) + OK + b"\r\n0\r\n\r\n"),
        b"HTTP/1.1 100 Continue\r\n\r\n" + head(f"Content-Length: {len(OK)}\r\n", OK),
    ],
    ids=["gzip", "chunked", "100-continue"],
)  # fmt: skip
def test_ordinary_http_encodings_are_read(picture, run, raw):
    with HttpPeer(lambda request: Reply(raw=raw)) as peer:
        result = demo(run, peer, picture)
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        "1 object(s) found",
        "  person at left 0.100, top 0.200, right 0.300, bottom 0.400",
    ]


@pytest.mark.parametrize(
    "reply, message",
    [
        (Reply(raw=b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/x\r\n"
                   b"Content-Length: 0\r\n\r\n"), "HTTP 302 (a redirect to 'http://127.0.0.1:1/x')"),
        (Reply(raw=b"HTTP/1.1 307 Again\r\nLocation: /v1/detect\r\nContent-Length: 0\r\n\r\n"),
         "HTTP 307 (a redirect to '/v1/detect')"),
        (Reply(200, b'{"status": 1, "result": ' + b"[" * 50000 + b"]" * 50000 + b"}"),
         "is not the REST API's JSON"),
        (Reply(raw=head("Content-Encoding: gzip\r\n", gzip.compress(b" " * (40 << 20)))),
         "is larger than 16777216 bytes"),
    ],
    ids=["redirect-elsewhere", "redirect-loop", "nested-past-recursion", "gzip-bomb"],
)  # fmt: skip
def test_answers_that_are_not_detections_end_in_one_line(picture, run, reply, message):
    with HttpPeer(lambda request: reply) as peer:
        result = demo(run, peer, picture)
        calls = len(peer.requests)
    assert result.code == 1 and "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    assert message in lines[-1] and len(lines) == 2, result.err
    assert calls == 1  # a redirect is not followed: the picture is not sent elsewhere


@pytest.mark.parametrize("where", ["head", "body"])
def test_a_trickling_answer_is_bounded_by_the_timeout(picture, run, where):
    body = b" " * 200 + OK
    raw = head(f"Content-Length: {len(body)}\r\n", body)
    after = raw.index(b"\r\n\r\n") + 4 if where == "body" else 0
    reply = Reply(raw=raw, trickle=0.05, trickle_after=after)
    with HttpPeer(lambda request: reply) as peer:
        started = time.monotonic()
        result = demo(run, peer, picture, "--timeout", "0.4")
        took = time.monotonic() - started
    assert result.code == 1, result.out
    assert result.err.strip().splitlines()[-1] == (
        f"error: no whole answer from http://127.0.0.1:{peer.port}/v1/detect within 0.8s "
        "(--timeout 0.4: to connect, then for the answer)"
    )
    assert took < 3


def test_a_huge_timeout_is_capped_not_a_traceback(picture, run):
    with HttpPeer(lambda request: Reply(200, OK)) as peer:
        result = demo(run, peer, picture, "--timeout", "1e300")
    assert result.code == 0, result.err


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
ENTRY = st.fixed_dictionaries(
    {},
    optional={
        "name": JSON | st.text(),
        "left": JSON, "top": JSON, "right": JSON, "bottom": JSON,
    },
)  # fmt: skip
ANSWER = (
    st.fixed_dictionaries(
        {},
        optional={
            "status": st.sampled_from([1, 1.0, "1", 2, 5, 42]) | JSON,
            "result": st.lists(st.fixed_dictionaries({}, optional={"data": st.lists(ENTRY | JSON)}))
            | JSON,
        },
    )
    | JSON
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(answer=ANSWER)
def test_any_json_answer_is_a_result_or_one_line(picture, run, answer):
    body = json.dumps(answer).encode()  # NaN and Infinity included, as Python's json writes them
    with HttpPeer(lambda request: Reply(200, body)) as peer:
        result = demo(run, peer, picture)
    assert result.code in (0, 1) and "Traceback" not in result.err
    if result.code == 1:
        assert result.err.strip().splitlines()[-1].startswith("error: ")
        return
    lines = result.out.splitlines()
    assert lines[0].endswith("object(s) found")
    for line in lines:  # what the peer sent reaches the terminal printable and bounded
        assert line.isprintable() and len(line) < 120, line


@pytest.mark.parametrize("host", ["http://127.0.0.1", "127.0.0.1/v1", "a b", "", "[::1"])
def test_a_host_that_is_not_an_address_is_refused_before_sending(picture, capsys, host):
    with HttpPeer(lambda request: Reply(200, OK)) as peer:
        with pytest.raises(SystemExit) as stopped:
            http_demo.main(["-s", f"{host}", "-p", str(peer.port), "-i", str(picture)])
        sent = len(peer.requests)
    assert stopped.value.code == 2 and sent == 0
    assert capsys.readouterr().err.count("\n") == 1


def test_host_with_its_own_port(picture, run):
    with HttpPeer(lambda request: Reply(200, OK)) as peer:
        result = run(http_demo, "-s", f"127.0.0.1:{peer.port}", "-p", "1", "-i", str(picture))
    assert result.code == 0, result.err
