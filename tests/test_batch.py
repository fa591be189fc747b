"""Batches over one and two servers, and the frame format chosen from the measured link.

Against the local API server (real detections of the green figures the tests draw) and the
stand-in server of bench/standins.py (a set time per detection, a set number of slots), directly
and through the stand-in WAN link, all on loopback or a Unix socket.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import batch
import democli
import detection_demo
import link
from conftest import DEMO, ROOT, local_aws
from pictures import walk, write_picture, write_video
from sdclient import UNIX, Client, Endpoint

sys.path.insert(0, str(ROOT / "bench"))
from standins import Link, TimedServer  # noqa: E402


@pytest.fixture
def timed_servers():
    """Start stand-in servers on loopback: timed_servers(count, work seconds, slots)."""
    started: list[TimedServer] = []

    def start(count: int = 1, work: float = 0.0, slots: int = 2) -> list[TimedServer]:
        for _ in range(count):
            started.append(TimedServer(local_aws.free_port(), work, slots))
        return started[-count:]

    yield start
    for server in started:
        server.close()


@pytest.fixture
def links():
    """Start emulated WAN links: links(to_port, delay_ms, mbit)."""
    started: list[Link] = []

    def start(to_port: int, delay_ms: float, mbit: float) -> Link:
        started.append(Link(local_aws.free_port(), to_port, delay_ms, mbit))
        return started[-1]

    yield start
    for each in started:
        each.close()


def hosts(*ports: int) -> str:
    return ",".join(f"127.0.0.1:{port}" for port in ports)


def figures_folder(folder: Path, count: int) -> list[Path]:
    """`count` pictures, picture i holding i % 3 + 1 figures, and one walking video."""
    folder.mkdir()
    paths = []
    for index in range(count):
        figures = [(0.05 + 0.3 * each, 0.3, 0.1, 0.4) for each in range(index % 3 + 1)]
        paths.append(write_picture(folder / f"p{index:02}.png", figures))
    paths.append(write_video(folder / "walk.mp4", walk((0.1, 0.8), (0.9, 0.8), 10)))
    return paths


def json_lines(out: str) -> dict[str, dict]:
    lines = [json.loads(line) for line in out.splitlines()]
    by_input = {line["input"]: line for line in lines}
    assert len(by_input) == len(lines)  # one line per input
    return by_input


# --- batches against the local server: results, JSON lines, output folder, failures


def test_batch_json_lines_hold_every_input_and_its_detections(api_server, run, tmp_path):
    paths = figures_folder(tmp_path / "in", 5)
    result = run(detection_demo, *api_server.connection, "--input", str(tmp_path / "in"), "--json")
    assert result.code == 0, result.err
    by_input = json_lines(result.out)
    assert set(by_input) == {str(path) for path in paths}
    for index, path in enumerate(paths[:-1]):
        objects = by_input[str(path)]["objDetResult"]["objects"]
        assert len(objects) == index % 3 + 1
    video_objects = by_input[str(paths[-1])]["objDetResult"]["objects"]
    assert {each["objectId"] for each in video_objects} == {video_objects[0]["objectId"]}
    assert "6 inputs in" in result.err
    with api_server.client() as api:
        assert api.call("getSessions") == []


def test_repeated_inputs_text_summary_and_output_folder(api_server, run, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = write_picture(tmp_path / "a" / "same.png", [(0.1, 0.3, 0.1, 0.4)])
    two = write_picture(tmp_path / "b" / "same.png", [(0.1, 0.3, 0.1, 0.4), (0.6, 0.3, 0.1, 0.4)])
    video = write_video(tmp_path / "b" / "walk.mp4", walk((0.1, 0.8), (0.9, 0.8), 10))
    copies = tmp_path / "copies"  # made by the demo: its parent exists
    result = run(
        detection_demo,
        *api_server.connection,
        *("--input", str(one), "--input", str(two), "--input", str(video)),
        *("--output", str(copies)),
    )
    assert result.code == 0, result.err
    assert f"{one}:\n  objects: 1 distinct" in result.out
    assert f"{two}:\n  objects: 2 distinct" in result.out
    assert sorted(path.name for path in copies.iterdir()) == ["same-2.png", "same.png", "walk.mp4"]
    for name in ("same.png", "same-2.png", "walk.mp4"):
        assert (copies / name).stat().st_size > 0

    into_inputs = run(
        detection_demo, *api_server.connection, "--input", str(tmp_path / "b"), "--output",
        str(tmp_path / "b"),
    )  # fmt: skip
    assert into_inputs.code == 2 and "holds inputs" in into_inputs.err


def test_a_failed_input_is_reported_and_the_batch_goes_on(api_server, run, tmp_path):
    paths = figures_folder(tmp_path / "in", 4)
    broken = tmp_path / "in" / "p01b.jpg"  # sorts among the pictures: fails mid-batch
    broken.write_text("not a picture")
    result = run(detection_demo, *api_server.connection, "--input", str(tmp_path / "in"), "--json")
    assert result.code == 1
    by_input = json_lines(result.out)
    assert set(by_input) == {str(path) for path in [*paths, broken]}
    assert "not an image or a video" in by_input[str(broken)]["error"]
    assert all(by_input[str(path)]["status"] == "SUCCESS" for path in paths)
    assert result.err.strip().splitlines()[-1] == "error: 1 of 6 inputs failed"
    assert f"error: {broken}: " in result.err and "Traceback" not in result.err
    assert f"{broken}: {broken}:" not in result.err  # the file named once


def test_a_folder_holds_only_its_files_as_inputs(api_server, run, tmp_path):
    """Subfolders, a named pipe, links to nothing or to a folder: no input, no hang, no line."""
    paths = figures_folder(tmp_path / "in", 2)
    folder = tmp_path / "in"
    figures_folder(folder / "sub", 1)
    os.mkfifo(folder / "pipe.jpg")  # reading it would wait for ever
    (folder / "nowhere.jpg").symlink_to(tmp_path / "missing.jpg")
    (folder / "loop.png").symlink_to(folder)
    result = run(detection_demo, *api_server.connection, "--input", str(folder), "--json")
    assert result.code == 0, result.err
    assert set(json_lines(result.out)) == {str(path) for path in paths}


# `run` only captures output, reset at each call: it is safe to share between examples.
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    good=st.lists(st.booleans(), min_size=1, max_size=8),
    server_count=st.integers(1, 2),
    slots=st.integers(1, 3),
)
def test_every_input_gets_one_line_and_failures_are_counted(
    run, tmp_path_factory, good, server_count, slots
):
    folder = tmp_path_factory.mktemp("batch")
    for index, decodes in enumerate(good):
        if decodes:
            write_picture(folder / f"i{index}.png", [(0.4, 0.3, 0.1, 0.4)])
        else:
            (folder / f"i{index}.jpg").write_bytes(b"not a picture")
    servers = [TimedServer(local_aws.free_port(), 0.0, slots) for _ in range(server_count)]
    try:
        result = run(
            detection_demo,
            *("--host", hosts(*(server.port for server in servers))),
            *("--input", str(folder), "--json"),
        )
    finally:
        for server in servers:
            server.close()
    lines = json_lines(result.out)
    assert len(lines) == len(good)
    failed = sum(not decodes for decodes in good)
    assert sum("error" in line for line in lines.values()) == failed
    assert result.code == (1 if failed else 0)
    assert (
        f"over {server_count} server" in result.err
        and f"({slots * server_count} slots)" in result.err
    )
    if failed:
        assert result.err.strip().endswith(f"error: {failed} of {len(good)} inputs failed")


def test_missing_input_is_a_bad_argument(api_server, run, tmp_path):
    picture = write_picture(tmp_path / "p.png", [(0.4, 0.3, 0.1, 0.4)])
    missing = tmp_path / "nope.png"
    result = run(
        detection_demo, *api_server.connection, "--input", str(picture), "--input", str(missing)
    )
    assert result.code == 2 and result.err == f"error: {missing}: no such file\n"
    too_long = "x" * 5000
    result = run(
        detection_demo, *api_server.connection, "--input", str(picture), "--input", too_long
    )
    assert result.code == 2 and "not a usable path (File name too long)" in result.err


# --- batches over two servers


def test_two_servers_share_the_batch_and_each_slot_works(timed_servers, run, tmp_path):
    first, second = timed_servers(2, work=0.02, slots=2)
    paths = figures_folder(tmp_path / "in", 16)
    result = run(
        detection_demo,
        *("--host", hosts(first.port, second.port)),
        *("--input", str(tmp_path / "in"), "--json"),
    )
    assert result.code == 0, result.err
    assert set(json_lines(result.out)) == {str(path) for path in paths}
    assert "over 2 servers (4 slots)" in result.err
    done = [server.handler.detections for server in (first, second)]
    assert sum(done) == 16 + 5 and min(done) >= 3, done  # 16 pictures, 5 video frames


def test_an_unreachable_server_leaves_its_inputs_to_the_other(timed_servers, run, tmp_path):
    (alive,) = timed_servers(1, work=0.0, slots=2)
    dead_port = local_aws.free_port()
    paths = figures_folder(tmp_path / "in", 6)
    result = run(
        detection_demo,
        *("--host", hosts(dead_port, alive.port)),
        *("--input", str(tmp_path / "in"), "--json"),
    )
    assert result.code == 0, result.err
    assert set(json_lines(result.out)) == {str(path) for path in paths}
    assert f"cannot reach the API server over TCP 127.0.0.1:{dead_port}" in result.err


def test_a_server_dying_mid_batch_leaves_the_rest_to_the_other(timed_servers, run, tmp_path):
    dying, alive = timed_servers(2, work=0.01, slots=2)
    paths = figures_folder(tmp_path / "in", 30)[:-1]
    (tmp_path / "in" / "walk.mp4").unlink()  # pictures only: each answer is one input

    def die_after_some() -> None:
        while dying.handler.detections < 4:
            time.sleep(0.001)
        dying.close()

    threading.Thread(target=die_after_some, daemon=True).start()
    result = run(
        detection_demo,
        *("--host", hosts(dying.port, alive.port)),
        *("--input", str(tmp_path / "in"), "--json"),
    )
    by_input = json_lines(result.out)
    assert set(by_input) == {str(path) for path in paths}
    failed = [line for line in by_input.values() if "error" in line]
    # At most the input each of the dying server's slots was waiting for; the rest moved over.
    assert len(failed) <= 2, failed
    assert all("lost the connection" in line["error"] for line in failed)
    assert alive.handler.detections >= len(paths) - dying.handler.detections
    assert result.code == (1 if failed else 0)


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    files=st.lists(
        st.tuples(
            st.sampled_from(["image", "video"]),  # what the file holds
            st.sampled_from([".jpg", ".png", ".mp4", ".avi", ".jpeg", ".tif"]),  # its name
        ),
        min_size=1,
        max_size=4,
    )
)
def test_copies_follow_what_each_input_holds_not_its_name(api_server, run, tmp_path, files):
    """A picture named .mp4 or a video named .jpg: a copy of its own kind, a name of its own."""
    import media

    case = tmp_path / f"case{len(list(tmp_path.iterdir()))}"
    inputs = case / "in"
    inputs.mkdir(parents=True)
    for index, (kind, suffix) in enumerate(files):
        path = inputs / f"f{index % 2}{suffix}"  # stems repeat: names must not clash
        if path.exists():
            continue
        if kind == "image":
            write_picture(path.with_suffix(".png"), [(0.4, 0.3, 0.1, 0.4)]).rename(path)
        else:
            write_video(path.with_suffix(".avi"), walk((0.1, 0.8), (0.9, 0.8), 3)).rename(path)
    result = run(
        detection_demo,
        *api_server.connection,
        *("--input", str(inputs), "--output", str(case / "out"), "--json"),
    )
    assert "Traceback" not in result.err and result.code == 0, result.err
    by_input = json_lines(result.out)
    assert set(by_input) == {str(path) for path in inputs.iterdir()}
    copies = sorted((case / "out").iterdir())
    assert len(copies) == len(by_input)
    kinds = sorted(type(media.open_input(str(each))).__name__ for each in copies)
    held = sorted(type(media.open_input(str(each))).__name__ for each in inputs.iterdir())
    assert kinds == held


@pytest.mark.parametrize("die_after, slots", [(1, 1), (4, 2), (9, 3)])
def test_no_input_is_lost_with_a_dying_server_while_another_lives(
    timed_servers, run, tmp_path, die_after, slots
):
    """The inputs on their way to a server that dies go to the other: none fails."""
    dying, alive = timed_servers(2, work=0.01, slots=slots)
    paths = figures_folder(tmp_path / "in", 24)[:-1]
    (tmp_path / "in" / "walk.mp4").unlink()

    def die_after_some() -> None:
        while dying.handler.detections < die_after:
            time.sleep(0.001)
        dying.close()

    threading.Thread(target=die_after_some, daemon=True).start()
    result = run(
        detection_demo,
        *("--host", hosts(dying.port, alive.port)),
        *("--input", str(tmp_path / "in"), "--json"),
    )
    by_input = json_lines(result.out)
    assert set(by_input) == {str(path) for path in paths}
    assert [line for line in by_input.values() if "error" in line] == []
    assert result.code == 0, result.err


def test_no_server_reachable_fails_every_input(run, tmp_path):
    paths = figures_folder(tmp_path / "in", 2)
    result = run(
        detection_demo,
        *("--host", hosts(local_aws.free_port())),
        *("--input", str(tmp_path / "in"), "--json"),
    )
    assert result.code == 1
    assert all("cannot reach" in line["error"] for line in json_lines(result.out).values())
    assert result.err.strip().endswith(f"error: {len(paths)} of {len(paths)} inputs failed")


@pytest.mark.parametrize(
    "server_count, stop_signal, code",
    [(1, signal.SIGINT, 130), (2, signal.SIGINT, 130), (2, signal.SIGTERM, 143)],
)
def test_ctrl_c_or_sigterm_deletes_every_open_session(
    timed_servers, tmp_path, server_count, stop_signal, code
):
    servers = timed_servers(server_count, work=0.3, slots=2)
    folder = tmp_path / "in"
    folder.mkdir()
    for index in range(2 * server_count + 1):
        write_video(folder / f"v{index}.mp4", walk((0.1, 0.8), (0.9, 0.8), 40))
    demo = subprocess.Popen(
        [
            sys.executable,
            str(DEMO / "detection_demo.py"),
            *("--host", hosts(*(server.port for server in servers))),
            *("--input", str(folder)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while sum(len(server.handler.sessions) for server in servers) < 2 * server_count:
            assert time.monotonic() < deadline and demo.poll() is None, demo.communicate()
            time.sleep(0.02)
        demo.send_signal(stop_signal)
        out, err = demo.communicate(timeout=30)
    finally:
        local_aws.stop_process(demo)
    assert demo.returncode == code, err
    last = "interrupted" if stop_signal == signal.SIGINT else "stopped by SIGTERM"
    assert err.endswith(f"deleting the open sessions\n{last}\n") and "Traceback" not in err
    for server in servers:
        assert server.handler.sessions == {}


# --- the frame format follows the link


def test_direct_links_get_raw_frames(api_server, timed_servers):
    with api_server.client() as api:
        chosen = link.choose(api)
    assert chosen.raw, chosen.why
    if api.endpoint.transport == UNIX:
        assert chosen.why == "Unix socket: no network to cross"
    else:
        assert "this machine" in chosen.why
    with api_server.client() as api:
        assert not link.choose(api, "jpeg").raw
    (server,) = timed_servers(1)
    with Client(Endpoint(host="127.0.0.1", port=server.port)) as api:
        assert not link.choose(api, "jpeg").raw and link.choose(api, "raw").raw


@pytest.mark.parametrize(
    "delay_ms, mbit, because",
    [(5, 1000, "round trip"), (0, 200, "MB/s: a network in between")],
)
def test_a_tunnel_to_a_network_gets_jpeg(timed_servers, links, delay_ms, mbit, because):
    (server,) = timed_servers(1)
    tunnel = links(server.port, delay_ms, mbit)
    with Client(Endpoint(host="localhost", port=tunnel.port)) as api:
        chosen = link.choose(api)
    assert not chosen.raw and because in chosen.why, chosen.why


def test_the_demo_through_a_tunnel_sends_jpeg_and_says_why(timed_servers, links, run, tmp_path):
    (server,) = timed_servers(1)
    tunnel = links(server.port, 5, 1000)
    video = write_video(tmp_path / "walk.mp4", walk((0.1, 0.8), (0.9, 0.8), 10))
    result = run(detection_demo, "--host", f"localhost:{tunnel.port}", "--input", str(video))
    assert result.code == 0, result.err
    assert "5 JPEG frames (round trip" in result.err and "a network in between)" in result.err
    assert server.handler.input_types == {"IMG_BUFFER_ENCODED": 5}

    direct = run(detection_demo, "--host", f"127.0.0.1:{server.port}", "--input", str(video))
    assert direct.code == 0, direct.err
    assert "5 raw RGB frames (round trip" in direct.err
    assert server.handler.input_types["IMG_BUFFER_RAW"] == 5


# --- arguments


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["localhost", "10.0.0.7", "ec2-host.example", "[::1]", "::1"]),
            st.one_of(st.none(), st.integers(1, 65535)),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_host_lists_parse_back(servers):
    parts = []
    for host, port in servers:
        if port is not None and host == "::1":
            host = "[::1]"
        parts.append(host if port is None else f"{host}:{port}")
    parsed = democli.host_list(",".join(parts))
    assert [port for _, port in parsed] == [port for _, port in servers]
    assert [host for host, _ in parsed] == [h.strip("[]") for h, _ in servers]


@pytest.mark.parametrize("text", ["a:", "a:b", ":9090", "a,,b", "[::1]x", "a:70000"])
def test_bad_host_lists(text):
    with pytest.raises(argparse.ArgumentTypeError):
        democli.host_list(text)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(["x", "x-2", "y"]),
                  st.sampled_from([".png", ".jpg", ".JPEG", ".bmp", ".mp4", ".avi"])),
        min_size=1, max_size=8, unique=True,
    )
)  # fmt: skip
def test_output_names_never_clash(files):
    inputs = [Path(folder) / f"{stem}{suffix}" for folder, stem, suffix in files]
    names = batch.output_names(inputs, Path("out"))
    assert len(set(names.values())) == len(inputs)
    for path, copy in names.items():
        assert copy.parent == Path("out")
        video = path.suffix.lower() in batch.VIDEO_SUFFIXES
        assert copy.suffix in ({".mp4", ".avi"} if video else {".png", ".jpg"})


# --- describe_task.py prints the servers ready to paste


def test_describe_task_prints_every_server_as_one_host_list(stub, clean_settings, run):
    import describe_task

    clean_settings.setenv("CLUSTER_NAME", "sd-test")
    arns = [f"arn:aws:ecs:us-east-1:123456789012:task/sd-test/0f1e2d3{n}" for n in (1, 2)]
    definition = "arn:aws:ecs:us-east-1:123456789012:task-definition/sd-apiserver:1"
    stub("ecs").add_response("list_tasks", {"taskArns": arns})
    tasks = [
        {
            "taskArn": arn,
            "taskDefinitionArn": definition,
            "lastStatus": "RUNNING",
            "attachments": [
                {
                    "type": "ElasticNetworkInterface",
                    "details": [
                        {"name": "networkInterfaceId", "value": f"eni-0{n}"},
                        {"name": "privateIPv4Address", "value": f"10.0.1.{n}"},
                    ],
                }
            ],
        }
        for n, arn in enumerate(arns, 1)
    ]
    stub("ecs").add_response("describe_tasks", {"tasks": tasks, "failures": []})
    # Both tasks run one revision: describe_task.py reads it once.
    stub("ecs").add_response(
        "describe_task_definition",
        {"taskDefinition": {"containerDefinitions": [{"portMappings": [{"containerPort": 9090}]}]}},
    )
    for n in (1, 2):
        interface = {"NetworkInterfaceId": f"eni-0{n}", "Association": {"PublicIp": f"54.0.0.{n}"}}
        stub("ec2").add_response("describe_network_interfaces", {"NetworkInterfaces": [interface]})
    result = run(describe_task, "--interval", "0")
    assert result.code == 0, result.err
    line = next(line for line in result.err.splitlines() if "for a batch" in line)
    assert line == "all 2 servers for a batch: --host 54.0.0.1:9090,54.0.0.2:9090"
    assert democli.host_list(line.split("--host ")[1]) == [("54.0.0.1", 9090), ("54.0.0.2", 9090)]
