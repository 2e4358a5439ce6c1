"""A shopper buys sunglasses in a real browser: home -> product -> cart (in euros)
-> order confirmation. Screenshots of each page are saved as test artifacts."""

import re

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from conftest import SCREENSHOTS


def shoot(browser, name: str) -> None:
    browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def wait_for(browser, css: str):
    return WebDriverWait(browser, 15).until(ready.presence_of_element_located((By.CSS_SELECTOR, css)))


def console_errors(browser) -> list:
    # CSP violations and script errors show up here as SEVERE entries.
    return [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def test_a_shopper_buys_sunglasses(browser, shop_url):
    browser.get(shop_url + "/")
    products = browser.find_elements(By.CSS_SELECTOR, "a[href*='/product/']")
    assert {re.search(r"/product/(\w+)", a.get_attribute("href")).group(1) for a in products} >= {"OLJCESPC7Z", "66VCHSJNUP"}
    assert "Sunglasses" in browser.page_source
    shoot(browser, "home")

    browser.find_element(By.CSS_SELECTOR, "a[href$='/product/OLJCESPC7Z']").click()
    wait_for(browser, "form.add-to-cart")
    assert "Sunglasses" in browser.find_element(By.TAG_NAME, "h1").text
    shoot(browser, "product")
    Select(browser.find_element(By.NAME, "quantity")).select_by_value("2")
    browser.find_element(By.CSS_SELECTOR, "form.add-to-cart button[type=submit]").click()

    wait_for(browser, "form.checkout-form")
    assert browser.current_url.endswith("/cart")
    assert "Sunglasses" in browser.page_source

    # Switch to euros; the page comes back with converted prices.
    currency = Select(browser.find_element(By.NAME, "currency_code"))
    currency.select_by_value("EUR")
    browser.execute_script("document.querySelector('form.currency-form').submit()")
    WebDriverWait(browser, 15).until(lambda b: "€" in b.find_element(By.CSS_SELECTOR, "form.checkout-form").text
                                     or "€" in b.page_source)
    wait_for(browser, "form.checkout-form")
    shoot(browser, "cart")

    # The checkout form comes prefilled with a test card; place the order.
    browser.find_element(By.CSS_SELECTOR, "form.checkout-form button[type=submit]").click()
    WebDriverWait(browser, 20).until(lambda b: "Your order is complete" in b.page_source)
    text = browser.find_element(By.TAG_NAME, "body").text
    assert re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", text), text
    assert re.search(r"[A-Z]{2}-\d+-\d+", text), text
    assert "€" in text
    shoot(browser, "order")

    assert console_errors(browser) == []


def test_pages_fit_a_phone(browser, shop_url):
    browser.set_window_size(390, 844)
    try:
        for name, path in (("home-phone", "/"), ("product-phone", "/product/66VCHSJNUP"), ("cart-phone", "/cart")):
            browser.get(shop_url + path)
            wait_for(browser, "footer")
            # Nothing wider than the screen: no sideways scrolling on a phone.
            overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} is {overflow}px wider than the phone"
            shoot(browser, name)
    finally:
        browser.set_window_size(1280, 900)
    assert console_errors(browser) == []
