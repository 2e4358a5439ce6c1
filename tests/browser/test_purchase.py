"""A shopper buys sunglasses in a real browser: home -> product -> cart (in euros)
-> order confirmation; and a shopper signs up, buys, finds the order in their history and
rates the product. Screenshots of each page are saved as test artifacts."""

import re
import time

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


def test_a_shopper_signs_up_buys_and_rates(browser, shop_url):
    """Sign up, buy, find the order in the account's history, rate the product and see the
    rating on its page; no JavaScript is needed for any of it."""
    email = f"browser-{int(time.time() * 1000)}@example.com"
    browser.get(shop_url + "/signup")
    wait_for(browser, "form.account-form")
    browser.find_element(By.NAME, "email").send_keys(email)
    browser.find_element(By.NAME, "display_name").send_keys("Robin")
    browser.find_element(By.NAME, "password").send_keys("quiet harbour lanterns")
    shoot(browser, "signup")
    browser.find_element(By.CSS_SELECTOR, "form.account-form button[type=submit]").click()
    WebDriverWait(browser, 15).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, "[data-testid=account-name]"))
    assert browser.find_element(By.CSS_SELECTOR, "[data-testid=account-name]").get_attribute("textContent").strip() == "Robin"

    browser.get(shop_url + "/product/OLJCESPC7Z")
    wait_for(browser, "form.add-to-cart")
    assert "No ratings yet" in browser.page_source
    browser.find_element(By.CSS_SELECTOR, "form.add-to-cart button[type=submit]").click()
    wait_for(browser, "form.checkout-form")
    assert browser.find_element(By.NAME, "email").get_attribute("value") == email
    browser.find_element(By.CSS_SELECTOR, "form.checkout-form button[type=submit]").click()
    WebDriverWait(browser, 20).until(lambda b: "Your order is complete" in b.page_source)
    order_id = re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                         browser.find_element(By.TAG_NAME, "body").text).group(0)

    browser.get(shop_url + "/orders")
    wait_for(browser, "[data-testid=order-row]")
    rows = browser.find_elements(By.CSS_SELECTOR, "[data-testid=order-row]")
    assert any(order_id.split("-")[0] in row.text for row in rows), [row.text for row in rows]
    shoot(browser, "order-history")

    browser.get(shop_url + "/product/OLJCESPC7Z")
    wait_for(browser, "form.rating-form")
    browser.find_element(By.CSS_SELECTOR, "form.rating-form input[name=stars][value='5']").click()
    browser.find_element(By.NAME, "text").send_keys("Light, sturdy <and> sharp.")
    browser.find_element(By.CSS_SELECTOR, "form.rating-form button[type=submit]").click()
    WebDriverWait(browser, 15).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, "[data-testid=rating-count]"))
    assert browser.find_element(By.CSS_SELECTOR, "[data-testid=rating-average]").text == "5.0"
    assert browser.find_element(By.CSS_SELECTOR, "[data-testid=rating-count]").text == "1"
    review = browser.find_element(By.CSS_SELECTOR, "[data-testid=review-text]").text
    assert review == "Light, sturdy <and> sharp.", review
    assert "Verified purchase" in browser.find_element(By.CSS_SELECTOR, "[data-testid=review]").text
    # The sticky header covers the top of whatever scrolls under it.
    browser.execute_script("window.scrollTo(0, document.getElementById('reviews').offsetTop - 90)")
    shoot(browser, "rated")

    assert console_errors(browser) == []
