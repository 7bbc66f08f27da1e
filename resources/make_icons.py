"""Draw ECDC Studio's icons with Qt (offscreen, no display needed) and write them under resources/.

    .venv/bin/python resources/make_icons.py

The app icon is a rounded square in a blue-to-teal gradient holding a waveform that is smooth on the left
and quantised into steps on the right: audio going into a codec. The `.ecdc` file icon is a page with a
folded corner and the same stepped waveform. Every size is drawn at its own resolution (small sizes get a
simpler, bolder drawing) rather than scaled down from a large image.

Outputs (committed, so building needs no drawing step):
- resources/icons/hicolor/<N>x<N>/apps/encodec-studio.png and .../mimetypes/application-x-ecdc.png,
  N in 16 24 32 48 64 128 256 512 (the freedesktop icon theme layout, copied as is by the installer);
- resources/macos/encodec-studio.icns and resources/macos/ecdc-file.icns (PNG-based, 16 to 1024 px).
"""

from __future__ import annotations

import math
import os
import struct
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPointF, QRectF, Qt  # noqa: E402
from PySide6.QtGui import (  # noqa: E402
    QBrush,
    QColor,
    QGuiApplication,
    QImage,
    QLinearGradient,
    QPainter,
    QPainterPath,
    QPen,
)

HERE = Path(__file__).resolve().parent
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
APP_ICON = "encodec-studio"
MIME_ICON = "application-x-ecdc"

TOP = QColor("#3b5bdb")  # indigo
BOTTOM = QColor("#0ca678")  # teal
INK = QColor("#ffffff")
PAGE = QColor("#f8f9fa")
PAGE_EDGE = QColor("#868e96")

# ICNS element types holding PNG data, by pixel size (several sizes have a @2x twin of the same pixels).
ICNS_TYPES = {
    16: ("icp4",),
    32: ("icp5", "ic11"),
    64: ("icp6", "ic12"),
    128: ("ic07",),
    256: ("ic08", "ic13"),
    512: ("ic09", "ic14"),
    1024: ("ic10",),
}


def _canvas(size: int) -> tuple[QImage, QPainter]:
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    return image, painter


def _draw_waveform(painter: QPainter, area: QRectF, size: int, color: QColor) -> None:
    """A sine period drawn smooth on the left half and quantised into steps on the right half (a few
    bold bars instead at the smallest sizes, where a curve would blur)."""
    mid_y = area.center().y()
    amp = area.height() / 2
    if size <= 32:  # whole-pixel bars: sharp at 16-32 px
        heights = (0.6, 1.0, 0.6) if size < 24 else (0.45, 0.95, 0.65, 1.0, 0.5)
        bars = len(heights)
        width = max(1, int(area.width() / (2 * bars - 1)))
        x = round(area.center().x() - (2 * bars - 1) * width / 2)
        centre = round(mid_y)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        for h in heights:
            half = max(1, round(amp * h))
            painter.drawRect(x, centre - half, width, 2 * half)
            x += 2 * width
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        return
    stroke = size / 28
    pen = QPen(color, stroke, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
    split = 0.42  # the smooth part ends here; the coded part (bars) takes the rest

    def point(x: float, y: float) -> QPointF:
        return QPointF(area.left() + x * area.width(), mid_y - amp * y)

    # One period of a sine, smooth: the audio going in.
    path = QPainterPath(point(0.0, 0.0))
    samples = 120
    for i in range(1, samples + 1):
        x = split * i / samples
        path.lineTo(point(x, math.sin(2 * math.pi * x / split)))
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawPath(path)
    # The next period as discrete, symmetric bars: the same sound as codes.
    bars = 5
    left = split + 0.1
    pitch = (1.0 - left) / (bars - 0.5)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(color)
    for k in range(bars):
        phase = (k + 0.5) / bars
        height = 0.2 + 0.8 * abs(math.sin(2 * math.pi * phase))
        centre = area.left() + (left + k * pitch) * area.width()
        top, bottom = point(0, height).y(), point(0, -height).y()
        painter.drawRoundedRect(
            QRectF(centre - stroke / 2, top, stroke, bottom - top), stroke / 2, stroke / 2
        )


def draw_app_icon(size: int) -> QImage:
    image, painter = _canvas(size)
    margin = size * (0.06 if size <= 32 else 0.08)
    tile = QRectF(margin, margin, size - 2 * margin, size - 2 * margin)
    radius = tile.width() * 0.22
    gradient = QLinearGradient(tile.topLeft(), tile.bottomRight())
    gradient.setColorAt(0.0, TOP)
    gradient.setColorAt(1.0, BOTTOM)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QBrush(gradient))
    painter.drawRoundedRect(tile, radius, radius)
    if size >= 48:  # a soft highlight along the top edge
        shine = QLinearGradient(tile.topLeft(), QPointF(tile.left(), tile.center().y()))
        shine.setColorAt(0.0, QColor(255, 255, 255, 46))
        shine.setColorAt(1.0, QColor(255, 255, 255, 0))
        painter.setBrush(QBrush(shine))
        painter.drawRoundedRect(tile, radius, radius)
    inset = tile.width() * (0.2 if size <= 32 else 0.15)
    wave_area = tile.adjusted(inset, tile.height() * 0.3, -inset, -tile.height() * 0.3)
    _draw_waveform(painter, wave_area, size, INK)
    painter.end()
    return image


