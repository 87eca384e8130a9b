"""Real-browser checks of the pages: Debian's headless Chromium driven by Selenium, on a live server.

The conftest's fixtures build on these (`live_server`, `chromium`, `browser`); docs/web.md
("Browser tests") shows how a module's page journey uses them. Every page a test opens can be
checked with `Browser.check()`: axe-core finds no WCAG 2.2 AA fault, the page with its stylesheet
and images weighs under 60 KB over the wire, and it needs no sideways scrolling on a 360 px phone.

The browser is the system's (/usr/bin/chromium and /usr/bin/chromedriver, from Debian's chromium
and chromium-driver packages), named explicitly so Selenium never downloads one. Without it the
browser tests skip, saying why, unless NATION_STACK_REQUIRE_BROWSER is set (CI sets it: there a
missing browser fails them).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import socket
import tarfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

from .cache import cache_folder

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
REQUIRE_BROWSER = "NATION_STACK_REQUIRE_BROWSER"  # set: a missing browser fails the browser tests
SCREENSHOTS = "NATION_STACK_SCREENSHOTS"  # a folder: `screenshot` saves PNGs there (unset: none saved)
PHONE = (360, 800)  # CSS pixels: a small phone, the narrowest screen the pages are made for
MAX_PAGE_BYTES = 60 * 1024  # a page with its stylesheet and images, compressed, as it travels

# axe-core, pinned: the npm registry's tarball and the integrity the registry publishes for it.
AXE_VERSION = "4.14.1"
AXE_INTEGRITY = "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
AXE_URL = f"https://registry.npmjs.org/axe-core/-/axe-core-{AXE_VERSION}.tgz"
AXE_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa")


class BrowserUnavailable(Exception):
    """The browser, its driver or axe-core cannot be had; the message says what to do."""


# ---------------------------------------------------------------- the browser


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        return (
            f"no browser for the browser tests: {' and '.join(missing)} not found "
            "(install Debian's packages: apt-get install chromium chromium-driver)"
        )
    return None


def start_chromium() -> WebDriver:
    """Headless Chromium as a 360 x 800 phone, with its cache off so every page is weighed whole."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    options.add_argument("--headless=new")
    options.add_argument(f"--window-size={PHONE[0]},{PHONE[1]}")
    options.add_argument("--lang=en")
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium refuses to sandbox as root (CI containers run as root)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    # A headless window is at least 500 px wide whatever --window-size says: emulate the phone's viewport.
    metrics = {"width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 1, "mobile": True}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    driver.set_page_load_timeout(30)
    return driver


# ---------------------------------------------------------------- the server


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """`app` served by uvicorn on 127.0.0.1 at a free port, in a thread; yields its base URL."""
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listening.close()


# ---------------------------------------------------------------- the checks


@lru_cache(maxsize=1)
def axe_source() -> str:
    """axe.min.js of the pinned axe-core, fetched once per machine into the cache and checked each time."""
    folder = cache_folder()
    tarball = folder / f"axe-core-{AXE_VERSION}.tgz"
    if tarball.is_file():
        data = tarball.read_bytes()
        if _integrity(data) != AXE_INTEGRITY:
            tarball.unlink()  # a broken download or a changed file: fetch it again
    if not tarball.is_file():
        try:
            answer = httpx.get(AXE_URL, timeout=60, follow_redirects=True)
            answer.raise_for_status()
        except httpx.HTTPError as error:
            raise BrowserUnavailable(
                f"axe-core {AXE_VERSION} could not be fetched from {AXE_URL} ({error}); "
                f"the browser tests need it once: download it to {tarball}"
            ) from error
        data = answer.content
        if _integrity(data) != AXE_INTEGRITY:
            raise BrowserUnavailable(f"{AXE_URL} does not match its pinned integrity {AXE_INTEGRITY}")
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f"{tarball.name}.{os.getpid()}.part"
        partial.write_bytes(data)
        partial.replace(tarball)  # whole or not at all, for the other test processes
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        member = archive.extractfile("package/axe.min.js")
        assert member is not None
        return member.read().decode("utf-8")


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def axe(driver: WebDriver) -> list[dict[str, Any]]:
    """axe-core's violations of WCAG 2.0, 2.1 and 2.2 A and AA on the page the browser shows."""
    if not driver.execute_script("return typeof window.axe === 'object'"):
        driver.execute_script(axe_source())
    script = """
        const done = arguments[arguments.length - 1];
        axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}, resultTypes: ['violations']})
            .then(results => done(results.violations), error => done([{id: 'axe-error', impact: 'critical',
                help: String(error), nodes: []}]));
    """
    driver.set_script_timeout(60)
    return driver.execute_async_script(script, list(AXE_TAGS))


def describe_violations(violations: list[dict[str, Any]]) -> str:
    """One paragraph per broken rule: its id, impact and help, and the elements at fault."""
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation.get('impact')}): {violation.get('help')}")
        for node in violation.get("nodes", [])[:5]:
            lines.append(f"    {' '.join(node.get('target', []))}: {node.get('failureSummary', '').splitlines()[-1:]}")
            lines.append(f"        {node.get('html', '')[:200]}")
    return "\n".join(lines)


