"""A small HTTP client for the API tests: logs in and keeps the token."""
from datetime import datetime, timedelta, timezone


class Api:
    def __init__(self, client, token=None):
        self.client, self.token = client, token

    def _headers(self):
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def get(self, path, **kw):
        return self.client.get(path, headers=self._headers(), **kw)

    def post(self, path, json=None, **kw):
        return self.client.post(path, json=json, headers=self._headers(), **kw)

    def put(self, path, json=None, **kw):
        return self.client.put(path, json=json, headers=self._headers(), **kw)

    def delete(self, path, **kw):
        return self.client.delete(path, headers=self._headers(), **kw)

    def ok(self, method, path, json=None, status=200):
        response = getattr(self, method)(path, json=json) if method in ("post", "put") else getattr(self, method)(path)
        assert response.status_code == status, (path, response.status_code, response.get_json())
        return response.get_json() if response.data else None

    def as_user(self, username, password):
        response = self.client.post("/api/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.get_json()
        return Api(self.client, response.get_json()["access_token"])


def future(days=1):
    return (datetime.now(timezone.utc) + timedelta(days=days)).isoformat()


def past(days=1):
    return (datetime.now(timezone.utc) - timedelta(days=days)).isoformat()


def assert_problem(response, status, code):
    assert response.status_code == status, (response.status_code, response.get_json())
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["code"] == code, body
    assert body["status"] == status and body["title"] and body["type"]
    return body
