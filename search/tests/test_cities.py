def test_cities_empty(client):
    assert client.get("/cities?prefix=Zu").json == []
