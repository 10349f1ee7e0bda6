"""Helpers for Spyster's tests: its REST calls, and peeks at the secrets
(tests may read the database; clients never can)."""

from __future__ import annotations

from lobby import flow, phases, registry, timers
from lobby.models import GameSession
from spyster.models import Card, Round
from tests.helpers import Api

NAMES = ("Ana", "Bo", "Cy", "Dee")


class SpysterApi(Api):
    """tests.helpers.Api plus Spyster's actions."""

    def create_spyster(self, **settings):
        return self.create(game="spyster", **settings)

    def act(self, code: str, action: str, token: str, body: dict | None = None):
        return self.call("POST", f"/api/sessions/{code}/{action}/", body or {}, token)

    def accuse(self, code: str, token: str, suspect_id):
        return self.act(code, "accuse", token, {"suspect_id": suspect_id})

    def vote(self, code: str, token: str, agree):
        return self.act(code, "votes", token, {"agree": agree})

    def spy_guess(self, code: str, token: str, location):
        return self.act(code, "spy-guess", token, {"location": location})

    def suspect(self, code: str, token: str, suspect_id):
        return self.act(code, "suspect", token, {"suspect_id": suspect_id})


class SpysterSession:
    """Test mixin: setUp makes a Spyster session (self.code, self.host) of
    `rounds` rounds with `players` joined: self.ids (name -> id),
    self.tokens (name -> token), self.by_id (id -> token)."""

    players: tuple[str, ...] = NAMES
    rounds = 2

    def setUp(self):
        self.api = SpysterApi()
        self.code, self.host = self.api.create_spyster(rounds=self.rounds)
        self.ids, self.tokens = {}, {}
        for name in self.players:
            self.ids[name], self.tokens[name] = self.api.join(self.code, name)
        self.by_id = {pid: self.tokens[name] for name, pid in self.ids.items()}


def current_round(code: str) -> Round:
    session = GameSession.objects.get(code=code)
    return Round.objects.select_related("location").get(
        session=session, number=session.round_number
    )


def spy_of(code: str) -> int:
    """The player id of the current round's spy."""
    return current_round(code).spy_id


def location_of(code: str) -> str:
    return current_round(code).location.name


def roles_of(code: str) -> dict[int, str]:
    """player id -> role of the current round's non-spies."""
    return dict(Card.objects.filter(round=current_round(code)).values_list("player_id", "role"))


def run_deadline(code: str) -> bool:
    """Make the running countdown's deadline pass and run it as the timer task would."""
    session = GameSession.objects.get(code=code)
    stage = phases.stage_of(registry.of(session), session)
    GameSession.objects.filter(code=code).update(deadline_ms=timers.now_ms() - 1)
    return flow.on_deadline(code, session.round_number, stage, session.timer_token)


def secrets_of(code: str) -> dict:
    """The current round's secrets: spy (id), location, roles (id -> role),
    all_roles (every role of the location)."""
    game_round = current_round(code)
    return {
        "spy": game_round.spy_id,
        "location": game_round.location.name,
        "roles": roles_of(code),
        "all_roles": list(game_round.location.roles),
    }


def phase(code: str) -> str:
    return GameSession.objects.get(code=code).phase
