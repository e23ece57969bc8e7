"""The HTML report in a real browser: Debian's headless chromium renders the page, and the
screenshot shows the chart drawn (not blank, one bar per list per day with data).

The PNG is read with zlib alone: 8-bit RGB or RGBA, not interlaced, which is what chromium
writes.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from resolver.report.chart import colours
from resolver.report.html_page import page
from tests.integration.harness import in_ci
from tests.report.ban_log import ban_report, planned


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    rows: list[bytes]   # RGB, 3 bytes a pixel

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        row = self.rows[y]
        return row[3 * x], row[3 * x + 1], row[3 * x + 2]


def read_png(data: bytes) -> Image:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    at, idat, header = 8, b"", b""
    while at < len(data):
        (length,), kind = struct.unpack(">I", data[at:at + 4]), data[at + 4:at + 8]
        body = data[at + 8:at + 8 + length]
        at += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, header
    channels = 3 if colour_type == 2 else 4
    raw, stride = zlib.decompress(idat), width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                guess = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + guess) & 0xFF
        previous = line
        rows.append(bytes(line) if channels == 3 else
                    bytes(b for px in range(width) for b in line[4 * px:4 * px + 3]))
    return Image(width, height, rows)


def runs(image: Image, y: int, rgb: tuple[int, int, int], tolerance: int = 8) -> int:
    """How many separate stretches of colour `rgb` row `y` holds."""
    count, inside = 0, False
    for x in range(image.width):
        close = all(abs(a - b) <= tolerance for a, b in zip(image.pixel(x, y), rgb,
                                                            strict=True))
        count += close and not inside
        inside = close
    return count


def rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def chromium() -> str:
    found = shutil.which("chromium")
    if found is not None:
        return found
    message = "chromium is not installed; `.ci/run` installs it with apt-get (package chromium)"
    if in_ci():
        pytest.fail(f"{message}; CI=true, so this is a failure, not a skip")
    pytest.skip(message)


def screenshot(html: Path, png: Path, profile: Path) -> Image:
    done = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--user-data-dir={profile}", f"--screenshot={png}", "--window-size=1200,900",
         html.resolve().as_uri()],
        capture_output=True, text=True, timeout=120, check=False)
    assert png.is_file(), f"no screenshot (exit {done.returncode}): {done.stderr[-2000:]}"
    return read_png(png.read_bytes())


def test_the_chart_is_drawn_with_one_bar_per_day_with_data(tmp_path: Path) -> None:
    report = ban_report(tmp_path / "site")
    html = tmp_path / "report.html"
    html.write_text(page(report), encoding="utf-8")
    image = screenshot(html, tmp_path / "shot.png", tmp_path / "profile")
    assert (image.width, image.height) == (1200, 900)
    # not blank: a good share of the page is not the white background
    sample = [image.pixel(x, y) for y in range(0, image.height, 4)
              for x in range(0, image.width, 4)]
    assert sum(px != (255, 255, 255) for px in sample) > len(sample) // 50
    palette = colours(report)
    baselines = set()
    for entry in report.lists:
        if not entry.attempts:
            assert all(runs(image, y, rgb(palette[entry.name])) == 0
                       for y in range(0, image.height, 3))
            continue
        colour = rgb(palette[entry.name])
        counts = [runs(image, y, colour) for y in range(image.height)]
        most = max(counts)
        assert most == len(planned(entry.name)), (entry.name, most)
        # the lowest row with every bar: just above the chart's baseline, the same for all
        baselines.add(max(y for y, n in enumerate(counts) if n == most))
    assert len(baselines) == 1, baselines


def test_the_png_reader_reads_what_it_is_given() -> None:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body))
    # 2x2 RGB: row 0 unfiltered, row 1 with the Up filter (adds the row above)
    raw = b"\x00" + bytes([255, 0, 0, 0, 255, 0]) + b"\x02" + bytes([0, 0, 10, 0, 0, 20])
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    image = read_png(png)
    assert [image.pixel(x, y) for y in (0, 1) for x in (0, 1)] == [
        (255, 0, 0), (0, 255, 0), (255, 0, 10), (0, 255, 20)]
    assert runs(image, 0, (255, 0, 0)) == 1 and runs(image, 1, (0, 0, 255)) == 0
