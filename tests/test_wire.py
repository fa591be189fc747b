"""demo/wire.py: whole messages off a stream, valid ones exactly, back to back, in any pieces."""

from __future__ import annotations

import socket
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import wire
from faults.answers import detection_outputs
from faults.api_peer import reply


@settings(max_examples=60, deadline=None)
@given(
    outputs=st.lists(detection_outputs(), min_size=1, max_size=4),
    piece=st.integers(1, 97),
)
def test_valid_messages_come_out_whole_and_in_order(outputs, piece):
    messages = [reply("runDetection", seqid, output) for seqid, output in enumerate(outputs)]
    stream = b"".join(messages)
    ours, theirs = socket.socketpair()

    def send_in_pieces():
        for start in range(0, len(stream), piece):
            theirs.sendall(stream[start : start + piece])

    sender = threading.Thread(target=send_in_pieces)
    sender.start()
    try:
        reader = wire.MessageReader(ours)
        assert [reader.read(timeout=10) for _ in messages] == messages
    finally:
        sender.join()
        ours.close()
        theirs.close()


def read_once(message: bytes, limits: wire.Limits) -> bytes:
    ours, theirs = socket.socketpair()
    try:
        theirs.sendall(message)
        return wire.MessageReader(ours, limits).read(timeout=5)
    finally:
        ours.close()
        theirs.close()


def test_a_message_at_the_limits_is_read_and_one_past_them_is_not():
    message = reply("getStatus", 0, None)  # the smallest reply: no result
    assert read_once(message, wire.Limits(max_bytes=len(message), max_values=1)) == message
    with pytest.raises(wire.WireError, match="longer than"):
        read_once(message, wire.Limits(max_bytes=len(message) - 1))
    with pytest.raises(wire.WireError, match="more than 0 values"):
        read_once(message, wire.Limits(max_values=0))
