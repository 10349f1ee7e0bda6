// partyhub browser client: one game's WebSocket plus the REST calls it needs.
//
// An ES module with no dependencies and no build step. It implements the
// contract in docs/protocol.md (usage: docs/client.md):
//   - connection states idle → connecting → connected → reconnecting → offline;
//   - reconnect with exponential backoff and jitter (1, 2, 4, 8, 16 s, capped
//     at 30 s), then "offline" with a try every 30 s; at once when the page
//     becomes visible again or the network returns (wake());
//   - a draining server (`server.draining`, then close 1012) is followed at the
//     time it gave, not with the failure backoff, and not counted as a failure;
//   - heartbeat: `ping` every 30 s, a missing `pong` after 5 s forces a reconnect;
//   - outgoing messages queued while disconnected (at most 100, oldest dropped);
//   - `on(type, handler)` subscriptions, one failing handler never stops the others;
//   - `session.state` replaces the local state, events update it through the
//     reducers the page gives (the platform's and its game's: this module
//     knows no game), and a gap in `seq` fetches the state again over REST;
//   - `player.state` (a player's private state) and private events, numbered
//     by `pseq`, the same way for what only this player may see;
//   - `act(type, fields)`: a game action over the socket, answered by a
//     `result` (or an `error`) carrying the same `ref`.

/**
 * @typedef {"idle"|"connecting"|"connected"|"reconnecting"|"offline"} ConnectionStatus
 *
 * @typedef {import("./partyhub-transport.d.ts").JsonObject} SessionState  The
 *   `session.state` payload. Its fields are the platform's and then the game's
 *   own; this module reads none of them (their declarations: docs/client.md).
 *
 * @typedef {import("./partyhub-transport.d.ts").JsonObject} PlayerView  `you`:
 *   the player's own facts, from GET /api/sessions/<code>/ with their token,
 *   and their private state (`player.state`) merged in; the platform's fields
 *   (docs/client.md).
 *
 * @callback Reducer  The state after one event, or `undefined` when the event is not its own.
 * @param {SessionState|null} state
 * @param {PhaseEvent} event
 * @returns {SessionState|undefined}
 *
 * The transport's messages, typed: the declarations generated from the
 * table the servers validate with (partyhub-transport.d.ts, `make
 * contracts`; `make typecheck` checks this file against them). Events and
 * client messages beyond `ping` are the platform's and the games' (this
 * module knows none): the platform's declarations type them (docs/client.md).
 * @typedef {import("./partyhub-transport.d.ts").ServerMessage} ServerMessage
 * @typedef {import("./partyhub-transport.d.ts").ClientMessage} ClientMessage
 * @typedef {import("./partyhub-transport.d.ts").WelcomeMessage} WelcomeMessage
 * @typedef {import("./partyhub-transport.d.ts").SessionStateMessage} SessionStateMessage
 * @typedef {import("./partyhub-transport.d.ts").PongMessage} PongMessage
 * @typedef {import("./partyhub-transport.d.ts").ErrorMessage & {local?: boolean}} ErrorMessage
 *   `local`: made by this client (e.g. an action that timed out), not sent by the server
 * @typedef {import("./partyhub-transport.d.ts").EventMessage} PhaseEvent  an event to the whole session
 * @typedef {import("./partyhub-transport.d.ts").PrivateEventMessage} PrivateEvent  to this player only
 *
 * @typedef {Object} ClientOptions
 * @property {string} code            the 4-letter session code
 * @property {string} token           `session_token` (player) or `host_token` (host)
 * @property {"player"|"host"} [role] default "player"
 * @property {string|null} [wsUrl]    WebSocket base, e.g. "ws://10.0.0.5:8001"; null = same host as the page
 * @property {number|null} [wsPort]   without wsUrl: the page's host on this port (null = the page's port)
 * @property {string} [apiBase]       REST base URL; "" = same origin as the page
 * @property {number} [pingInterval]  ms between pings (30000)
 * @property {number} [pongTimeout]   ms to wait for a pong (5000)
 * @property {number} [baseDelay]     first reconnect delay in ms (1000)
 * @property {number} [maxDelay]      cap of a reconnect delay in ms (30000)
 * @property {number} [maxAttempts]   reconnect attempts before "offline" (5)
 * @property {number} [jitter]        +/- fraction of each delay picked at random (0.2)
 * @property {number} [queueLimit]    queued outgoing messages kept while disconnected (100)
 * @property {Reducer[]} [reducers]   apply events to the state, first match wins
 *   (e.g. the platform's and the game's; lobby/static/lobby/platform.js)
 * @property {number} [actTimeout]    ms to wait for the `result` of act() (10000)
 * @property {number} [wakePongTimeout] ms a connected client waits for the pong of
 *   its check when the page becomes visible again, before reconnecting (1500)
 */

