/*
 * wsparse: the sidecar's side of the game WebSocket protocol, free of any
 * socket or event-loop code so it can be unit-tested on its own.
 *
 * Mirrors the Python consumer (realtime/consumers.py, realtime/protocol.py):
 * URL /ws/game/<code>/ (upper-cased; anything but four letters is an
 * unknown session), client messages are JSON objects with a string "type";
 * "ping" is answered with "pong" echoing "ts"; bad input is answered with
 * an "error" message (same codes and texts as protocol.ERROR_MESSAGES) and
 * never closes the socket.
 */
#ifndef PH_WSPARSE_H
#define PH_WSPARSE_H

#include <stddef.h>
#include <stdint.h>

#define PH_CODE_LEN 4
#define PH_TOKEN_MAX 128   /* longest session token accepted */

/* protocol.ERROR_MESSAGES, word for word. */
#define PH_MSG_PARSE_FAILED "The message is not valid JSON."
#define PH_MSG_INVALID "A message must be a JSON object with a string 'type'."

typedef enum ph_conn_role {
    PH_ROLE_PLAYER = 0,
    PH_ROLE_HOST = 1
} ph_conn_role;

/*
 * Parse a request path against Channels' route ^ws/game/(?P<code>[^/]+)/$
 * (after dropping ";params" from the last segment, as Daphne's urlparse does).
 * Returns 0 and writes the upper-cased code into code[5] when the segment
 * is four ASCII letters (either case); 1 when the route matches but the
 * segment cannot be a session code (the caller accepts, then closes 4004,
 * like the consumer); -1 when the route does not match (refuse).
 */
int ph_ws_parse_path(const char *path, char code[PH_CODE_LEN + 1]);

/*
 * The role named by the query's role value (NULL when absent): absent,
 * empty or "player" -> PH_ROLE_PLAYER, "host" -> PH_ROLE_HOST, anything
 * else -> -1 (the caller closes 4003 once the session is known to exist).
 */
int ph_ws_parse_role(const char *role);

/*
 * Returns 1 when tok is a syntactically acceptable session token
 * (1..PH_TOKEN_MAX characters of [A-Za-z0-9_-], i.e. hex or base64url),
 * 0 otherwise. lws decodes '+' to space in query values, so anything
 * outside that alphabet is refused rather than guessed at.
 */
int ph_ws_token_ok(const char *tok);

/*
 * Returns 1 when origin (the Origin header, NULL when absent) is allowed by
 * allow, a comma-separated list of patterns with the semantics of Channels'
 * OriginValidator, which AllowedHostsOriginValidator feeds with Django's
 * ALLOWED_HOSTS:
 *   "*"                     anything, even an absent Origin;
 *   "example.com"           that host, any scheme and port;
 *   ".example.com"          that host and every subdomain;
 *   "https://example.com:8443"  scheme, host and port (default 80/443) all
 *                           equal (a leading "." works here too).
 * Matching ignores case. An absent or unparsable Origin, or a NULL allow
 * list, is refused (unless "*"). Origins longer than 255 bytes are refused.
 */
int ph_ws_origin_ok(const char *origin, const char *allow);

/* The longest JSON number (in characters) a client message may hold:
 * cJSON 1.7 copies a number into a 64-byte buffer and fails on longer
 * ones; realtime.protocol.MAX_JSON_NUMBER is the same limit. */
#define PH_JSON_NUMBER_MAX 63

typedef enum ph_client_kind {
    PH_CLIENT_PING = 1,    /* reply holds the pong */
    PH_CLIENT_ERROR,       /* reply holds an error message */
    PH_CLIENT_FORWARD      /* valid message for Django; reply unused */
} ph_client_kind;

/*
 * Classify one client text message text[0..len) (need not be
 * NUL-terminated) and, for PING and ERROR, write the JSON reply into
 * reply[0..replylen) NUL-terminated. types is the comma-separated list of
 * client message types forwarded to Django besides "ping" (NULL or "" =
 * none, "*" = any); a type outside it gets UNKNOWN_TYPE, like the
 * consumer's protocol.CLIENT_TYPES check. Parsing follows json.loads:
 * one value and nothing after it but whitespace; of duplicate keys the last
 * counts; and strict JSON as realtime.protocol.loads checks it: nesting at
 * most max_depth (protocol.MAX_JSON_DEPTH) deep, no U+0000 or lone
 * surrogate in a string, no NaN or Infinity, no number beyond a double's
 * range or longer than PH_JSON_NUMBER_MAX characters (MESSAGE_PARSE_FAILED).
 * The pong's ts is the exact JSON text the client sent for it
 * (so integers beyond 2^53 survive); a reply buffer of len + 64 bytes
 * always holds it. Returns the kind, or -1 when the reply does not fit or
 * memory runs out (the caller answers with a generic error).
 */
int ph_ws_client_message(const char *text, size_t len, const char *types,
                         int max_depth, char *reply, size_t replylen);

/*
 * Write Python's repr(s[:maxcp]) (maxcp code points of the UTF-8 string s)
 * NUL-terminated into out[0..cap): quotes chosen as repr chooses them,
 * backslash escapes for the quote, backslash, \t \n \r and control
 * characters. Returns the length, or -1 when it does not fit.
 */
int ph_py_repr_prefix(char *out, size_t cap, const char *s, size_t maxcp);

/*
 * Returns 1 when name is one entry of the comma-separated list, else 0.
 */
int ph_list_contains(const char *list, const char *name);

/*
 * Append the JSON string literal for s (quotes included) to buf at *pos,
 * never writing past buflen and keeping buf NUL-terminated.
 * Returns 0, or -1 when it does not fit (buf then holds a truncated
 * prefix).
 */
int ph_json_append_str(char *buf, size_t buflen, size_t *pos, const char *s);

/*
 * Build the welcome message. player_id < 0 is written as null;
 * server_time_ms is the wall clock (epoch ms) clients align deadlines to.
 * Returns the length written (excluding NUL) or -1 when it does not fit.
 */
int ph_ws_welcome(char *buf, size_t buflen, const char *connection_id,
                  const char *server_version, const char *code,
                  const char *role, int64_t player_id,
                  int64_t server_time_ms);

/*
 * Build {"type":"error","code":code,"message":message}.
 * Returns the length written or -1 when it does not fit.
 */
int ph_ws_error(char *buf, size_t buflen, const char *code,
                const char *message);

#endif /* PH_WSPARSE_H */
