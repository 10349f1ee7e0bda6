"""The REST API's contract: an OpenAPI 3.1 document (GET /api/openapi.json).

Built from the tables the views work with: the registered games' settings
tables and options (the create body), every action of the platform and of
each game with its body fields (lobby.driver.Action.fields, the same ones
lobby.actions checks), the platform's `session.state` fields
(lobby.events.STATE_FIELDS) and the rate limits. A schemathesis run against a
live server in the tests (tests/test_schemathesis.py) checks that the
server keeps it: no 5xx, no response outside it.
"""

from __future__ import annotations

from django.conf import settings as django_settings

import partyhub
from realtime.schema import (
    Field,
    any_value,
    array,
    boolean,
    enum,
    integer,
    map_of,
    nullable,
    obj,
    string,
)

from . import actions, events, registry
from .driver import ANYONE, HOST, PLAYER, GameDriver

OPENAPI_VERSION = "3.1.0"
JSON = "application/json"

ERROR = obj(
    Field(
        "error",
        obj(Field("code", string(), doc="machine code"), Field("message", string())),
    )
)
CODE = {
    "name": "code",
    "in": "path",
    "required": True,
    "description": "The 4-letter session code (case-insensitive).",
    "schema": string(),
}
GAME_ROW = obj(
    Field("game", string()),
    Field("title", string()),
    Field("pitch", string()),
    Field("min_players", integer(1)),
    Field("max_players", integer(1)),
    Field("settings", array(map_of(any_value())), doc="its settings table"),
    Field("options", array(map_of(any_value()))),
    Field("presets", boolean(), doc="whether it has presets"),
    Field("packs", nullable(string()), doc="what users may upload for it, if anything"),
)
PRESET = obj(
    Field("id", integer(1)),
    Field("game", string()),
    Field("name", string()),
    Field("settings", map_of(any_value())),
    Field("created_at", string()),
    Field("updated_at", string()),
)
PACK = obj(
    Field("id", integer(1)),
    Field("game", string()),
    Field("name", string()),
    Field("count", integer(0), doc="how many items"),
    Field("builtin", boolean()),
    Field("published", boolean()),
    Field("mine", boolean()),
    Field("created_at", string()),
    Field("items", array(map_of(any_value())), required=False, doc="to its owner only"),
)
BROADCAST = Field(
    "broadcast",
    map_of(any_value()),
    required=False,
    doc="present when publishing to the sockets failed (the call itself took effect)",
)


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _errors(*extra: int) -> dict:
    """The error answers: any 4xx (the API's JSON error), and `extra` 5xx."""
    out = {"4XX": _json({"$ref": "#/components/schemas/Error"}, "Refused: see error.code.")}
    for status in extra:
        out[str(status)] = _json({"$ref": "#/components/schemas/Error"}, "Try again.")
    return out


