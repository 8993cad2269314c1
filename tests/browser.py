"""Opening a page in a real headless browser (Debian's chromium) and checking the screenshot."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def screenshot(page: Path, tmp_path: Path, size: str) -> Path:
    """A PNG of the page; the test is skipped, with the reason, where chromium is not installed."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (scripts/test-deps.sh installs it where the machine allows)")
    shot = tmp_path / (page.stem + ".png")
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={size}", f"--screenshot={shot}",
         page.as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    return shot


def assert_not_blank(png: Path) -> None:
    """The screenshot has many distinct colours: a rendered page, not an empty one."""
    import struct
    import zlib

    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks, width, height = 8, b"", 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            chunks += body
        pos += 12 + length
    raw = zlib.decompress(chunks)
    assert width > 100 and height > 100
    distinct = {raw[i:i + 3] for i in range(1, len(raw), 97)}
    assert len(distinct) > 20, "the screenshot looks blank"
