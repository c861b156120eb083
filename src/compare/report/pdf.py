"""Headless Chromium: an HTML file printed to PDF, or photographed as a PNG.

Chromium is started with a fresh profile and every background service off (the machine has
no network); the page size and orientation come from the HTML's CSS ``@page`` rules. Chinese
text is embedded as a subset of a TrueType CJK font (WenQuanYi Zen Hei, Debian package
``fonts-wqy-zenhei``): Chromium embeds CFF fonts such as Noto Sans CJK only as Type 3 glyph
procedures, without a font name.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from compare.errors import ReportError

#: Environment variable naming the Chromium (or Chrome) binary to use.
CHROMIUM_ENV = "COMPARE_CHROMIUM"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: Flags that keep Chromium headless, offline and free of first-run work.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
)
#: Seconds Chromium may take to print or photograph one page.
CHROMIUM_TIMEOUT = 180
INSTALL_HINT = "install it (Debian: apt-get install -y chromium fonts-wqy-zenhei) or set COMPARE_CHROMIUM"


def chromium_binary() -> Path:
    """The Chromium to run: $COMPARE_CHROMIUM, else the first of the usual names on PATH."""
    explicit = os.environ.get(CHROMIUM_ENV)
    if explicit:
        path = Path(explicit)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ReportError(f"{CHROMIUM_ENV}={explicit}: not an executable file; {INSTALL_HINT}")
        return path
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return Path(found)
    raise ReportError(f"headless Chromium not found (looked for {', '.join(CHROMIUM_NAMES)}); {INSTALL_HINT}")


def _run_chromium(args: list[str], output: Path, what: str) -> Path:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="compare-chromium-") as profile:
        command = [str(chromium_binary()), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise ReportError(
                f"{output}: Chromium did not finish the {what} within {CHROMIUM_TIMEOUT} s"
            ) from exc
    if done.returncode != 0 or not output.is_file() or output.stat().st_size == 0:
        tail = "\n".join((done.stderr or "").strip().splitlines()[-5:])
        raise ReportError(
            f"{output}: Chromium could not write the {what} (exit code {done.returncode}): {tail}"
        )
    return output


def pdf_from_html(html: Path, pdf: Path) -> Path:
    """Print the HTML file to ``pdf`` (page size from its CSS), without header or footer."""
    if not html.is_file():
        raise ReportError(f"{html}: HTML file not found")
    args = [
        "--no-pdf-header-footer",
        "--generate-pdf-document-outline",  # bookmarks from the headings
        f"--print-to-pdf={pdf.resolve()}",
        html.resolve().as_uri(),
    ]
    return _run_chromium(args, pdf, "PDF")


def screenshot_from_html(html: Path, png: Path, width: int, height: int) -> Path:
    """A PNG of the top ``width`` x ``height`` CSS pixels of the HTML file as a screen shows it."""
    if not html.is_file():
        raise ReportError(f"{html}: HTML file not found")
    args = [f"--window-size={width},{height}", f"--screenshot={png.resolve()}", html.resolve().as_uri()]
    return _run_chromium(args, png, "screenshot")
