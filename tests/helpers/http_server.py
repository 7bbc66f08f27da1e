"""A local HTTP server for checkpoint downloads, and generators of random-weight checkpoints.

The server listens on 127.0.0.1 only, serves a folder, honours ``Range`` (206) unless told not to, and can
misbehave on request: cut a transfer, stall, or answer an error status. It runs on daemon threads and
stops by itself after `lifetime` seconds even if a test forgets to stop it.

Layout served (see `publish_official` / `publish_hf`)::

    <root>/official/<file>                              -> ECDC_STUDIO_BASE_URL = server.official_url
    <root>/hf/<owner>/<repo>/resolve/<revision>/<file>  -> HF_ENDPOINT = server.hf_endpoint
    <root>/lfs/<sha256>                                 -> where the hub's LFS redirects point

Like the hub, a request for an LFS file (``model.safetensors``) under ``resolve/`` is answered with a 302
to ``/lfs/<sha256>`` carrying ``X-Linked-Etag: "<sha256>"`` and ``X-Repo-Commit``.

Typical use, with pytest's monkeypatch::

    with CheckpointServer(tmp_path / "www") as server:
        server.publish_official(make_official_checkpoint("encodec_24khz", tmp_path))
        trust(monkeypatch, path)                # the registry expects the generated file's sha256
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

CHUNK = 64 * 1024


@dataclass
class Hit:
    """One GET the server answered."""

    path: str
    range: str | None
    status: int
    sent: int = 0


class CheckpointServer:
    def __init__(self, root: Path, *, lifetime: float = 120.0) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.lifetime = lifetime
        self.range_support = True
        self.status_overrides: dict[str, int] = {}  # path (as requested, e.g. "/official/x.th") -> status
        self.redirects: dict[str, tuple[str, dict[str, str]]] = {}  # path -> (location, extra headers)
        self.hits: list[Hit] = []
        self._cut_after: int | None = None
        self._cuts_left = 0
        self._stall_after: int | None = None
        self._stall_headers = False
        self._stalls_left = 0
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._timer: threading.Timer | None = None

    # -- life cycle -----------------------------------------------------------------------------------
    def start(self) -> CheckpointServer:
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        httpd.daemon_threads = True
        httpd.owner = self  # type: ignore[attr-defined]
        self._httpd = httpd
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self._timer = threading.Timer(self.lifetime, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        self._stopped.set()  # wakes stalled handlers
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._timer is not None:
            self._timer.cancel()

    def __enter__(self) -> CheckpointServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses ------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def official_url(self) -> str:
        return f"{self.url}/official/"

    @property
    def hf_endpoint(self) -> str:
        return f"{self.url}/hf"

    def env(self) -> dict[str, str]:
        """Environment variables that point the weights code at this server."""
        return {"ECDC_STUDIO_BASE_URL": self.official_url, "HF_ENDPOINT": self.hf_endpoint}

    # -- content --------------------------------------------------------------------------------------
    def publish_official(self, path: Path, name: str | None = None) -> Path:
        """Serve the file `path` as ``/official/<name or its own name>`` (hard link, else copy)."""
        return _link_or_copy(Path(path), self.root / "official" / (name or Path(path).name))

    def publish_hf(
        self,
        repo: str,
        folder: Path,
        revision: str | None = None,
        lfs: tuple[str, ...] = ("model.safetensors",),
    ) -> Path:
        """Serve the files of `folder` as the Hugging Face repository `repo` (``owner/name``) at
        `revision` (default: the registry's pinned commit of `repo`, else ``main``); the files named in
        `lfs` are served the way the hub serves LFS files (see the module docstring)."""
        from codec.weights.cache import file_sha256
        from codec.weights.registry import HF_REVISIONS

        revision = revision or HF_REVISIONS.get(repo, "main")
        target = self.root / "hf" / repo / "resolve" / revision
        for file in Path(folder).iterdir():
            if not file.is_file():
                continue
            if file.name in lfs:
                digest = file_sha256(file)
                _link_or_copy(file, self.root / "lfs" / digest)
                headers = {"X-Linked-Etag": f'"{digest}"', "X-Linked-Size": str(file.stat().st_size)}
                headers["X-Repo-Commit"] = revision
                self.redirects[f"/hf/{repo}/resolve/{revision}/{file.name}"] = (f"/lfs/{digest}", headers)
            else:
                _link_or_copy(file, target / file.name)
        return target

    # -- misbehaviour ---------------------------------------------------------------------------------
    def cut(self, after: int, times: int = 1) -> None:
        """Close the next `times` transfers after `after` body bytes (the headers promised more)."""
        with self._lock:
            self._cut_after, self._cuts_left = after, times

    def stall(self, after: int | None, times: int = 1) -> None:
        """Go silent in the next `times` replies: after `after` body bytes, or before the headers if None.
        A stalled reply ends when the server stops."""
        with self._lock:
            self._stall_after, self._stall_headers, self._stalls_left = after, after is None, times

    def requests_for(self, suffix: str) -> list[Hit]:
        return [hit for hit in self.hits if hit.path.endswith(suffix)]

    def _take(self, kind: str) -> int | None:
        """Consume one planned cut/stall: its byte limit, -1 for a stall before headers, or None."""
        with self._lock:
            if kind == "cut" and self._cuts_left:
                self._cuts_left -= 1
                return self._cut_after
            if kind == "stall" and self._stalls_left:
                self._stalls_left -= 1
                return -1 if self._stall_headers else self._stall_after
        return None


class _Handler(BaseHTTPRequestHandler):
    server_version = "CheckpointServer/1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
        pass

    def do_GET(self) -> None:
        owner: CheckpointServer = self.server.owner  # type: ignore[attr-defined]
        request_path = urlparse(self.path).path
        hit = Hit(request_path, self.headers.get("Range"), 0)
        owner.hits.append(hit)
        try:
            self._answer(owner, request_path, hit)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away (cancelled or timed out)

    def _answer(self, owner: CheckpointServer, request_path: str, hit: Hit) -> None:
        stall = owner._take("stall")
        if stall == -1:
            owner._stopped.wait(owner.lifetime)
            return
        if request_path in owner.status_overrides:
            hit.status = owner.status_overrides[request_path]
            self.send_error(hit.status)
            return
        if request_path in owner.redirects:
            location, headers = owner.redirects[request_path]
            hit.status = 302
            self.send_response(302)
            self.send_header("Location", location)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        file = (owner.root / unquote(request_path).lstrip("/")).resolve()
        if owner.root.resolve() not in file.parents or not file.is_file():
            hit.status = 404
            self.send_error(404)
            return
        size = file.stat().st_size
        start, end, status = 0, size - 1, 200
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", hit.range or "")
        if match and owner.range_support:
            start = int(match.group(1))
            end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
            if start >= size:
                hit.status = 416
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        hit.status = status
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(end - start + 1))
        if owner.range_support:
            self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        cut = owner._take("cut")
        stop_at = end - start + 1 if cut is None else min(cut, end - start + 1)
        if stall is not None:
            stop_at = min(stop_at, stall)
        with open(file, "rb") as handle:
            handle.seek(start)
            while hit.sent < stop_at:
                chunk = handle.read(min(CHUNK, stop_at - hit.sent))
                self.wfile.write(chunk)
                hit.sent += len(chunk)
        if stall is not None:
            owner._stopped.wait(owner.lifetime)


def _link_or_copy(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)
    return dst


# -- random-weight checkpoints in the real layouts ----------------------------------------------------

HF_CONFIGS: dict[str, dict[str, object]] = {
    "encodec_24khz": {},
    "encodec_48khz": {
        "sampling_rate": 48_000,
        "audio_channels": 2,
        "normalize": True,
        "chunk_length_s": 1.0,
        "overlap": 0.01,
        "norm_type": "time_group_norm",
        "use_causal_conv": False,
        "target_bandwidths": [3.0, 6.0, 12.0, 24.0],
    },
    "encodec_32khz": {
        "sampling_rate": 32_000,
        "upsampling_ratios": [8, 5, 4, 4],
        "num_filters": 64,
        "codebook_size": 2048,
        "target_bandwidths": [2.2],
        "use_causal_conv": False,
        "use_conv_shortcut": False,
        "normalize": False,
    },
}


def make_official_checkpoint(name: str, folder: Path, seed: int = 0) -> Path:
    """``torch.save`` a random-weights reference state dict of registry entry `name` (an official model
    or LM) under its real file name in `folder`."""
    import torch

    from codec.specs import MODELS
    from codec.weights.registry import REGISTRY
    from tests.oracles import import_reference_encodec, reference_model

    entry = REGISTRY[name]
    assert entry.layout == "official" and entry.file
    if entry.is_lm:
        spec = MODELS[entry.model]
        encodec = import_reference_encodec()
        torch.manual_seed(seed)
        lm = encodec.model.LMModel(
            spec.max_codebooks, spec.codebook_size, num_layers=5, dim=200, past_context=spec.lm_past_context
        )
        state = lm.state_dict()
    else:
        state = reference_model(entry.model, seed).state_dict()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / entry.file
    torch.save(state, path)
    return path


def make_hf_checkpoint(
    model: str, folder: Path, seed: int = 0, preprocessor: bool = True, randomise: bool = True
) -> Path:
    """``save_pretrained`` a random-weights transformers EncodecModel for `model` (a spec name) into
    ``folder/<model>``; with `preprocessor`, a ``preprocessor_config.json`` like the hub's too. Without
    `randomise` the codebooks keep transformers' initial values (faster; fine for transfer tests)."""
    import torch

    from tests.oracles import randomise_codebooks

    # tests/oracles.py may have put a spec-less torchaudio stub in sys.modules, which makes transformers'
    # package checks raise ValueError; hide it while transformers is imported and used.
    stub = sys.modules.get("torchaudio")
    hide = stub is not None and stub.__spec__ is None
    if hide:
        del sys.modules["torchaudio"]
    try:
        from transformers import EncodecConfig, EncodecModel

        torch.manual_seed(seed)
        config = EncodecConfig(**HF_CONFIGS[model])
        hf_model = EncodecModel(config).eval()
        if randomise:
            randomise_codebooks(hf_model, seed)
        target = folder / model
        hf_model.save_pretrained(target)
    finally:
        if hide:
            sys.modules["torchaudio"] = stub
    if preprocessor:
        (target / "preprocessor_config.json").write_text(
            json.dumps(
                {
                    "chunk_length_s": config.chunk_length_s,
                    "feature_extractor_type": "EncodecFeatureExtractor",
                    "feature_size": config.audio_channels,
                    "overlap": config.overlap,
                    "padding_side": "right",
                    "padding_value": 0.0,
                    "return_attention_mask": True,
                    "sampling_rate": config.sampling_rate,
                },
                indent=2,
            ),
            encoding="utf-8",
        )
    return target


_ENV_CLEARED = (
    "ECDC_STUDIO_BASE_URL",
    "ECDC_STUDIO_TIMEOUT",
    "HF_ENDPOINT",
    "HF_HUB_CACHE",
    "HUGGINGFACE_HUB_CACHE",
    "XDG_CACHE_HOME",
    "http_proxy",
    "https_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
)


def isolate_weights(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Point the models folder, torch hub and HF hub caches at empty folders under `tmp_path` and drop
    mirror and proxy settings, for the rest of the test; returns the models folder (not created)."""
    for name in _ENV_CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ECDC_STUDIO_MODELS", str(tmp_path / "models"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr("codec.weights.cache._models_dir_setting", None)  # the GUI setting, restored after
    return tmp_path / "models"


def trust(monkeypatch: pytest.MonkeyPatch, *paths: Path) -> None:
    """Make the registry expect the sha256 of these generated official files (found by file name), for
    the rest of the test; the production hashes are untouched."""
    from codec.weights.cache import file_sha256
    from codec.weights.registry import REGISTRY

    for path in paths:
        entry = next(e for e in REGISTRY.values() if e.file == Path(path).name)
        monkeypatch.setitem(REGISTRY, entry.name, dataclasses.replace(entry, sha256=file_sha256(Path(path))))