def draw_file_icon(size: int) -> QImage:
    image, painter = _canvas(size)
    width = size * 0.74
    left = (size - width) / 2
    top = size * 0.06
    bottom = size * 0.94
    fold = width * 0.3
    edge = max(1.0, size / 64)
    page = QPainterPath()
    page.moveTo(left, top)
    page.lineTo(left + width - fold, top)
    page.lineTo(left + width, top + fold)
    page.lineTo(left + width, bottom)
    page.lineTo(left, bottom)
    page.closeSubpath()
    painter.setPen(QPen(PAGE_EDGE, edge))
    painter.setBrush(PAGE)
    painter.drawPath(page)
    corner = QPainterPath()
    corner.moveTo(left + width - fold, top)
    corner.lineTo(left + width - fold, top + fold)
    corner.lineTo(left + width, top + fold)
    corner.closeSubpath()
    painter.setBrush(QColor("#dee2e6"))
    painter.drawPath(corner)
    # A gradient band across the lower page carries the waveform.
    band = QRectF(left + edge / 2, top + (bottom - top) * 0.42, width - edge, (bottom - top) * 0.4)
    gradient = QLinearGradient(band.topLeft(), band.bottomRight())
    gradient.setColorAt(0.0, TOP)
    gradient.setColorAt(1.0, BOTTOM)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QBrush(gradient))
    painter.drawRect(band)
    inset = band.width() * 0.14
    _draw_waveform(
        painter, band.adjusted(inset, band.height() * 0.22, -inset, -band.height() * 0.22), size, INK
    )
    painter.end()
    return image


def png_bytes(image: QImage) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise RuntimeError("Qt could not encode a PNG")
    buffer.close()
    return bytes(data.data())


def icns_bytes(pngs: dict[int, bytes]) -> bytes:
    """An Apple icon file made of PNG elements (the format macOS 10.7+ reads)."""
    body = b""
    for size, types in ICNS_TYPES.items():
        for kind in types:
            body += kind.encode("ascii") + struct.pack(">I", 8 + len(pngs[size])) + pngs[size]
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def write_all(root: Path = HERE) -> list[Path]:
    """Draw every icon and write it under `root`; returns the written paths."""
    written = []
    for name, draw, context in ((APP_ICON, draw_app_icon, "apps"), (MIME_ICON, draw_file_icon, "mimetypes")):
        for size in SIZES:
            path = root / "icons" / "hicolor" / f"{size}x{size}" / context / f"{name}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(png_bytes(draw(size)))
            written.append(path)
        icns_name = "encodec-studio.icns" if name == APP_ICON else "ecdc-file.icns"
        icns = root / "macos" / icns_name
        icns.parent.mkdir(parents=True, exist_ok=True)
        icns.write_bytes(icns_bytes({size: png_bytes(draw(size)) for size in ICNS_TYPES}))
        written.append(icns)
    return written


def main() -> int:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 - fonts/painting need it
    for path in write_all():
        print(path.relative_to(HERE.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
