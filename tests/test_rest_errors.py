"""Every error row of the REST API: status, JSON shape and machine code."""

from django.test import TestCase

from .helpers import Api, answer_id, truth_of


class ErrorTests(TestCase):
    def setUp(self):
        self.api = Api()
        self.code, self.host = self.api.create()
        self.ana_id, self.ana = self.api.join(self.code, "Ana")
        self.bo_id, self.bo = self.api.join(self.code, "Bo")

    def assertError(self, result, status, code):
        got_status, body = result
        self.assertEqual(got_status, status, body)
        self.assertEqual(set(body), {"error"})
        self.assertEqual(body["error"]["code"], code)
        self.assertIsInstance(body["error"]["message"], str)

    def to_guess_phase(self):
        self.api.host(self.code, "start-round", self.host)
        self.api.host(self.code, "show-question", self.host)
        self.api.lie(self.code, self.ana, "Blue cheese")
        self.api.host(self.code, "mix-answers", self.host)
        return self.api.state(self.code)[1]["answers"]

    # 404
    def test_unknown_session(self):
        self.assertError(self.api.state("ZZZZ"), 404, "SESSION_NOT_FOUND")
        self.assertError(
            self.api.call("POST", "/api/sessions/ZZZZ/join/", {"name": "x"}),
            404,
            "SESSION_NOT_FOUND",
        )
        self.assertError(self.api.host("ZZZZ", "start-round", self.host), 404, "SESSION_NOT_FOUND")

    def test_unknown_endpoint_is_json_404(self):
        self.assertError(self.api.call("GET", "/api/nothing/here"), 404, "NOT_FOUND")

    def test_wrong_method(self):
        self.assertError(
            self.api.call("GET", f"/api/sessions/{self.code}/start-round/"),
            405,
            "METHOD_NOT_ALLOWED",
        )
        self.assertError(self.api.call("GET", "/api/sessions/"), 405, "METHOD_NOT_ALLOWED")

    # 401 / 403
    def test_missing_and_invalid_token(self):
        self.assertError(self.api.host(self.code, "start-round", None), 401, "AUTH_REQUIRED")
        self.assertError(
            self.api.host(self.code, "start-round", "not-a-token"), 401, "INVALID_TOKEN"
        )
        self.assertError(self.api.state(self.code, "not-a-token"), 401, "INVALID_TOKEN")

    def test_wrong_role(self):
        self.assertError(self.api.host(self.code, "start-round", self.ana), 403, "WRONG_ROLE")
        self.api.host(self.code, "start-round", self.host)
        self.assertError(self.api.lie(self.code, self.host, "x"), 403, "WRONG_ROLE")

    def test_token_of_another_session(self):
        other_code, other_host = self.api.create()
        _, other_player = self.api.join(other_code, "Zed")
        self.assertError(self.api.host(self.code, "start-round", other_host), 403, "WRONG_SESSION")
        self.api.host(self.code, "start-round", self.host)
        self.assertError(self.api.lie(self.code, other_player, "x"), 403, "WRONG_SESSION")

    # 409 wrong phase, in every action
    def test_wrong_phase_everywhere(self):
        for action in (
            "show-question",
            "mix-answers",
            "calculate-scores",
            "reveal-scoreboard",
            "finish",
        ):
            self.assertError(self.api.host(self.code, action, self.host), 409, "WRONG_PHASE")
        self.assertError(self.api.lie(self.code, self.ana, "x"), 409, "WRONG_PHASE")
        self.assertError(self.api.guess(self.code, self.ana, 1), 409, "WRONG_PHASE")
        self.api.host(self.code, "start-round", self.host)
        self.assertError(self.api.host(self.code, "start-round", self.host), 409, "WRONG_PHASE")
        self.assertError(self.api.host(self.code, "mix-answers", self.host), 409, "WRONG_PHASE")
        self.assertError(
            self.api.call("POST", f"/api/sessions/{self.code}/join/", {"name": "Late"}),
            409,
            "WRONG_PHASE",
        )

    def test_not_enough_players(self):
        code, host = self.api.create()
        self.api.join(code, "Solo")
        self.assertError(self.api.host(code, "start-round", host), 409, "NOT_ENOUGH_PLAYERS")

    # names
    def test_duplicate_name_ignores_case(self):
        self.assertError(
            self.api.call("POST", f"/api/sessions/{self.code}/join/", {"name": " ana "}),
            409,
            "NAME_TAKEN",
        )

    def test_bad_names(self):
        for name in ("", "   ", "x" * 21, 7, None):
            self.assertError(
                self.api.call("POST", f"/api/sessions/{self.code}/join/", {"name": name}),
                400,
                "INVALID_NAME" if isinstance(name, str) else "INVALID_FIELD",
            )

    def test_session_full_at_twelve(self):
        for n in range(10):
            self.api.join(self.code, f"P{n}")
        self.assertError(
            self.api.call("POST", f"/api/sessions/{self.code}/join/", {"name": "Thirteen"}),
            409,
            "SESSION_FULL",
        )

    # lies and guesses
    def test_truth_as_lie_is_refused(self):
        self.api.host(self.code, "start-round", self.host)
        truth = truth_of(self.code, 1)
        self.assertError(self.api.lie(self.code, self.ana, truth), 400, "LIE_IS_TRUTH")
        self.assertError(
            self.api.lie(self.code, self.ana, f"  {truth.upper()}!! "), 400, "LIE_IS_TRUTH"
        )
        self.assertError(self.api.lie(self.code, self.ana, "!!!"), 400, "INVALID_LIE")
        self.assertError(self.api.lie(self.code, self.ana, "y" * 81), 400, "INVALID_LIE")
        self.assertError(self.api.lie(self.code, self.ana, None), 400, "INVALID_FIELD")

    def test_own_lie_guess_and_second_guess(self):
        answers = self.to_guess_phase()
        self.assertError(
            self.api.guess(self.code, self.ana, answer_id(answers, "Blue cheese")), 400, "OWN_LIE"
        )
        truth = truth_of(self.code, 1)
        self.assertEqual(self.api.guess(self.code, self.ana, answer_id(answers, truth))[0], 201)
        self.assertError(
            self.api.guess(self.code, self.ana, answer_id(answers, truth)), 409, "ALREADY_GUESSED"
        )

    def test_bad_guess_values(self):
        self.to_guess_phase()
        self.assertError(self.api.guess(self.code, self.bo, 99), 400, "UNKNOWN_ANSWER")
        for value in ("1", None, True, 1.5):
            self.assertError(self.api.guess(self.code, self.bo, value), 400, "INVALID_FIELD")

    def test_lies_closed_after_mixing(self):
        self.to_guess_phase()
        self.assertError(self.api.lie(self.code, self.bo, "Late lie"), 409, "WRONG_PHASE")

    # bodies and settings
    def test_bad_json_bodies(self):
        for raw in ("{", "[1, 2]", '"text"', "nul"):
            self.assertError(
                self.api.call("POST", f"/api/sessions/{self.code}/join/", raw=raw),
                400,
                "INVALID_JSON",
            )
            self.assertError(self.api.call("POST", "/api/sessions/", raw=raw), 400, "INVALID_JSON")

    def test_settings_out_of_range(self):
        for settings in (
            {"rounds": 0},
            {"rounds": 21},
            {"lie_time_limit": 5},
            {"guess_time_limit": 301},
            {"rounds": "3"},
            {"rounds": True},
            {"colour": "red"},
        ):
            status, body = self.api.call("POST", "/api/sessions/", settings)
            self.assertEqual(status, 400, settings)
        status, body = self.api.call("POST", "/api/sessions/", {"rounds": 5, "lie_time_limit": 90})
        self.assertEqual(
            (status, body["settings"]),
            (
                201,
                {
                    "rounds": 5,
                    "lie_time_limit": 90,
                    "guess_time_limit": 30,
                    "auto_advance": False,
                    "packs": [],
                    "categories": [],
                },
            ),
        )