/**
 * `text` in the page's language: through Django's JavaScript catalog
 * (the global `gettext`, /jsi18n/) when the page loaded it, else as it is.
 * @param {string} text
 * @returns {string}
 */
function gettext(text) {
  const catalog = /** @type {any} */ (globalThis).gettext;
  return typeof catalog === "function" ? catalog(text) : text;
}

/** Marks `text` for translation (makemessages) without translating it yet. */
const gettext_noop = (/** @type {string} */ text) => text;

/** `format` with each `%s` replaced by the next of `values` (the catalog's `interpolate`). */
function interpolate(format, values) {
  let i = 0;
  return format.replace(/%s/g, () => String(values[i++]));
}

/** Defaults of the tunable options. */
export const DEFAULTS = Object.freeze({
  pingInterval: 30000,
  pongTimeout: 5000,
  baseDelay: 1000,
  maxDelay: 30000,
  maxAttempts: 5,
  jitter: 0.2,
  queueLimit: 100,
  actTimeout: 10000,
  wakePongTimeout: 1500,
});

/** Close code of a draining server: reconnect at the time `server.draining` gave. */
export const CLOSE_SERVICE_RESTART = 1012;

/** Close codes after which reconnecting cannot help (docs/protocol.md). */
export const FATAL_CLOSE_CODES = Object.freeze({
  4000: gettext_noop("The host has ended this game."),
  4001: gettext_noop("You left this game."),
  4003: gettext_noop("This game does not accept your key (it may belong to another game)."),
  4004: gettext_noop("There is no game with this code."),
});

/**
 * Delay before reconnect attempt number `attempt` (0-based): baseDelay · 2^attempt,
 * spread by ±jitter at random, never above maxDelay.
 * @param {number} attempt
 * @param {{baseDelay?: number, maxDelay?: number, jitter?: number}} [options]
 * @param {() => number} [random]
 * @returns {number} milliseconds
 */
export function backoffDelay(attempt, options = {}, random = Math.random) {
  const { baseDelay, maxDelay, jitter } = { ...DEFAULTS, ...options };
  const raw = Math.min(maxDelay, baseDelay * 2 ** attempt);
  const spread = raw * jitter;
  return Math.round(Math.min(maxDelay, Math.max(0, raw - spread + random() * 2 * spread)));
}

/** A failed REST call: `status` 0 means the server could not be reached. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

/**
 * Call the REST API: JSON in, JSON out, errors thrown as ApiError.
 * @param {string} method
 * @param {string} path    e.g. "/api/sessions/ABCD/join/"
 * @param {{body?: Object, token?: string|null, apiBase?: string, timeout?: number,
 *   headers?: Object<string, string>}} [options]  headers: extra request headers (e.g. X-CSRFToken)
 * @returns {Promise<Object>}
 */
export async function apiRequest(method, path, options = {}) {
  const { body, token, apiBase = "", timeout = 10000, headers: extra = {} } = options;
  /** @type {Record<string, string>} */
  const headers = { Accept: "application/json", ...extra };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeout);
  let response;
  try {
    response = await fetch(apiBase + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: controller.signal,
      cache: "no-store",
    });
  } catch (err) {
    throw new ApiError(0, "NETWORK", gettext("Could not reach the game server. Check your connection."));
  } finally {
    clearTimeout(timer);
  }
  let data = null;
  try {
    data = await response.json();
  } catch (err) {
    data = null;
  }
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(
      response.status,
      error.code || `HTTP_${response.status}`,
      error.message || interpolate(gettext("The server answered %s."), [response.status]),
    );
  }
  return data || {};
}

