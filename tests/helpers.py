"""Shared test helpers: a REST driver for whole games."""

from __future__ import annotations

import json

from django.test import Client

from lobby.models import Round


class Api:
    """Drive the REST API like a client would, returning (status, json)."""

    def __init__(self, client: Client | None = None) -> None:
        self.client = client or Client()

    def call(self, method: str, path: str, body=None, token: str | None = None, raw=None):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        func = getattr(self.client, method.lower())
        if method.upper() == "GET":
            response = func(path, **headers)
        else:
            response = func(path, data=data, content_type="application/json", **headers)
        return response.status_code, response.json()

    def create(self, **settings):
        status, body = self.call("POST", "/api/sessions/", settings)
        assert status == 201, body
        return body["code"], body["host_token"]

    def join(self, code: str, name: str):
        status, body = self.call("POST", f"/api/sessions/{code}/join/", {"name": name})
        assert status == 201, body
        return body["player_id"], body["session_token"]

    def host(self, code: str, action: str, token: str):
        return self.call("POST", f"/api/sessions/{code}/{action}/", {}, token)

    def lie(self, code: str, token: str, text: str):
        return self.call("POST", f"/api/sessions/{code}/lies/", {"text": text}, token)

    def guess(self, code: str, token: str, answer_id):
        return self.call("POST", f"/api/sessions/{code}/guesses/", {"answer_id": answer_id}, token)

    def state(self, code: str, token: str | None = None):
        return self.call("GET", f"/api/sessions/{code}/", token=token)


def play_round(api: Api, code: str, host: str, players: list[str], number: int, start=True):
    """Round `number` through REST: start-round and show-question (unless
    `start` is False), a lie from each player, mix-answers, every player
    guesses the truth, calculate-scores, reveal-scoreboard."""
    if start:
        for action in ("start-round", "show-question"):
            assert api.host(code, action, host)[0] == 200
    for i, token in enumerate(players):
        assert api.lie(code, token, f"lie {number} {i}")[0] == 201
    assert api.host(code, "mix-answers", host)[0] == 200
    answers = api.state(code)[1]["answers"]
    truth = answer_id(answers, truth_of(code, number))
    for token in players:
        assert api.guess(code, token, truth)[0] == 201
    for action in ("calculate-scores", "reveal-scoreboard"):
        assert api.host(code, action, host)[0] == 200


def truth_of(code: str, number: int) -> str:
    """The true answer of round `number` (tests may peek at the database)."""
    return Round.objects.get(session__code=code, number=number).question.answer


def answer_id(answers: list[dict], text: str) -> int:
    """The public id of the answer whose text is `text` (case-insensitive)."""
    for answer in answers:
        if answer["text"].casefold() == text.casefold():
            return answer["id"]
    raise AssertionError(f"{text!r} not among {answers}")
