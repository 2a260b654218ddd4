def charge(client, number, key, amount=1000):
    return client.post("/charges", json={"amount": amount, "currency": "EUR", "idempotency_key": key,
                       "card": {"number": number, "exp_month": 12, "exp_year": 2099, "cvc": "123"}})


def test_test_cards(bank_app):
    client = bank_app.test_client()
    assert charge(client, "4242424242424242", "k1").json["status"] == "succeeded"
    declined = charge(client, "4000000000000002", "k2").json
    assert (declined["status"], declined["decline_reason"]) == ("declined", "card_declined")
    assert charge(client, "4000000000009995", "k3").json["decline_reason"] == "insufficient_funds"
    error = charge(client, "4000000000000119", "k4")
    assert error.status_code == 500 and error.content_type == "application/problem+json"
    assert charge(client, "4000000000000259", "k5").json["status"] == "succeeded"  # after BANK_SLOW_SECONDS


def test_idempotent_charge_and_refund_and_ledger(bank_app):
    client = bank_app.test_client()
    before = client.get("/ledger").json
    first = charge(client, "4242424242424242", "same-key", 5000).json
    again = charge(client, "4242424242424242", "same-key", 5000).json
    assert first["id"] == again["id"]
    assert client.get("/charges", query_string={"idempotency_key": "same-key"}).json["id"] == first["id"]
    assert first["card"] == {"brand": "visa", "last4": "4242"}
    assert "4242424242424242" not in str(client.get(f"/charges/{first['id']}").json)
    client.post("/refunds", json={"charge_id": first["id"]})
    assert client.post("/refunds", json={"charge_id": first["id"]}).json["status"] == "refunded"
    after = client.get("/ledger").json
    assert after["charged"] - before["charged"] == 5000
    assert after["refunded"] - before["refunded"] == 5000
