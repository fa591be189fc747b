"""The video pipeline: a video's frames fed into a detection session, many in flight.

Frames are decoded here, shrunk to the size the server wants and sent as JPEG or raw RGB, up to
IN_FLIGHT ahead of their answers on one connection; the results are fetched once, at the end,
and the session is deleted whatever happens (Ctrl-C and SIGTERM included, see interrupts.py).
"""

from __future__ import annotations

import threading
import time

import interrupts
import media
from console import ProgressBar, say
from detection_inputs import encoded, raw_frame
from media import Video
from sdclient import ApiError, Client, check

IN_FLIGHT = 16  # video frames sent ahead of their answers on one connection


def create_session(api: Client, settings) -> int:
    session_id = api.call("createSession", settings)
    if session_id >= 0:
        return session_id
    status = api.call("getStatus")
    check(status.initStatus, "createSession")
    raise ApiError(
        "createSession: the server refused a new session: every session slot may be taken "
        "(clear_sessions.py frees them) or it rejected the settings (ERR_BUSY or ERR_INVALID_REQ)"
    )


class StageClock:
    """Where the client's time per frame goes: decode, resize, encode, send, wait."""

    STAGES = ("decode", "resize", "encode", "send", "wait")

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(self.STAGES, 0.0)
        self.mark = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] += now - self.mark
        self.mark = now

    def report(self, frames: int) -> str:
        parts = [f"{stage} {self.seconds[stage] / frames * 1000:.1f} ms" for stage in self.STAGES]
        return "per frame: " + ", ".join(parts) + " (wait: for the link and the server)"


def analyse_video(
    api: Client,
    video: Video,
    settings,
    fps: float,
    size: tuple[int, int],
    raw: bool = False,
    in_flight: int = IN_FLIGHT,
    clock: StageClock | None = None,
    why: str = "",
    progress: ProgressBar | None = None,
    sessions=None,
    stop: threading.Event | None = None,
) -> tuple[object, list[int]]:
    """Feed the video frame by frame into a session; the session is deleted whatever happens.

    Up to `in_flight` frames are sent ahead of their answers, so the round trip is paid once,
    not per frame (1: wait for each answer). The results are fetched once, at the end.
    Returns the session's DetectionOutput and the indices of the frames sent. In a batch,
    `progress` is the batch's bar, `sessions` (batch.OpenSessions) tracks the open session and
    `stop` ends the video early; the per-frame cost line, with `why` the frame format was
    chosen, is printed only alone.
    """
    alone = progress is None
    progress = progress or ProgressBar(media.sampled_count(video, fps))
    clock = clock or StageClock()
    sent: list[int] = []
    answered = 0
    session_id = None

    def receive_one() -> None:
        nonlocal answered
        check(api.receive("processInputForSession"), f"frame {sent[answered]}")
        answered += 1
        clock.lap("wait")
        progress.step()

    try:
        with interrupts.deferred():  # a session created must be known, to be deleted
            session_id = create_session(api, settings)
            if sessions is not None:
                sessions.add(api.endpoint, session_id)
        for index, frame in media.frames(video, fps):
            if stop is not None and stop.is_set():
                raise ApiError("stopped")
            clock.lap("decode")
            frame = media.fit(frame, size)
            clock.lap("resize")
            payload = raw_frame(frame) if raw else encoded(media.jpeg(frame))
            clock.lap("encode")
            api.send("processInputForSession", session_id, index, payload)
            sent.append(index)
            clock.lap("send")
            if api.in_flight >= in_flight:
                receive_one()
        while api.in_flight:
            receive_one()
        if alone:
            progress.close()
        output = api.call("clearSession", session_id)
        check(output.status, "clearSession")
    except BaseException:
        if alone:
            progress.close()
        api.close()  # answers may be in flight; delete the session over a fresh connection
        raise
    finally:
        if session_id is not None:
            with interrupts.deferred():
                try:
                    api.call("deleteSession", session_id)
                except ApiError as error:
                    say(f"warning: could not delete session {session_id}: {error}")
            if sessions is not None:
                sessions.discard(api.endpoint, session_id)
    if sent and alone:
        frame_format = "raw RGB" if raw else "JPEG"
        because = f" ({why})" if why else ""
        say(
            f"{len(sent)} {frame_format} frames{because}, {in_flight} in flight; "
            f"client {clock.report(len(sent))}"
        )
    return output, sent