/**
 * The WebSocket URL of one game (docs/protocol.md, "Connecting").
 * @param {string} code
 * @param {{token: string, role?: string, wsUrl?: string|null, wsPort?: number|null, location?: Location|URL}} options
 * @returns {string}
 */
export function gameSocketUrl(code, { token, role = "player", wsUrl = null, wsPort = null, location = globalThis.location }) {
  let base = wsUrl;
  if (!base) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    base = `${scheme}//${wsPort ? `${location.hostname}:${wsPort}` : location.host}`;
  }
  const query = new URLSearchParams();
  if (role === "host") query.set("role", "host");
  query.set("session_token", token);
  return `${base.replace(/\/+$/, "")}/ws/game/${encodeURIComponent(code)}/?${query}`;
}

/**
 * The local state after one event: the first reducer that knows the event
 * decides; unknown events leave the state as it was (the same object).
 * @param {SessionState|null} state
 * @param {PhaseEvent} event
 * @param {Reducer[]} reducers
 * @returns {SessionState|null}
 */
export function applyEvent(state, event, reducers = []) {
  for (const reducer of reducers) {
    const next = reducer(state, event);
    if (next !== undefined) return next;
  }
  return state;
}

/** Rolling connection metrics; `snapshot()` is what the console shows. */
export class Metrics {
  constructor(window = 100) {
    this.window = window;
    this.reset();
  }

  reset() {
    this.sent = 0;
    this.received = 0;
    this.reconnects = 0;
    this.reconnectAttempts = 0;
    this.drainMoves = 0;
    this.dropped = 0;
    this.gaps = 0;
    this.stale = 0;
    this.pongTimeouts = 0;
    /** @type {number[]} */
    this.latencies = [];
  }

  /** @param {number} ms */
  addLatency(ms) {
    this.latencies.push(ms);
    if (this.latencies.length > this.window) this.latencies.shift();
  }

  /** @returns {number|null} average round-trip time in ms of the last samples */
  get averageLatency() {
    if (!this.latencies.length) return null;
    return this.latencies.reduce((a, b) => a + b, 0) / this.latencies.length;
  }

  snapshot() {
    const avg = this.averageLatency;
    return {
      sent: this.sent,
      received: this.received,
      reconnects: this.reconnects,
      reconnectAttempts: this.reconnectAttempts,
      drainMoves: this.drainMoves,
      dropped: this.dropped,
      gaps: this.gaps,
      stale: this.stale,
      pongTimeouts: this.pongTimeouts,
      averageLatency: avg === null ? null : Math.round(avg * 10) / 10,
      lastLatency: this.latencies.length ? Math.round(this.latencies[this.latencies.length - 1] * 10) / 10 : null,
      latencySamples: this.latencies.length,
    };
  }
}

