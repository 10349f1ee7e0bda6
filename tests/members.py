"""Signed-in users for tests: a REST client with Django's session and CSRF
token, as a browser has them after signing in."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from .helpers import Api

PASSWORD = "correct horse battery staple"


class Member(Api):
    """A signed-in user; every call carries the CSRF token, as the pages send it."""

    def __init__(self, username: str = "", user=None, client: Client | None = None) -> None:
        """A new user `username`; or `user`; or whoever `client` signed in as."""
        super().__init__(client or Client(enforce_csrf_checks=True))
        if client is not None:
            user = get_user_model().objects.get(id=client.session["_auth_user_id"])
        elif user is None:
            email = f"{username}@example.com"
            user = get_user_model().objects.create_user(username, email, PASSWORD)
        self.user = user
        if client is None:
            self.client.force_login(user)
        self.client.get("/")  # the home page hands a signed-in visitor the CSRF cookie

    @property
    def csrf(self) -> str:
        return self.client.cookies["csrftoken"].value

    def headers(self) -> dict:
        return {"HTTP_X_CSRFTOKEN": self.csrf}

    def preset(self, game: str, name: str, **settings) -> int:
        body = {"game": game, "name": name, "settings": settings}
        status, answer = self.call("POST", "/api/presets/", body)
        assert status == 201, answer
        return answer["id"]

    def upload(self, game: str, filename: str, content: bytes | str, name: str = ""):
        """POST /api/packs/ with a file: (status, json)."""
        data = content.encode() if isinstance(content, str) else content
        fields = {"game": game, "file": SimpleUploadedFile(filename, data)}
        if name:
            fields["name"] = name
        response = self.client.post("/api/packs/", fields, HTTP_X_CSRFTOKEN=self.csrf)
        return response.status_code, response.json()

    def pack(self, game: str, filename: str, content: bytes | str, name: str = "") -> int:
        status, answer = self.upload(game, filename, content, name)
        assert status == 201, answer
        return answer["id"]

    def page(self, path: str, data: dict | None = None):
        """GET a page, or POST a form to it with the CSRF token."""
        if data is None:
            return self.client.get(path)
        return self.client.post(path, {**data, "csrfmiddlewaretoken": self.csrf})