def page_resources(driver: WebDriver) -> dict[str, int]:
    """Bytes over the wire of the page and of each thing it loaded (Resource Timing), by URL."""
    script = """
        return [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
            .map(entry => [entry.name, Math.max(entry.transferSize, entry.encodedBodySize)]);
    """
    weights: dict[str, int] = {}
    for name, size in driver.execute_script(script):
        weights[name] = weights.get(name, 0) + int(size)
    return weights


def page_weight(driver: WebDriver) -> int:
    """What the page cost to load: its document and every subresource, compressed, headers included."""
    return sum(page_resources(driver).values())


def horizontal_overflow(driver: WebDriver) -> int:
    """How many CSS pixels the page is wider than the phone's screen (0: no sideways scrolling).

    Measured against the layout viewport (`clientWidth`), not `innerWidth`: a phone's browser zooms
    out to fit a page wider than its screen, and `innerWidth` grows with the page it should reveal.
    """
    return int(
        driver.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    )


def too_wide(driver: WebDriver, most: int = 5) -> list[str]:
    """The innermost elements reaching past the phone's far edge (right, or left right to left), as short HTML.

    What a `.table-scroll` region holds scrolls within it and is not counted, unless positioned
    absolutely: then the region clips it only when it is itself positioned (site.css does so).
    """
    script = """
        const width = document.documentElement.clientWidth;
        const rtl = getComputedStyle(document.documentElement).direction === 'rtl';
        const out = [...document.body.querySelectorAll('*')].filter(element => {
            const box = element.getBoundingClientRect();
            const beyond = rtl ? box.left < -0.5 : box.right > width + 0.5;
            const scrolled = element.parentElement.closest('.table-scroll')
                && !['absolute', 'fixed'].includes(getComputedStyle(element).position);
            return box.width && beyond && !scrolled;
        });
        return out.filter(element => !out.some(other => other !== element && element.contains(other)))
            .slice(0, arguments[0]).map(element => element.outerHTML.slice(0, 160));
    """
    return driver.execute_script(script, most)


def screenshot(driver: WebDriver, name: str) -> Path | None:
    """The whole page as `<name>.png` in the folder NATION_STACK_SCREENSHOTS names (None when unset)."""
    folder = os.environ.get(SCREENSHOTS)
    if not folder:
        return None
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    clip = {"x": 0, "y": 0, "width": PHONE[0], "height": max(height, PHONE[1]), "scale": 1}
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
    )
    path = Path(folder) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


# ---------------------------------------------------------------- what a test holds


@dataclass
class Browser:
    """The shared Chromium pointed at the live server: what the `browser` fixture gives a test."""

    driver: WebDriver
    base_url: str

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    @property
    def path(self) -> str:
        """The path (and query) of the page shown, without the server's address."""
        return self.driver.current_url.removeprefix(self.base_url)

    @contextmanager
    def next_page(self) -> Iterator[None]:
        """Wait, after what the block does (a click, a key), until the next page has loaded."""
        shown = self.find("html")
        yield

        def left(_driver: WebDriver) -> bool:
            try:
                shown.is_enabled()
            except WebDriverException:  # stale, or its document is being replaced (Chromium's inspector error)
                return True
            return False

        # Asked mid-navigation, the browser may answer with an error instead: ask again.
        wait = WebDriverWait(self.driver, 15, poll_frequency=0.02, ignored_exceptions=(WebDriverException,))
        wait.until(left)
        wait.until(lambda driver: driver.execute_script("return document.readyState") == "complete")

    def follow(self, element: WebElement) -> None:
        """Click a link or a form's button and wait for the page it leads to."""
        with self.next_page():
            element.click()

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def add_cookies(self, cookies: Mapping[str, str]) -> None:
        """Cookies for the server (e.g. `staff_cookies(role)` or {"lang": "ar"}), sent from the next page on."""
        for name, value in cookies.items():
            self.driver.execute_cdp_cmd("Network.setCookie", {"name": name, "value": value, "url": self.base_url})

    def clear_cookies(self) -> None:
        self.driver.execute_cdp_cmd("Network.clearBrowserCookies", {})

    def check(self, max_bytes: int = MAX_PAGE_BYTES) -> None:
        """The page shown passes axe-core at WCAG 2.2 AA, weighs under `max_bytes` and fits the phone's width."""
        where = self.path
        violations = axe(self.driver)
        assert not violations, f"axe-core finds accessibility faults on {where}:\n{describe_violations(violations)}"
        resources = page_resources(self.driver)
        weight = sum(resources.values())
        assert weight < max_bytes, f"{where} weighs {weight} bytes over the wire (limit {max_bytes}): {resources}"
        overflow = horizontal_overflow(self.driver)
        assert overflow <= 0, (
            f"{where} is {overflow} px wider than a {PHONE[0]} px phone: it scrolls sideways; too wide: "
            + "; ".join(too_wide(self.driver))
        )

    def screenshot(self, name: str) -> Path | None:
        return screenshot(self.driver, name)
