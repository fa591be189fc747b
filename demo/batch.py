"""Batches: several inputs spread over the session slots of one or more servers.

Each server says in `getStatus` how many sessions it runs at once (`numConcurrentSessions`);
the batch opens one connection per slot and keeps every slot busy: an image's next input is
already on its way while one is being detected (answers come back in order on a connection),
and a video runs as one session with its frames in flight, as a single video does. The inputs
wait in one queue, so a faster server takes more of them. An input that fails is reported and
the batch goes on; a server that cannot be reached leaves its inputs to the others.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import interrupts
import link
import media
from annotation import annotate
from console import ProgressBar, say
from detection_inputs import encoded
from media import (
    Image,
    InputError,
    Video,
    cv2,  # OpenCV as media loads it: its limits set first
)
from results import check_answer, summary
from sdclient import ApiError, Client, Endpoint, check, to_plain
from video import IN_FLIGHT, analyse_video

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}
# Images in flight on one slot's connection: one being detected, the next two on their way,
# so that the slot does not idle through a round trip plus a transfer longer than a detection.
IMAGE_DEPTH = 3


def expand_inputs(values: list[str]) -> list[Path]:
    """The files named, a folder standing for its images and videos sorted by name.

    Raises InputError for a path that does not exist or a folder with nothing to analyse.
    """
    paths: list[Path] = []
    for value in values:
        path = Path(value)
        try:
            if path.is_dir():
                found = sorted(
                    (
                        each
                        for each in path.iterdir()
                        if each.is_file()
                        and not each.name.startswith(".")
                        and each.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES
                    ),
                    key=lambda each: each.name,
                )
                if not found:
                    raise InputError(f"{path}: a folder with no images or videos in it")
                paths += found
            elif path.exists():
                paths.append(path)
            else:
                raise InputError(f"{path}: no such file")
        except (OSError, ValueError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            raise InputError(f"{value!r}: not a usable path ({reason})") from None
    return paths


def output_names(inputs: list[Path], folder: Path) -> dict[Path, Path]:
    """Where each input's annotated copy goes: its own name in `folder`, -2, -3... on a clash."""
    names: dict[Path, Path] = {}
    taken: set[str] = set()
    for path in inputs:
        if path.suffix.lower() in VIDEO_SUFFIXES:
            suffix = ".avi" if path.suffix.lower() == ".avi" else ".mp4"
        else:
            suffix = path.suffix.lower() if path.suffix.lower() in {".jpg", ".png"} else ".jpg"
        name, number = f"{path.stem}{suffix}", 1
        while name in taken:
            number += 1
            name = f"{path.stem}-{number}{suffix}"
        taken.add(name)
        names[path] = folder / name
    return names


def prepare_output_folder(text: str, inputs: list[Path]) -> Path:
    """The folder for a batch's annotated copies, made if missing (its parent must exist)."""
    folder = Path(text)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: --output names a folder for several inputs, not a file")
    if not folder.resolve().parent.is_dir():
        raise InputError(f"{folder}: its parent folder does not exist")
    if any(path.resolve().parent == folder.resolve() for path in inputs):
        raise InputError(
            f"{folder}: holds inputs; the copies take the inputs' names, so pick another folder"
        )
    folder.mkdir(exist_ok=True)
    return folder


class OpenSessions:
    """The sessions open on every server, so that Ctrl-C can delete each of them."""

    def __init__(self) -> None:
        self._open: set[tuple[Endpoint, int]] = set()
        self._lock = threading.Lock()

    def add(self, endpoint: Endpoint, session_id: int) -> None:
        with self._lock:
            self._open.add((endpoint, session_id))

    def discard(self, endpoint: Endpoint, session_id: int) -> None:
        with self._lock:
            self._open.discard((endpoint, session_id))

    def delete_all(self, timeout: float) -> None:
        """Delete every open session over fresh connections; say which could not be deleted."""
        with self._lock:
            open_now = sorted(self._open, key=str)
            self._open.clear()
        for endpoint, session_id in open_now:
            try:
                with Client(endpoint, timeout=timeout) as api:
                    api.call("deleteSession", session_id)
            except ApiError as error:
                say(f"warning: could not delete session {session_id} on {endpoint}: {error}")


