"""The upstream Online Boutique shopper, as a Locust user.

Written for Boutique from the published description of the upstream load
generator (tasks, weights, think time, form fields), so running it against
Boutique shows that a client written for the upstream frontend works unchanged.
Run: locust -f tests/locust/locustfile.py --headless -u 50 -r 10 -t 2m --host http://127.0.0.1:8080
"""

import datetime
import random

from faker import Faker
from locust import FastHttpUser, TaskSet, between

fake = Faker()

PRODUCTS = [
    "0PUK6V6EV0", "1YMWWN1N4O", "2ZYFJ3GM2N", "66VCHSJNUP", "6E92ZMYYFZ",
    "9SIQT8TOJO", "L9ECAV7KIM", "LS4PSXUNUM", "OLJCESPC7Z",
]
CURRENCIES = ["EUR", "USD", "JPY", "CAD", "GBP", "TRY"]


def index(l):
    l.client.get("/")


def set_currency(l):
    l.client.post("/setCurrency", {"currency_code": random.choice(CURRENCIES)})


def browse_product(l):
    l.client.get("/product/" + random.choice(PRODUCTS))


def view_cart(l):
    l.client.get("/cart")


def add_to_cart(l):
    product = random.choice(PRODUCTS)
    l.client.get("/product/" + product)
    l.client.post("/cart", {"product_id": product, "quantity": random.randint(1, 10)})


def empty_cart(l):
    l.client.post("/cart/empty")


def checkout(l):
    add_to_cart(l)
    this_year = datetime.datetime.now().year
    l.client.post("/cart/checkout", {
        "email": fake.email(),
        "street_address": fake.street_address(),
        "zip_code": fake.zipcode(),
        "city": fake.city(),
        "state": fake.state_abbr(),
        "country": fake.country(),
        "credit_card_number": fake.credit_card_number(card_type="visa"),
        "credit_card_expiration_month": random.randint(1, 12),
        "credit_card_expiration_year": random.randint(this_year + 1, this_year + 70),
        "credit_card_cvv": f"{random.randint(100, 999)}",
    })


def logout(l):
    l.client.get("/logout")


class Shopper(TaskSet):
    def on_start(self):
        index(self)

    # Weights as upstream; empty_cart and logout exist but are not scheduled there either.
    tasks = {index: 1, set_currency: 2, browse_product: 10, add_to_cart: 2, view_cart: 3, checkout: 1}


class WebsiteUser(FastHttpUser):
    tasks = [Shopper]
    wait_time = between(1, 10)
