"""A private PulseAudio server with null sinks, for end-to-end tests and scripts through a real audio server.

The runtime folder is a fresh temporary one (so the server touches nothing else; its path is short because
the socket's must fit in 108 bytes), and the server is stopped by the pid in its pid file, never by name.
See /work/shared/reference/AUDIO-SERVER.md.

    with PulseServer(sinks={"testsink": (48_000, 1)}) as server:   # env: XDG_RUNTIME_DIR set, PULSE_SERVER unset
        server.pactl("set-default-sink", "testsink")
        recorder = server.record("testsink.monitor", path, rate=48_000)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

TOOLS = ("pulseaudio", "pactl", "parecord", "paplay")


class PulseUnavailable(RuntimeError):
    """The server cannot run here; the message says why (tests skip with it)."""


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class PulseServer:
    """Start on `__enter__` (raises `PulseUnavailable`), stop on `__exit__`; sets the environment meanwhile."""

    def __init__(self, sinks: dict[str, tuple[int, int]], sample_format: str | None = None) -> None:
        self.sinks = sinks
        self.sample_format = sample_format  # e.g. "float32le": samples pass through the server unchanged
        self.runtime = ""
        self._saved: dict[str, str | None] = {}

    @property
    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def __enter__(self) -> PulseServer:
        missing = [tool for tool in TOOLS if shutil.which(tool) is None]
        if missing:
            raise PulseUnavailable(
                f"{', '.join(missing)} not installed (apt-get install pulseaudio pulseaudio-utils)"
            )
        self.runtime = tempfile.mkdtemp(prefix="pa-")
        os.chmod(self.runtime, 0o700)
        for key, value in (("XDG_RUNTIME_DIR", self.runtime), ("PULSE_SERVER", None)):
            self._saved[key] = os.environ.get(key)
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        fmt = f" format={self.sample_format}" if self.sample_format else ""
        modules = [f"--load=module-null-sink sink_name={name} rate={rate} channels={channels}{fmt}"
                   for name, (rate, channels) in self.sinks.items()]  # fmt: skip
        started = subprocess.run(
            ["pulseaudio", "-D", "--exit-idle-time=-1", "--disallow-exit", "-n", "--high-priority=yes", "--realtime=yes",
             "--load=module-native-protocol-unix", *modules, "--load=module-always-sink"],
            env=self.env, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        if started.returncode != 0 or not wait_for(self._answers, 10):
            self.__exit__(None, None, None)
            raise PulseUnavailable(f"the PulseAudio server did not start: {started.stderr.strip()[-300:]}")
        return self

    def _answers(self) -> bool:
        return (
            subprocess.run(["pactl", "info"], env=self.env, capture_output=True, timeout=10).returncode == 0
        )

    def pactl(self, *args: str) -> str:
        done = subprocess.run(["pactl", *args], env=self.env, capture_output=True, text=True, timeout=10)
        if done.returncode != 0:
            raise RuntimeError(f"pactl {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def record(self, source: str, path: Path, rate: int, channels: int = 1) -> subprocess.Popen:
        """`parecord` of `source` into a float wav at `path`; stop it with `stop_recording`."""
        return subprocess.Popen(
            ["parecord", f"--device={source}", "--file-format=wav", f"--rate={rate}", f"--channels={channels}",
             "--format=float32le", str(path)],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip

    def play(self, sink: str, path: Path) -> subprocess.Popen:
        return subprocess.Popen(
            ["paplay", f"--device={sink}", str(path)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    @staticmethod
    def stop_recording(recorder: subprocess.Popen) -> None:
        recorder.send_signal(signal.SIGINT)
        try:
            recorder.wait(10)
        except subprocess.TimeoutExpired:
            recorder.kill()
            recorder.wait()

    def __exit__(self, *exc: object) -> None:
        pid_file = os.path.join(self.runtime, "pulse", "pid")
        with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
            pid = int(open(pid_file).read().strip())
            os.kill(pid, signal.SIGTERM)
            wait_for(lambda: not _alive(pid), 10)
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(self.runtime, ignore_errors=True)


def forget_devices(sd: object) -> None:
    """Make PortAudio forget a stopped server's devices (later tests must not see them)."""
    from app.audio_devices import restart_portaudio  # the one place that knows sounddevice's private names

    restart_portaudio(sd)  # type: ignore[arg-type]