@dataclass
class Server:
    """One server of the batch, its slots and, once a video needs it, its frame format."""

    endpoint: Endpoint
    slots: int = 0
    frame_format: link.FrameFormat | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class Batch:
    """Run `settings` over `inputs` on `endpoints`; print one result per input as it completes."""

    def __init__(self, args, settings, inputs: list[Path], endpoints: list[Endpoint], size) -> None:
        self.args, self.settings, self.size = args, settings, size
        self.inputs = inputs
        self.servers = [Server(endpoint) for endpoint in endpoints]
        self.queue: deque[Path] = deque(inputs)
        self.taken = 0  # inputs taken from the queue and not finished: they may come back
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.stop = threading.Event()
        self.sessions = OpenSessions()
        self.failures: list[Path] = []
        self.last_error = ""
        self.outputs: dict[Path, Path] = {}
        self.progress: ProgressBar | None = None
        self.slot_threads: list[threading.Thread] = []

    # --- the queue

    def take(self, wait: bool = True) -> Path | None:
        """The next input; None once every input is finished (or the batch is stopped).

        While the queue is empty but inputs are still being worked on elsewhere, `wait`: a slot
        whose server goes away puts its inputs back. A slot with answers to read does not wait.
        """
        with self.changed:
            while not self.stop.is_set():
                if self.queue:
                    self.taken += 1
                    return self.queue.popleft()
                if not self.taken or not wait:
                    return None
                self.changed.wait(0.2)
            return None

    def put_back(self, paths: list[Path]) -> None:
        with self.changed:
            self.queue.extendleft(reversed(paths))
            self.taken -= len(paths)
            self.changed.notify_all()

    def finished(self) -> None:
        with self.changed:
            self.taken -= 1
            self.changed.notify_all()

    # --- results

    def succeeded(self, path: Path, source: Image | Video, output, frames: list[int]) -> None:
        """Print the input's result and write its annotated copy; it is finished."""
        if self.stop.is_set():
            return
        try:
            if self.args.output:
                annotate(
                    source, output, self.settings, str(self.output_for(path, source)), self.args.fps
                )
        except InputError as error:
            self.failed(path, error)
            return
        with self.lock:
            if self.args.json:
                print(json.dumps({"input": str(path), **to_plain(output)}), flush=True)
            else:
                lines = summary(output, frames)
                print("\n".join([f"{path}:", *(f"  {line}" for line in lines)]), flush=True)
        self.finished()

    def output_for(self, path: Path, source: Image | Video) -> Path:
        """Where the copy goes: the planned name, its suffix fitting what the input turned out to
        be (a picture named .mp4 gets a .jpg copy, a video named .jpg an .mp4), clashing with none.
        """
        planned = self.outputs[path]
        video = isinstance(source, Video)
        if planned.suffix in ((".mp4", ".avi") if video else (".jpg", ".png")):
            return planned
        suffix = ".mp4" if video else ".jpg"
        with self.lock:
            taken = {each.name for each in self.outputs.values()}
            name, number = f"{planned.stem}{suffix}", 1
            while name in taken:
                number += 1
                name = f"{planned.stem}-{number}{suffix}"
            self.outputs[path] = planned.with_name(name)
            return self.outputs[path]

    def failed(self, path: Path, error: Exception, taken: bool = True) -> None:
        """Report the input as failed; it is finished (`taken`: it came from the queue)."""
        if self.stop.is_set():
            return  # interrupted: what is left undone is not a failure to report
        if taken:
            self.finished()
        if path.suffix.lower() not in VIDEO_SUFFIXES:
            self.progress.step()
        with self.lock:
            self.failures.append(path)
            if self.progress and self.progress.on_terminal:
                sys.stderr.write("\n")
            message = str(error)
            if not message.startswith(f"{path}:"):  # input errors name their file already
                message = f"{path}: {message}"
            say(f"error: {message}")
            if self.args.json:
                print(json.dumps({"input": str(path), "error": str(error)}), flush=True)

    # --- the work

    def connect(self, server: Server) -> None:
        """Ask the server how many slots it has; raise ApiError if it cannot take work."""
        with Client(server.endpoint, timeout=self.args.timeout) as api:
            status = api.call("getStatus")
        check(status.initStatus, f"server {server.endpoint}")
        capability = status.capability
        server.slots = max(1, (capability.numConcurrentSessions or 1) if capability else 1)

    def frame_format(self, server: Server, api: Client) -> link.FrameFormat:
        with server.lock:
            if server.frame_format is None:
                server.frame_format = link.choose(api, self.args.frame_format)
            return server.frame_format

    def run_slot(self, server: Server) -> None:
        """Take inputs from the queue until it is empty; give them back if the server is gone."""
        pending: deque[tuple[Path, Image]] = deque()
        api = Client(server.endpoint, timeout=self.args.timeout)

        def receive_one() -> None:
            try:
                output = api.receive("runDetection")
            except ApiError as error:
                # The connection is gone (or its answers cannot be trusted): no input waiting on
                # it is at fault, so all go back to the queue and this slot stops; the other
                # servers take them, or they fail with this error when none is left.
                self.put_back([each for each, _ in pending])
                pending.clear()
                with self.lock:
                    self.last_error = str(error)
                raise _SlotLost from None
            path, image = pending.popleft()
            try:
                check(output.status, "runDetection")
                check_answer(output, "runDetection")
            except ApiError as error:
                self.failed(path, error)
                return
            self.progress.step()
            self.succeeded(path, image, output, [0])

        try:
            self._fill_slot(server, api, pending, receive_one)
        except _SlotLost:
            pass
        finally:
            api.close()

    def _fill_slot(self, server: Server, api: Client, pending: deque, receive_one) -> None:
        """Keep IMAGE_DEPTH images on their way to `server`, a video at a time, until done."""
        while True:
            path = self.take(wait=not pending)
            if path is None:
                if not pending:
                    break
                while pending:
                    receive_one()
                continue
            try:
                source = media.open_input(str(path))
                payload = (
                    encoded(media.image_jpeg(source, self.size))
                    if isinstance(source, Image)
                    else None
                )
            except InputError as error:
                self.failed(path, error)
                continue
            if payload is None:
                while pending:
                    receive_one()
                self.run_video(server, api, path, source)
                continue
            try:
                api.send("runDetection", payload, self.settings)
            except ApiError as error:
                # The server cannot be reached: this slot stops, the others take its inputs.
                self.put_back([path, *(each for each, _ in pending)])
                pending.clear()
                with self.lock:
                    self.last_error = str(error)
                return
            pending.append((path, source))
            if len(pending) >= IMAGE_DEPTH:
                receive_one()

    def run_video(self, server: Server, api: Client, path: Path, video: Video) -> None:
        try:
            chosen = self.frame_format(server, api)
            output, frames = analyse_video(
                api,
                video,
                self.settings,
                self.args.fps,
                self.size,
                chosen.raw,
                1 if self.args.one_at_a_time else IN_FLIGHT,
                progress=self.progress,
                sessions=self.sessions,
                stop=self.stop,
            )
            check_answer(output, "clearSession")
        except (ApiError, InputError) as error:
            self.failed(path, error)
            return
        self.succeeded(path, video, output, frames)

    def run_server(self, server: Server) -> None:
        try:
            self.connect(server)
        except ApiError as error:
            with self.lock:
                self.last_error = str(error)
            say(f"warning: {error}; the other servers take its inputs")
            return
        slots = [
            threading.Thread(target=self.run_slot, args=(server,), daemon=True)
            for _ in range(server.slots)
        ]
        with self.lock:
            self.slot_threads += slots
        for slot in slots:
            slot.start()
        for slot in slots:
            slot.join()

    def run(self) -> int:
        if self.args.output:
            folder = prepare_output_folder(self.args.output, self.inputs)
            self.outputs = output_names(self.inputs, folder)
        total = sum(
            _sampled_count(path, self.args.fps) if path.suffix.lower() in VIDEO_SUFFIXES else 1
            for path in self.inputs
        )
        self.progress = ProgressBar(total)
        start = time.monotonic()
        workers = [
            threading.Thread(target=self.run_server, args=(server,), daemon=True)
            for server in self.servers
        ]
        try:
            for worker in workers:
                worker.start()
            for worker in workers:
                while worker.is_alive():  # timed: Ctrl-C reaches this thread at once
                    worker.join(0.2)
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM and SIGHUP through interrupts.py
            self.stop.set()
            self.progress.close()
            say("deleting the open sessions")
            with interrupts.deferred():  # a second Ctrl-C does not cut the deleting short
                self.sessions.delete_all(timeout=min(self.args.timeout, 10))
                # The slots stop at their next frame or answer; waiting for them also catches a
                # session created as Ctrl-C came, and ends no thread in the middle of a decode.
                deadline = time.monotonic() + 10
                for worker in workers + self.slot_threads:
                    worker.join(max(0.0, deadline - time.monotonic()))
                self.sessions.delete_all(timeout=min(self.args.timeout, 10))
            raise
        self.progress.close()
        for path in list(self.queue):  # no server could take them
            self.failed(path, ApiError(self.last_error or "no server could take it"), taken=False)
        self.queue.clear()
        seconds = time.monotonic() - start
        slots = sum(server.slots for server in self.servers)
        servers = len(self.servers)
        say(
            f"{len(self.inputs)} inputs in {seconds:.1f} s over {servers} "
            f"server{'s' if servers > 1 else ''} ({slots} slots)"
        )
        if self.failures:
            say(f"error: {len(self.failures)} of {len(self.inputs)} inputs failed")
            return 1
        return 0


class _SlotLost(Exception):
    """A slot's connection failed; its inputs are back in the queue."""


def _sampled_count(path: Path, fps: float) -> int:
    """Frames a video file will send (for the progress bar; 1 when the container does not say)."""
    capture = cv2.VideoCapture(str(path))
    try:
        video = Video(
            path,
            capture.get(cv2.CAP_PROP_FPS) or 25.0,
            int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0),
        )
    finally:
        capture.release()
    return max(1, media.sampled_count(video, fps))