/** One game's connection, state and subscriptions. */
export class PartyhubClient {
  /** @param {ClientOptions} options */
  constructor(options) {
    const { code, token, role = "player", wsUrl = null, wsPort = null, apiBase = "", reducers = [], ...rest } =
      options;
    if (!code || !token) throw new Error("PartyhubClient needs a code and a token");
    this.code = code.toUpperCase();
    this.token = token;
    this.role = role;
    this.wsUrl = wsUrl;
    this.wsPort = wsPort;
    this.apiBase = apiBase;
    this.options = { ...DEFAULTS, ...rest };
    /** @type {Reducer[]} */
    this.reducers = reducers;
    /** @type {ConnectionStatus} */
    this.status = "idle";
    /** @type {SessionState|null} */
    this.state = null;
    /** @type {number|null} last seq the state reflects */
    this.seq = null;
    /** @type {PlayerView|null} */
    this.you = null;
    /** @type {number|null} last pseq the private state reflects */
    this.pseq = null;
    /** @type {Map<string, {resolve: Function, reject: Function, timer: number}>} act() calls awaiting a result */
    this._acts = new Map();
    this._nextRef = 1;
    /** @type {WelcomeMessage|null} */
    this.welcome = null;
    this.metrics = new Metrics();
    /** @type {Object[]} */
    this.queue = [];
    /** @type {Map<string, Set<Function>>} */
    this.handlers = new Map();
    /** @type {WebSocket|null} */
    this.ws = null;
    this.attempt = 0;
    this.everConnected = false;
    this.closedByUser = false;
    /** @type {number|null} the fatal close code that ended the connection (FATAL_CLOSE_CODES) */
    this.fatal = null;
    this.lastClose = null;
    /** performance.now() at which a draining server asked us to reconnect, or null */
    this.drainAt = null;
    /** server clock − this clock, in ms (from `server_time`, when the server sends it) */
    this.clockOffset = 0;
    this._timers = { reconnect: 0, ping: 0, pong: 0 };
    this._pendingPing = null;
    this._refreshing = null;
    // Back from sleep, a hidden tab, the back/forward cache or a lost network:
    // reconnect at once instead of waiting out the backoff (see wake()).
    this._onWake = () => this.wake();
    if (typeof window !== "undefined") {
      window.addEventListener("online", this._onWake);
      window.addEventListener("pageshow", this._onWake);
      if (typeof document !== "undefined") {
        document.addEventListener("visibilitychange", this._onWake);
        document.addEventListener("resume", this._onWake);
      }
    }
  }

  /**
   * The page is visible again (or the network is back): a client waiting
   * for its next reconnect attempt (or `offline` after the last one, unless
   * the game is gone) reconnects now with a fresh backoff; a connected one
   * checks its socket with a ping that must be answered within
   * `wakePongTimeout`, else it reconnects at once. Nothing while the page is
   * hidden, after close(), or after a fatal close.
   * @returns {boolean} whether it reconnected or pinged
   */
  wake() {
    if (typeof document !== "undefined" && document.visibilityState === "hidden") return false;
    if (this.closedByUser || this.status === "idle" || this.fatal) return false;
    if (this.status === "offline" || this.status === "reconnecting") {
      this.retry();
      return true;
    }
    if (this.status === "connected") return this.ping(this.options.wakePongTimeout, () => this.retry());
    return false;
  }

  // --- subscriptions -------------------------------------------------------

