"""Fixtures: a `tether serve --ephemeral --record` hub for the whole session, its faults,
and what its endpoints received (`GET /received`), to check bytes on the wire."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def tether_bin() -> str:
    """The `tether` CLI: $TETHER_BIN, else the workspace's debug build."""
    path = os.environ.get("TETHER_BIN", str(ROOT / "target" / "debug" / "tether"))
    if not Path(path).exists():
        pytest.fail(f"{path} is missing: run `cargo build -p tether-cli` (or set TETHER_BIN)")
    return path


class Hub:
    """A running hub: endpoint URLs by name, and its control API."""

    def __init__(self, urls: dict[str, str], process: subprocess.Popen[str]) -> None:
        self.urls = urls
        self.process = process

    def __getitem__(self, name: str) -> str:
        return self.urls[name]

    def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.urls["control"] + path,
            data=data,
            headers={"content-type": "application/json"},
            method="POST" if data is not None else "GET",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def fault(self, endpoint: str, kind: str, **args: Any) -> None:
        self.control("/fault", {"endpoint": endpoint, "kind": kind, **args})

    def resume(self) -> None:
        self.control("/resume", {"endpoint": None})

    def mark(self, endpoint: str) -> int:
        """Where the frames `endpoint` receives from now on start: its `received` count
        (the `seq` of the next frame in its receive log)."""
        return int(self.control("/stats")[endpoint]["received"])

    def received(self, endpoint: str, since: int = 0) -> list[dict[str, Any]]:
        """Every frame `endpoint` received from `since` on, oldest first: `{"seq", "conn",
        "text"}`, or `"binary"` (hex) for a binary frame. Fails if the log lost any."""
        frames: list[dict[str, Any]] = []
        while True:
            page = self.control(f"/received?endpoint={endpoint}&since={since}")
            assert page["missed"] == 0, f"the receive log of {endpoint} lost frames"
            frames += page["frames"]
            if not page["frames"] or page["next"] == since:
                return frames
            since = page["next"]

    def by_connection(self, endpoint: str, since: int = 0) -> list[list[dict[str, Any]]]:
        """`received`, grouped by connection, the connections in the order they first
        sent something."""
        groups: dict[int, list[dict[str, Any]]] = {}
        for frame in self.received(endpoint, since):
            groups.setdefault(frame["conn"], []).append(frame)
        return list(groups.values())


@pytest.fixture(scope="session")
def hub() -> Iterator[Hub]:
    process = subprocess.Popen(
        [tether_bin(), "serve", "--ephemeral", "--json", "--record", "--record-limit", "200000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.kill()
        pytest.fail("tether serve did not start")
    try:
        yield Hub(json.loads(line), process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(autouse=True)
def _no_leftover_faults(hub: Hub) -> Iterator[None]:
    yield
    hub.resume()
