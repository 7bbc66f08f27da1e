"""The Ray executor on a real two-node Ray cluster on 127.0.0.1: complete, identical output, and a worker
process killed mid-run is retried with nothing lost or duplicated.

The cluster is two `ray start --block` processes (a head and a second node joining it with its own
resources), one CPU each, a small object store, no dashboard. They are stopped by the PIDs this test
started, and their descendants by PID too; `ray stop` would stop every Ray on the machine.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("ray")
pytest.importorskip("pyarrow")
if not sys.platform.startswith("linux"):
    pytest.skip("the cluster helpers read /proc", allow_module_level=True)

import pyarrow.parquet as pq  # noqa: E402

from codec.tokenize import TokenizeConfig, tokenize  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
RAY = Path(sys.executable).with_name("ray")
CLIPS = 240
SHARD = 12


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def _descendants(pid: int) -> list[int]:
    tree, out, todo = _children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _kill(pids: list[int], sig: int = signal.SIGKILL) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


@pytest.fixture(scope="module")
def cluster():
    port = _free_port()
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths have a length limit
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),  # the workers import this checkout's `codec`
        "OMP_NUM_THREADS": "1",
        "RAY_USAGE_STATS_ENABLED": "0",
        # A private cluster on 127.0.0.1: no auth token (Ray >= 2.5x would otherwise use or create
        # ~/.ray/auth_token, and a driver without it cannot connect).
        "RAY_AUTH_MODE": "disabled",
        "RAY_DISABLE_IMPORT_WARNING": "1",
    }
    common = ["--num-cpus", "1", "--num-gpus", "0", "--disable-usage-stats", "--block"]
    store = ["--object-store-memory", str(80 * 1024 * 1024)]
    logs = [Path(temp) / "head.log", Path(temp) / "second.log"]
    head = subprocess.Popen(
        [str(RAY), "start", "--head", "--port", str(port), "--node-ip-address", "127.0.0.1",
         "--include-dashboard", "false", "--temp-dir", temp, *store, *common],
        env=env, stdout=logs[0].open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    started = [head]
    previous_auth = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"  # for this process's driver, as for the probes
    try:
        address = f"127.0.0.1:{port}"
        _wait_for_nodes(address, 1, env, logs)
        second = subprocess.Popen(
            [str(RAY), "start", "--address", address, "--node-ip-address", "127.0.0.1",
             "--resources", '{"second_node": 1}', *store, *common],
            env=env, stdout=logs[1].open("w"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        started.append(second)
        _wait_for_nodes(address, 2, env, logs)
        yield address, started
    finally:
        if previous_auth is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = previous_auth
        pids = [pid for process in started for pid in _descendants(process.pid)]
        for process in started:
            process.send_signal(signal.SIGTERM)
        for process in started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        _kill(pids)  # anything the --block processes left behind, by PID


def _wait_for_nodes(
    address: str, count: int, env: dict[str, str], logs: list[Path], timeout: float = 240
) -> None:
    probe = (
        f"import ray; ray.init(address={address!r}, log_to_driver=False, configure_logging=False);"
        "print(sum(n['Alive'] for n in ray.nodes()))"
    )
    deadline = time.monotonic() + timeout
    result = None
    while time.monotonic() < deadline:
        result = subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=timeout
        )
        if result.returncode == 0 and result.stdout.strip().splitlines()[-1:] == [str(count)]:
            return
        time.sleep(1)
    tails = "\n".join(f"--- {log.name}:\n{log.read_text()[-2000:]}" for log in logs if log.exists())
    raise RuntimeError(
        f"the Ray cluster at {address} did not reach {count} nodes; last probe: {result.stderr[-800:] if result else ''}\n{tails}"
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A few hundred short clips at several rates, mono and stereo, plus two broken files."""
    root = tmp_path_factory.mktemp("ray_corpus")
    rng = np.random.default_rng(3)
    for i in range(CLIPS):
        rate = (16_000, 24_000, 44_100)[i % 3]
        channels = 1 + (i % 2)
        frames = int(rate * rng.uniform(0.05, 0.2))
        audio = (0.2 * rng.standard_normal((frames, channels))).astype(np.float32)
        sf.write(root / f"clip{i:04d}.wav", audio, rate)
    (root / "broken1.wav").write_bytes(b"RIFF not really")
    (root / "broken2.flac").write_bytes(b"")
    return root


@pytest.mark.slow
def test_two_node_ray_cluster_matches_local_and_survives_a_killed_worker(
    cluster, corpus, tmp_path, checkpoint
):
    address, started = cluster
    config = TokenizeConfig(model="encodec_24khz", bandwidth=6.0, weights=str(checkpoint("encodec_24khz")))
    expected = tokenize(corpus, tmp_path / "inline", config, shard_size=SHARD)
    assert expected.progress.clips_failed == 2

    killed: list[int] = []
    nodes_used: set[int] = set()

    def kill_one_worker(state):
        actors = [
            pid
            for process in started
            for pid in _descendants(process.pid)
            if "_RayShardActor" in _cmdline(pid) or "MapWorker" in _cmdline(pid)
        ]
        for process in started:  # which nodes run an actor: each `ray start` owns its node's processes
            if any(pid in actors for pid in _descendants(process.pid)):
                nodes_used.add(process.pid)
        if not killed and state.shards_done >= 2 and actors:
            _kill([actors[0]])
            killed.append(actors[0])

    summary = tokenize(
        corpus,
        tmp_path / "ray",
        config,
        executor="ray",
        workers=2,
        address=address,
        shard_size=SHARD,
        progress=kill_one_worker,
    )
    assert killed, "no Ray worker process was found to kill"
    assert len(nodes_used) == 2, "the actors did not run on both nodes"
    assert summary.progress.shards_done == expected.progress.shards_total
    for kind in ("data", "errors"):
        ours = sorted(p.name for p in (tmp_path / "ray" / kind).iterdir())
        theirs = sorted(p.name for p in (tmp_path / "inline" / kind).iterdir())
        assert ours == theirs
    ray_rows = pq.read_table(tmp_path / "ray" / "data").to_pylist()
    local_rows = pq.read_table(tmp_path / "inline" / "data").to_pylist()
    assert len(ray_rows) == CLIPS
    assert len({row["id"] for row in ray_rows}) == CLIPS  # nothing lost, nothing twice
    assert ray_rows == local_rows
    assert not list((tmp_path / "ray").rglob("*.tmp"))


@pytest.mark.slow
def test_ray_reads_a_datasets_dataset_on_the_workers(cluster, corpus, tmp_path, checkpoint):
    """Rows with embedded audio bytes: the actors fetch them from the dataset, the driver never does."""
    datasets = pytest.importorskip("datasets")
    files = sorted(corpus.glob("clip00[0-2]*.wav"))
    dataset = datasets.Dataset.from_dict(
        {"audio": [{"bytes": f.read_bytes(), "path": None} for f in files], "name": [f.name for f in files]}
    ).cast_column("audio", datasets.Audio())
    config = TokenizeConfig(weights=str(checkpoint("encodec_24khz")))
    tokenize(dataset, tmp_path / "inline", config, shard_size=8, id_column="name")
    tokenize(
        dataset,
        tmp_path / "ray",
        config,
        executor="ray",
        workers=2,
        address=cluster[0],
        shard_size=8,
        id_column="name",
    )
    ray_rows = pq.read_table(tmp_path / "ray" / "data").to_pylist()
    assert len(ray_rows) == len(files) == 30
    assert ray_rows == pq.read_table(tmp_path / "inline" / "data").to_pylist()