  /**
   * Call `handler(message)` for every message of `type`. Besides the server's
   * types ("welcome", "session.state", "player.state", every event type, "pong",
   * "error", "reaction", …) there are local ones: "status" (connection state
   * changed), "state" (local state or `you` changed), "*" (every server message).
   * @param {string} type
   * @param {(message: any) => void} handler
   * @returns {() => void} call to unsubscribe
   */
  on(type, handler) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(handler);
    return () => this.off(type, handler);
  }

  /** @param {string} type @param {Function} handler */
  off(type, handler) {
    const set = this.handlers.get(type);
    if (set) set.delete(handler);
  }

  /** @param {string} type @param {any} message */
  _emit(type, message) {
    const set = this.handlers.get(type);
    if (!set) return;
    for (const handler of [...set]) {
      try {
        handler(message);
      } catch (err) {
        console.error(`[partyhub] a "${type}" handler failed:`, err);
      }
    }
  }

  // --- connection ----------------------------------------------------------

  /** Open the socket (no-op when it is open or opening). */
  connect() {
    if (this.ws) return;
    this.closedByUser = false;
    this.fatal = null;
    clearTimeout(this._timers.reconnect);
    if (this.attempt > 0) this._setStatus("reconnecting", { attempt: this.attempt, trying: true });
    else this._setStatus("connecting");
    const url = gameSocketUrl(this.code, {
      token: this.token,
      role: this.role,
      wsUrl: this.wsUrl,
      wsPort: this.wsPort,
    });
    let ws;
    try {
      ws = new WebSocket(url);
    } catch (err) {
      console.error("[partyhub] cannot open the WebSocket:", err);
      this._scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onmessage = (event) => this._onMessage(event);
    ws.onclose = (event) => this._onClose(ws, event.code, event.reason);
    ws.onerror = () => {}; // onclose follows and decides
  }

  /** Close for good (until connect() or retry()). */
  close() {
    this.closedByUser = true;
    clearTimeout(this._timers.reconnect);
    this._dropSocket(1000, "client closed");
    this._setStatus("idle");
  }

  /** Reconnect now with a fresh backoff (the "retry" button). */
  retry() {
    this._dropSocket(4000, "retry");
    this.attempt = 0;
    clearTimeout(this._timers.reconnect);
    this.connect();
  }

  /** Drop the socket at once, without waiting for a close handshake. */
  _dropSocket(code, reason) {
    this._stopHeartbeat();
    const ws = this.ws;
    this.ws = null;
    if (!ws) return;
    ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close(code, reason);
    } catch (err) {
      // already closed
    }
  }

  _onClose(ws, code, reason) {
    if (ws !== this.ws) return;
    this.ws = null;
    this._stopHeartbeat();
    this.lastClose = { code, reason };
    if (this.closedByUser) return;
    if (code === CLOSE_SERVICE_RESTART) {
      this._reconnectAfterDrain();
      return;
    }
    this.drainAt = null;
    if (code in FATAL_CLOSE_CODES) {
      this.fatal = code;
      const reason = gettext(FATAL_CLOSE_CODES[code]);
      this._setStatus("offline", { code, reason, fatal: true });
      this._emit("error", { type: "error", code: `CLOSE_${code}`, message: reason, local: true });
      return;
    }
    this._scheduleReconnect();
  }

  /**
   * The server is draining (close 1012): reconnect when `server.draining`
   * said (or within baseDelay at random without one, so a crowd spreads
   * out). Not a failure: the backoff attempt count stays as it is.
   */
  _reconnectAfterDrain() {
    clearTimeout(this._timers.reconnect);
    const now = performance.now();
    const delay =
      this.drainAt === null
        ? Math.round(Math.random() * this.options.baseDelay)
        : Math.max(0, Math.round(this.drainAt - now));
    this.drainAt = null;
    this.metrics.drainMoves += 1;
    this._setStatus("reconnecting", { attempt: this.attempt, delay, draining: true });
    this._timers.reconnect = setTimeout(() => this.connect(), delay);
  }

  /** Force a reconnect (used when the heartbeat finds the socket dead). */
  _forceReconnect(reason) {
    console.warn(`[partyhub] reconnecting: ${reason}`);
    this._dropSocket(4000, reason);
    this._scheduleReconnect();
  }

  _scheduleReconnect() {
    clearTimeout(this._timers.reconnect);
    if (this.attempt >= this.options.maxAttempts) {
      // Never a dead end while the game may exist: `offline`, and one more
      // try every maxDelay (wake() and retry() try at once).
      this._setStatus("offline", { reason: gettext("The connection could not be restored.") });
      this._timers.reconnect = setTimeout(() => {
        this.metrics.reconnectAttempts += 1;
        this.connect();
      }, this.options.maxDelay);
      return;
    }
    const delay = backoffDelay(this.attempt, this.options);
    this.attempt += 1;
    this.metrics.reconnectAttempts += 1;
    this._setStatus("reconnecting", { attempt: this.attempt, delay });
    this._timers.reconnect = setTimeout(() => this.connect(), delay);
  }

  /** @param {ConnectionStatus} status @param {Object} [detail] */
  _setStatus(status, detail = {}) {
    const previous = this.status;
    this.status = status;
    this.statusDetail = detail;
    if (previous !== status || detail.attempt) {
      this._emit("status", { status, previous, ...detail });
    }
  }

  // --- heartbeat -----------------------------------------------------------

  _startHeartbeat() {
    this._stopHeartbeat();
    this._timers.ping = setInterval(() => this.ping(), this.options.pingInterval);
  }

  _stopHeartbeat() {
    clearInterval(this._timers.ping);
    clearTimeout(this._timers.pong);
    this._pendingPing = null;
  }

  /**
   * Send a `ping` now; a `pong` within `timeout` (pongTimeout) records the
   * latency, none forces a reconnect (or calls `onTimeout` instead).
   * @param {number} [timeout]
   * @param {(() => void)|null} [onTimeout]
   * @returns {boolean} whether a ping was sent
   */
  ping(timeout = this.options.pongTimeout, onTimeout = null) {
    if (this.status !== "connected" || this._pendingPing) return false;
    const ts = Date.now();
    this._pendingPing = { ts, sentAt: performance.now() };
    this._sendNow({ type: "ping", ts });
    this._timers.pong = setTimeout(() => {
      this.metrics.pongTimeouts += 1;
      if (onTimeout) onTimeout();
      else this._forceReconnect("no pong within the timeout");
    }, timeout);
    return true;
  }

  /** @param {PongMessage} message */
  _onPong(message) {
    const pending = this._pendingPing;
    if (!pending || message.ts !== pending.ts) return;
    clearTimeout(this._timers.pong);
    this._pendingPing = null;
    this.metrics.addLatency(performance.now() - pending.sentAt);
  }

  // --- sending -------------------------------------------------------------

  /**
   * Send a message, or queue it while disconnected (oldest dropped past queueLimit).
   * @param {Object} message  e.g. {type: "reaction", emoji: "😂"}
   * @returns {boolean} true when sent now, false when queued
   */
  send(message) {
    if (this.status === "connected" && this.ws && this.ws.readyState === WebSocket.OPEN) {
      this._sendNow(message);
      return true;
    }
    this.queue.push(message);
    while (this.queue.length > this.options.queueLimit) {
      const dropped = this.queue.shift();
      this.metrics.dropped += 1;
      console.warn("[partyhub] send queue full: dropped the oldest message", dropped);
    }
    return false;
  }

  _sendNow(message) {
    this.ws.send(JSON.stringify(message));
    this.metrics.sent += 1;
  }

  _flushQueue() {
    const queued = this.queue.splice(0);
    for (const message of queued) this.send(message);
  }

  // --- receiving -----------------------------------------------------------

  _onMessage(event) {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch (err) {
      console.error("[partyhub] a server message is not JSON:", event.data);
      return;
    }
    if (!message || typeof message.type !== "string") return;
    this.metrics.received += 1;
    switch (message.type) {
      case "welcome":
        this.welcome = message;
        this._syncClock(message.server_time);
        this.attempt = 0;
        if (this.everConnected) this.metrics.reconnects += 1;
        this.everConnected = true;
        this._setStatus("connected");
        this._startHeartbeat();
        this._flushQueue();
        break;
      case "session.state":
        this.seq = message.seq;
        this.state = message.payload;
        this._emit(message.type, message);
        this._emit("state", { state: this.state, you: this.you, cause: message.type });
        this._emit("*", message);
        return;
      case "player.state":
        this.pseq = message.pseq;
        this.you = { ...(this.you || {}), ...message.payload };
        this._emit(message.type, message);
        this._emit("state", { state: this.state, you: this.you, cause: message.type });
        this._emit("*", message);
        return;
      case "pong":
        this._onPong(message);
        break;
      case "server.draining":
        this.drainAt = performance.now() + Math.max(0, Number(message.reconnect_in_ms) || 0);
        break;
      case "result":
      case "error":
        // An act()'s answer goes to its caller only.
        if (this._settleAct(message)) return;
        break;
      default:
        if (typeof message.seq === "number") {
          this._onEvent(message);
          return;
        }
        if (typeof message.pseq === "number") {
          this._onPrivate(message);
          return;
        }
    }
    this._emit(message.type, message);
    this._emit("*", message);
  }

  /** A phase event: drop stale ones, apply, and refresh on a gap. @param {PhaseEvent} event */
  _onEvent(event) {
    const gap = this._advance("seq", event.seq);
    if (gap === null) return;
    const next = applyEvent(this.state, event, this.reducers);
    const known = next !== this.state;
    this.state = next;
    this._emit(event.type, event);
    this._emit("*", event);
    this._emit("state", { state: this.state, you: this.you, cause: event.type });
    if (gap) this.metrics.gaps += 1;
    // A gap means events were missed; an event this client does not know may
    // change state it cannot work out: either way, ask the server.
    if (gap || !known) {
      this.refresh().catch((err) => {
        this._emit("error", { type: "error", code: err.code || "REFRESH_FAILED", message: err.message, local: true });
      });
    }
  }

  /**
   * Move counter `name` ("seq" or "pseq") to `n`: null for a stale message
   * (n not above it: dropped), else whether messages were missed (a gap).
   * @param {"seq"|"pseq"} name
   * @param {number} n
   * @returns {boolean|null}
   */
  _advance(name, n) {
    if (this[name] !== null && n <= this[name]) {
      this.metrics.stale += 1;
      return null;
    }
    const gap = this[name] !== null && n > this[name] + 1;
    this[name] = n;
    return gap;
  }

  /**
   * A private event (to this player only): drop stale ones, pass it on, and
   * refresh (`you` comes back over REST) on a gap in `pseq`.
   * @param {PrivateEvent} event
   */
  _onPrivate(event) {
    const gap = this._advance("pseq", event.pseq);
    if (gap === null) return;
    this._emit(event.type, event);
    this._emit("*", event);
    if (gap) {
      this.metrics.gaps += 1;
      this.refresh().catch(() => {});
    }
  }

  // --- actions over the socket ---------------------------------------------------

  /**
   * Run a game action over the socket (its client message type, e.g.
   * "<game>.<action>"): resolves with the `result` body, rejects with an ApiError
   * carrying the `error`'s code (or NETWORK when not connected, TIMEOUT
   * after actTimeout). Not queued: an action belongs to the moment it is made.
   * @param {string} type
   * @param {Object} [fields]
   * @returns {Promise<Object>}
   */
  act(type, fields = {}) {
    if (this.status !== "connected" || !this.ws || this.ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new ApiError(0, "NETWORK", gettext("Not connected to the game server.")));
    }
    const ref = `a${this._nextRef++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._acts.delete(ref);
        reject(new ApiError(0, "TIMEOUT", gettext("The game server did not answer in time.")));
      }, this.options.actTimeout);
      this._acts.set(ref, { resolve, reject, timer });
      this._sendNow({ ...fields, type, ref });
    });
  }

  /**
   * Settle the act() whose `ref` a `result` or `error` carries.
   * @param {Object} message
   * @returns {boolean} whether it was an act()'s answer
   */
  _settleAct(message) {
    const pending = typeof message.ref === "string" ? this._acts.get(message.ref) : undefined;
    if (!pending) return false;
    this._acts.delete(message.ref);
    clearTimeout(pending.timer);
    if (message.type === "result") pending.resolve(message.body);
    else pending.reject(new ApiError(400, message.code, message.message));
    return true;
  }

  // --- server clock ------------------------------------------------------------

  /** @param {*} serverTime epoch ms, or anything else (ignored) */
  _syncClock(serverTime) {
    if (typeof serverTime === "number") this.clockOffset = serverTime - Date.now();
  }

  /**
   * This browser's clock (epoch ms) at a server time such as `state.deadline`.
   * @param {number} serverMs
   * @returns {number}
   */
  localTime(serverMs) {
    return serverMs - this.clockOffset;
  }

  // --- REST ------------------------------------------------------------------

  /**
   * GET the game's state (and `you`, for a player) over REST and replace the
   * local state with it, unless newer events arrived meanwhile (then ask again).
   * Concurrent calls share one request.
   * @returns {Promise<Object>} the response body
   */
  refresh() {
    if (!this._refreshing) {
      this._refreshing = this._refresh().finally(() => {
        this._refreshing = null;
      });
    }
    return this._refreshing;
  }

  async _refresh() {
    for (let tries = 0; ; tries += 1) {
      const seqAtStart = this.seq;
      const body = await this.request("GET", "");
      const { you, role, server_time: serverTime, ...state } = body;
      if (you) this.you = you;
      this._syncClock(serverTime);
      if (this.seq === seqAtStart || tries >= 3) {
        this.state = /** @type {SessionState} */ (state);
        this._emit("state", { state: this.state, you: this.you, cause: "refresh" });
        return body;
      }
    }
  }

  /**
   * Call this game's REST API with this client's token.
   * @param {string} method
   * @param {string} action  "" for the state, or an action, e.g. "start-round"
   * @param {Object} [body]
   * @returns {Promise<Object>}
   */
  request(method, action, body) {
    const path = `/api/sessions/${encodeURIComponent(this.code)}/${action ? `${action}/` : ""}`;
    return apiRequest(method, path, { body, token: this.token, apiBase: this.apiBase });
  }
}

// --- keeping a token across reloads and restarts ----------------------------

/** How long a saved identity is offered back (a game does not last longer). */
export const IDENTITY_TTL_MS = 24 * 3600 * 1000;
const IDENTITY_PREFIX = "partyhub:";

/** @param {string} code @param {"player"|"host"} role */
const identityKey = (code, role) => `${IDENTITY_PREFIX}${role}:${code.toUpperCase()}`;

/** Storage that may be missing or refuse (private modes): null then. */
function storage(name) {
  try {
    const store = globalThis[name];
    return store && typeof store.getItem === "function" ? store : null;
  } catch (err) {
    return null;
  }
}

/** @returns {{token: string, player_id?: number, name?: string, saved_at?: number}|null} */
function readIdentity(store, key) {
  try {
    const raw = store ? store.getItem(key) : null;
    const data = raw ? JSON.parse(raw) : null;
    if (!data || typeof data.token !== "string") return null;
    if (typeof data.saved_at === "number" && Date.now() - data.saved_at > IDENTITY_TTL_MS) {
      store.removeItem(key);
      return null;
    }
    return data;
  } catch (err) {
    return null;
  }
}

/**
 * Remember who this device is in a game: localStorage, so closing the tab or
 * restarting the browser keeps it (for IDENTITY_TTL_MS; forgetIdentity()
 * when the game ends).
 * @param {string} code
 * @param {"player"|"host"} role
 * @param {{token: string, player_id?: number, name?: string}} data
 */
export function saveIdentity(code, role, data) {
  const value = JSON.stringify({ ...data, saved_at: Date.now() });
  for (const name of ["localStorage", "sessionStorage"]) {
    const store = storage(name);
    try {
      if (store) {
        store.setItem(identityKey(code, role), value);
        return;
      }
    } catch (err) {
      console.warn(`[partyhub] cannot use ${name}:`, err);
    }
  }
}

/**
 * This device's identity in a game (localStorage; this tab's sessionStorage,
 * where older pages kept it, as a fallback), or null.
 * @param {string} code
 * @param {"player"|"host"} role
 * @returns {{token: string, player_id?: number, name?: string, saved_at?: number}|null}
 */
export function loadIdentity(code, role) {
  const key = identityKey(code, role);
  return readIdentity(storage("localStorage"), key) || readIdentity(storage("sessionStorage"), key);
}

/** Forget this device's identity in a game. @param {string} code @param {"player"|"host"} role */
export function forgetIdentity(code, role) {
  for (const name of ["localStorage", "sessionStorage"]) {
    try {
      const store = storage(name);
      if (store) store.removeItem(identityKey(code, role));
    } catch (err) {
      // nothing to forget
    }
  }
}

/**
 * Every game this device has an identity in for `role` (newest first): the
 * home page's "Continue as …".
 * @param {"player"|"host"} role
 * @returns {Array<{code: string, token: string, player_id?: number, name?: string, saved_at?: number}>}
 */
export function savedIdentities(role) {
  const store = storage("localStorage");
  if (!store) return [];
  const prefix = `${IDENTITY_PREFIX}${role}:`;
  const found = [];
  try {
    for (let i = store.length - 1; i >= 0; i -= 1) {
      const key = store.key(i);
      if (!key || !key.startsWith(prefix)) continue;
      const data = readIdentity(store, key);
      if (data) found.push({ ...data, code: key.slice(prefix.length) });
    }
  } catch (err) {
    return found;
  }
  return found.sort((a, b) => (b.saved_at || 0) - (a.saved_at || 0));
}
