"""A real headless Chromium driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`), stdlib only.

Why not playwright: it would be a dependency that downloads its own browser by default; the protocol over fds 3
and 4 (NUL-separated JSON messages) is a few dozen lines, and it is the same Chromium `.ci/run` installs.

The browser records what a page does that a safe report must not: JavaScript dialogs (`alert`), console messages,
network requests, and the browser's log (CSP refusals land there), so a test can assert that none happened.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from sharder.running.supervision import _die_with_parent

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-extensions", "--mute-audio",
    "--window-size=1400,900", "--remote-debugging-pipe",
)


def chromium_or_skip() -> str:
    """The browser's path; without one the test skips, unless `SHARDER_REQUIRE_CHROMIUM=1` (CI), where it fails."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("SHARDER_REQUIRE_CHROMIUM") == "1":
            pytest.fail("SHARDER_REQUIRE_CHROMIUM=1 but no chromium on PATH")
        pytest.skip("chromium not installed")
    return found


class BrowserError(RuntimeError):
    pass


class Browser:
    """One Chromium process; `page()` opens a tab. Close it (or use it as a context manager) to end the process."""

    def __init__(self, executable: str, *, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self._profile = tempfile.mkdtemp(prefix="sharder-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        wanted = {3: to_browser_r, 4: from_browser_w}
        arm = _die_with_parent()  # the browser is SIGKILLed if the test process dies

        def map_fds() -> None:  # in the child: the protocol's pipe is fd 3 (commands in) and fd 4 (messages out)
            high = {target: fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for target, fd in wanted.items()}
            for target, fd in high.items():
                os.dup2(fd, target)
            arm()

        self.process = subprocess.Popen(  # an argv list, no shell
            [executable, *CHROMIUM_FLAGS, f"--user-data-dir={self._profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=False,
            preexec_fn=map_fds, start_new_session=True,  # the only way to place fds 3 and 4
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._lock = threading.Condition()
        self._next_id = 0
        self._replies: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self._closed = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._from_browser, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._lock:
                    self._closed = True
                    self._lock.notify_all()
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                with self._lock:
                    if "id" in message:
                        self._replies[message["id"]] = message
                    else:
                        self.events.append(message)
                        if message.get("method") == "Page.javascriptDialogOpening":  # else the page blocks
                            self._send_nowait("Page.handleJavaScriptDialog", {"accept": True},
                                              message.get("sessionId"))
                    self._lock.notify_all()

    def _send_nowait(self, method: str, params: dict[str, Any], session: str | None) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        return self._next_id

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        with self._lock:
            number = self._send_nowait(method, params or {}, session)
            deadline = time.monotonic() + self.timeout
            while number not in self._replies:
                if self._closed:
                    raise BrowserError(f"chromium exited during {method}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise BrowserError(f"no reply to {method} in {self.timeout} s")
                self._lock.wait(remaining)
            reply = self._replies.pop(number)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    def wait_for_event(self, method: str, session: str, after: int = 0) -> dict[str, Any]:
        with self._lock:
            deadline = time.monotonic() + self.timeout
            while True:
                for event in self.events[after:]:
                    if event.get("method") == method and event.get("sessionId") == session:
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    raise BrowserError(f"no {method} event")
                self._lock.wait(remaining)

    def page(self) -> Page:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.send(f"{domain}.enable", session=session)
        return Page(self, target, session)

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(BrowserError):
                self.send("Browser.close")
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        os.close(self._to_browser)
        self._reader.join(5)
        os.close(self._from_browser)
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Page:
    def __init__(self, browser: Browser, target: str, session: str) -> None:
        self.browser = browser
        self.target = target
        self.session = session
        self._first_event = 0

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.browser.send(method, params, self.session)

    def open(self, path: Path, *, rendered: bool = True) -> None:
        """Navigate to a file and wait for its load event (and the report's `data-rendered` mark)."""
        with self.browser._lock:
            mark = len(self.browser.events)
        self._first_event = mark
        self.send("Page.navigate", {"url": path.resolve().as_uri()})
        self.browser.wait_for_event("Page.loadEventFired", self.session, mark)
        if rendered:
            self.wait_until("document.body && document.body.dataset.rendered !== undefined")

    def evaluate(self, expression: str) -> Any:
        reply = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in reply:
            raise BrowserError(f"{expression}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def wait_until(self, expression: str) -> None:
        deadline = time.monotonic() + self.browser.timeout
        while not self.evaluate(f"Boolean({expression})"):
            if time.monotonic() > deadline:
                raise BrowserError(f"never true: {expression}")
            time.sleep(0.05)

    def mouse(self, kind: str, x: float, y: float) -> None:
        params: dict[str, Any] = {"type": kind, "x": x, "y": y}
        if kind in ("mousePressed", "mouseReleased"):
            params |= {"button": "left", "clickCount": 1}
        self.send("Input.dispatchMouseEvent", params)

    def click(self, x: float, y: float) -> None:
        self.mouse("mouseMoved", x, y)
        self.mouse("mousePressed", x, y)
        self.mouse("mouseReleased", x, y)

    def screenshot(self, path: Path, clip: tuple[float, float, float, float] | None = None) -> None:
        """The whole page, or the `clip` rectangle (x, y, width, height in CSS pixels)."""
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": True}
        if clip is not None:
            params["clip"] = dict(zip(("x", "y", "width", "height"), clip, strict=True)) | {"scale": 1}
        data = self.send("Page.captureScreenshot", params)["data"]
        path.write_bytes(base64.b64decode(data))

    def events(self, *methods: str) -> list[dict[str, Any]]:
        """This page's events since the last `open`, of the given kinds."""
        with self.browser._lock:
            seen = self.browser.events[self._first_event:]
        return [e for e in seen if e.get("sessionId") == self.session and e.get("method") in methods]

    def close(self) -> None:
        self.browser.send("Target.closeTarget", {"targetId": self.target})
