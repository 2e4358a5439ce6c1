"""A real browser against the real shop: `boutique all` on a free loopback port,
driven by Debian's Chromium through chromedriver (WebDriver)."""

import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as ChromeService

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", ROOT / "artifacts" / "screenshots"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def shop_url():
    binary = Path(os.environ.get("BOUTIQUE_BIN", ROOT / "target" / "debug" / "boutique"))
    if not binary.is_file():
        pytest.fail(f"{binary} not found: build it first (cargo build -p boutique) or set BOUTIQUE_BIN")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PORT", "LISTEN_ADDR")}
    process = subprocess.Popen(
        [str(binary), "all", "--memory", "--listen", f"127.0.0.1:{port}"], env={**env, "LOG_FORMAT": "json"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:  # readiness by observation: the storefront answers its health check
        if process.poll() is not None:
            pytest.fail(f"boutique all exited with {process.returncode}: {process.stderr.read().decode()}")
        try:
            with urllib.request.urlopen(f"{url}/_healthz", timeout=1) as reply:
                if reply.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("the shop did not become ready within 30 s")
        time.sleep(0.05)
    yield url
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0, process.stderr.read().decode()


def find_program(name: str, *fallbacks: str) -> str:
    for candidate in (os.environ.get(name.upper().replace("-", "_")), *fallbacks):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail(f"{name} not found (apt-get install chromium chromium-driver)")


@pytest.fixture(scope="session")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = find_program("chrome-bin", "/usr/bin/chromium")
    profile = tempfile.mkdtemp(prefix="boutique-chromium-")
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1280,900",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = ChromeService(executable_path=find_program("chromedriver", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(20)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()