def _limited(kind: str) -> dict:
    return {
        "description": (
            f"Over the `{kind}` rate limit for this address (PARTYHUB_RATE_LIMITS): "
            "RATE_LIMITED; try again after Retry-After seconds."
        ),
        "headers": {"Retry-After": {"schema": integer(0), "description": "seconds"}},
        "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _body(schema: dict, required: bool = False) -> dict:
    return {"required": required, "content": {JSON: {"schema": schema}}}


def create_body() -> dict:
    """POST /api/sessions/: one object per game, its settings and options."""
    variants = []
    for driver in registry.games():
        properties = {
            "game": {**enum(driver.name), "description": driver.title},
            "preset": {**integer(1), "description": "start from this preset of yours"},
        }
        properties.update({s.name: s.schema() for s in driver.settings})
        properties.update({o.name: o.schema() for o in driver.options})
        variants.append(
            {
                "type": "object",
                "title": driver.name,
                "properties": properties,
                "additionalProperties": False,
            }
        )
    return {"anyOf": variants}


def _action_operation(name: str, drivers: list[GameDriver]) -> dict:
    """POST /api/sessions/{code}/<name>/ for the platform's or the games' action."""
    found = [actions.PLATFORM_ACTIONS[name]] if name in actions.PLATFORM_ACTIONS else []
    found += [a for d in drivers for a in d.actions if a.name == name]
    action = found[0]
    games = [d.name for d in drivers if any(a.name == name for a in d.actions)]
    owner = f"games: {', '.join(games)}" if games else "every game"
    fields: dict[str, Field] = {}
    for each in found:
        fields.update({f.name: f for f in each.fields})
    body = obj(*fields.values())
    who = {HOST: "the host", PLAYER: "a player", ANYONE: "anyone"}[action.role]
    operation = {
        "operationId": f"action_{name.replace('-', '_')}",
        "summary": action.doc or f"The {name} action ({owner}).",
        "description": (
            f"Run by {who} ({owner}); the same as the WebSocket message {action.message!r}."
            if action.message
            else f"Run by {who} ({owner})."
        ),
        "tags": ["actions"],
        "parameters": [CODE],
        "requestBody": _body(body),
        "responses": {
            str(action.status): _json(
                {"type": "object", "properties": {BROADCAST.name: BROADCAST.described()}},
                "Done: what the action answers (else the phase, round and last event).",
            ),
            "429": _limited("join" if name == "join" else "action"),
            **_errors(),
        },
    }
    if action.role != ANYONE:
        operation["security"] = [{"bearer": []}]
    return operation


def _link(operation_id: str) -> dict:
    """An OpenAPI link: the created session's code into another operation."""
    return {"operationId": operation_id, "parameters": {"code": "$response.body#/code"}}


def _action_names() -> list[str]:
    names = list(actions.PLATFORM_ACTIONS)
    for driver in registry.games():
        names += [a.name for a in driver.actions if a.name not in names]
    return names


def paths() -> dict:
    drivers = registry.games()
    state = obj(
        *events.STATE_FIELDS,
        Field("server_time", integer(), doc="the server's clock, epoch ms"),
        Field("role", enum("host", "player"), required=False, doc="with a token"),
        Field("you", map_of(any_value()), required=False, doc="a player's own view"),
    )
    signed_in = [{"session": []}]
    unsafe = [{"session": [], "csrf": []}]
    out: dict[str, dict] = {
        "/api/games/": {
            "get": {
                "operationId": "games",
                "summary": "Every game: its pitch, player range, settings table and options.",
                "tags": ["games"],
                "responses": {
                    "200": _json(
                        obj(Field("default", string()), Field("games", array(GAME_ROW))),
                        "The games.",
                    ),
                    **_errors(),
                },
            }
        },
        "/api/sessions/": {
            "post": {
                "operationId": "create_session",
                "summary": "Create a session of a game with its settings (or a preset's).",
                "tags": ["sessions"],
                "requestBody": _body(create_body()),
                "responses": {
                    "201": {
                        **_json(
                            obj(
                                Field("code", string()),
                                Field("game", string()),
                                Field("host_token", string(), doc="the host's bearer token"),
                                Field("settings", map_of(any_value())),
                                BROADCAST,
                            ),
                            "Created.",
                        ),
                        "links": {
                            "join": _link("action_join"),
                            "state": _link("session_detail"),
                        },
                    },
                    "429": _limited("create"),
                    **_errors(503),
                },
            }
        },
        "/api/sessions/{code}/": {
            "get": {
                "operationId": "session_detail",
                "summary": "The public state (session.state's payload), plus `you` "
                "with a player's token.",
                "tags": ["sessions"],
                "parameters": [CODE],
                "security": [{}, {"bearer": []}],
                "responses": {"200": _json(state, "The state."), **_errors()},
            }
        },
    }
    for name in _action_names():
        out[f"/api/sessions/{{code}}/{name}/"] = {"post": _action_operation(name, drivers)}
    game_query = {
        "name": "game",
        "in": "query",
        "required": False,
        "schema": enum(*[d.name for d in drivers]),
    }
    preset_body = obj(
        Field("game", enum(*[d.name for d in drivers if d.preset_model is not None])),
        Field("name", string()),
        Field("settings", map_of(any_value()), required=False),
        open=False,
    )
    out["/api/presets/"] = {
        "get": {
            "operationId": "presets",
            "summary": "Your presets.",
            "tags": ["presets"],
            "parameters": [game_query],
            "security": signed_in,
            "responses": {
                "200": _json(obj(Field("presets", array(PRESET))), "Your presets."),
                **_errors(),
            },
        },
        "post": {
            "operationId": "create_preset",
            "summary": "Save a preset of a game's settings.",
            "tags": ["presets"],
            "security": unsafe,
            "requestBody": _body(preset_body, required=True),
            "responses": {
                "201": _json(PRESET, "Saved."),
                "429": _limited("action"),
                **_errors(),
            },
        },
    }
    preset_id = {"name": "preset_id", "in": "path", "required": True, "schema": integer(1)}
    change = obj(
        Field("name", string(), required=False),
        Field("settings", map_of(any_value()), required=False),
        open=False,
    )
    out["/api/presets/{preset_id}/"] = {
        "get": _library("preset", [preset_id], signed_in, PRESET, "Your preset."),
        "patch": {
            **_library("update_preset", [preset_id], unsafe, PRESET, "Changed."),
            "requestBody": _body(change, required=True),
        },
        "delete": _library("delete_preset", [preset_id], unsafe, None, "Deleted."),
    }
    packs = [d for d in drivers if d.packs is not None]
    mine = {"name": "mine", "in": "query", "required": False, "schema": enum("1", "true")}
    upload = {
        "type": "object",
        "properties": {
            "game": enum(*[d.name for d in packs]),
            "name": string(),
            "file": {"type": "string", "contentMediaType": "application/octet-stream"},
        },
        "required": ["game", "file"],
    }
    out["/api/packs/"] = {
        "get": {
            "operationId": "packs",
            "summary": "The packs you may use (built in, published, yours), or yours (mine=1).",
            "tags": ["packs"],
            "parameters": [game_query, mine],
            "responses": {
                "200": _json(obj(Field("packs", array(PACK))), "The packs."),
                **_errors(),
            },
        },
        "post": {
            "operationId": "upload_pack",
            "summary": "Upload a pack (CSV or JSON) of questions or locations.",
            "tags": ["packs"],
            "security": unsafe,
            "requestBody": {
                "required": True,
                "content": {"multipart/form-data": {"schema": upload}},
            },
            "responses": {
                "201": _json(PACK, "Uploaded."),
                "429": _limited("action"),
                **_errors(),
            },
        },
    }
    pack_path = [
        {"name": "game", "in": "path", "required": True, "schema": enum(*[d.name for d in packs])},
        {"name": "pack_id", "in": "path", "required": True, "schema": integer(1)},
    ]
    rename = obj(Field("name", string()), open=False)
    out["/api/packs/{game}/{pack_id}/"] = {
        "get": _library("pack", pack_path, [{}, {"session": []}], PACK, "The pack."),
        "patch": {
            **_library("rename_pack", pack_path, unsafe, PACK, "Renamed."),
            "requestBody": _body(rename, required=True),
        },
        "delete": _library("delete_pack", pack_path, unsafe, None, "Deleted."),
    }
    out["/api/openapi.json"] = _document("openapi", "This document.")
    out["/api/asyncapi.json"] = _document(
        "asyncapi", "The WebSocket protocol's AsyncAPI 3.0 document (every message's schema)."
    )
    return out


def _library(op_id: str, params: list, security: list, schema: dict | None, what: str) -> dict:
    """A preset's or a pack's GET, PATCH or DELETE (unsafe ones are rate-limited)."""
    tag = "presets" if "preset" in op_id else "packs"
    if schema is None:
        done = {"204": {"description": what}}
    else:
        done = {"200": _json(schema, what)}
    responses = {**done, **_errors()}
    if any("csrf" in s for s in security):
        responses["429"] = _limited("action")
    return {
        "operationId": op_id,
        "tags": [tag],
        "parameters": params,
        "security": security,
        "responses": responses,
    }


def _document(op_id: str, what: str) -> dict:
    return {
        "get": {
            "operationId": op_id,
            "summary": what,
            "tags": ["contracts"],
            "responses": {"200": _json({"type": "object"}, what)},
        }
    }


def document(server_url: str = "/") -> dict:
    """The whole OpenAPI 3.1 document."""
    games = ", ".join(d.name for d in registry.games())
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "partyhub REST API",
            "version": partyhub.__version__,
            "description": (
                'JSON in, JSON out; every error is {"error": {"code", "message"}}. '
                f"Registered games: {games}. Sessions use bearer tokens (the host's from "
                "create, a player's from join); presets and packs a signed-in user's "
                "session cookie, with the CSRF token on unsafe methods. The WebSocket "
                "protocol: /api/asyncapi.json."
            ),
        },
        "servers": [{"url": server_url}],
        "paths": paths(),
        "components": {
            "schemas": {"Error": ERROR},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": django_settings.SESSION_COOKIE_NAME,
                },
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRFToken"},
            },
        },
    }
