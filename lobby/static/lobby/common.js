// The page shell's helpers, shared by every game's pages: config, client,
// status indicator, toasts, countdown, DOM bits.
import { PartyhubClient } from "../realtime/partyhub-client.js";
import { fmt, gettext, ngettext, number } from "./i18n.js";

export { fmt, gettext, ngettext, number };

/** @returns {{code: string|null, role: string|null, ws_url: string|null, ws_port: number|null,
 *   join_url: string|null, name_max: number, reaction_emoji: string[],
 *   game?: string, title?: string, min_players?: number}} the page's config (lobby.pages.page_config),
 *   plus the game's own facts */
export function pageConfig() {
  return JSON.parse(document.getElementById("partyhub-config").textContent);
}

/**
 * A client for this page's game: its socket settings from the config, and
 * the reducers that apply its events (the game's, then the platform's).
 * @param {string} token
 * @param {"player"|"host"} role
 * @param {Function[]} reducers
 */
export function gameClient(token, role, reducers) {
  const config = pageConfig();
  return new PartyhubClient({
    code: config.code,
    token,
    role,
    wsUrl: config.ws_url,
    wsPort: config.ws_port,
    reducers,
  });
}

/** @param {string} id @returns {HTMLElement} */
export const $ = (id) => document.getElementById(id);

/**
 * Create an element: h("li", {className: "x"}, "text", child).
 * @param {string} tag
 * @param {Object} [props]
 * @param {...(string|Node|null|undefined|false)} children
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("aria-")) el.setAttribute(key, value);
    else el[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Replace an element's children. @param {HTMLElement} el @param {Node[]} nodes */
export function fill(el, nodes) {
  el.replaceChildren(...nodes);
}

/** Show the phase section(s) whose data-phase is `name`, hide the others. */
export function showPhase(name) {
  for (const section of document.querySelectorAll("[data-phase]")) {
    section.hidden = section.dataset.phase !== name;
  }
}

// --- human messages -----------------------------------------------------------

const FRIENDLY = {
  NETWORK: gettext("Can't reach the game server. Check your Wi-Fi and try again."),
  TIMEOUT: gettext("The game server did not answer in time. Try again."),
  UNKNOWN_TYPE: gettext("The server doesn't support that yet."),
  MESSAGE_PARSE_FAILED: gettext("The server could not read a message from this page."),
  INVALID_MESSAGE: gettext("The server could not read a message from this page."),
  SESSION_NOT_FOUND: gettext("There is no game with that code."),
  UNKNOWN_GAME: gettext("This server does not have that game."),
  NAME_TAKEN: gettext("Someone in this game already has that name. Pick another one."),
  SESSION_FULL: gettext("This game is full."),
  RATE_LIMITED: gettext("Easy there! Wait a moment before reacting again."),
  INVALID_TOKEN: gettext("Your player key is no longer valid."),
  WRONG_SESSION: gettext("Your key belongs to another game."),
  NOT_IN_GAME: gettext("You are not in this game any more."),
  SESSION_CLOSED: gettext("The host has ended this game."),
  PAUSED: gettext("The game is paused: only resume (or end) works now."),
  NOT_PAUSED: gettext("The game is not paused."),
  NO_MORE_ROUNDS: gettext("That was the last round: finish the game."),
  NO_CODE_AVAILABLE: gettext("Could not find a free game code; try again."),
};

/**
 * Add a game's own friendly texts for its error codes (already translated:
 * gettext("…")).
 * @param {Object<string, string>} messages  error code -> text for a person
 */
export function addMessages(messages) {
  Object.assign(FRIENDLY, messages);
}

/**
 * A short message for a person from a REST error, server `error` or exception:
 * the friendly text of its code, else its message (REST messages come in the
 * page's language: the server translates them, lobby.text's refused names too).
 * @param {{code?: string, message?: string}|Error} problem
 */
export function humanMessage(problem) {
  const code = problem && problem.code;
  // The server keeps phase names as they are in every language ("… needs 'lobby'.").
  if (code === "WRONG_PHASE" && /'lobby'/.test(problem.message || "")) {
    return gettext("This game has already started, so no one can join now.");
  }
  if (code === "WRONG_PHASE") return gettext("Too late: the game has moved on.");
  if (code === "NOT_ENOUGH_PLAYERS") {
    const min = pageConfig().min_players || 2;
    return fmt(gettext("At least %(min)s players must join before the game can start."), { min });
  }
  if (code && FRIENDLY[code]) return FRIENDLY[code];
  return (problem && problem.message) || gettext("Something went wrong.");
}

// --- toasts -------------------------------------------------------------------

/**
 * Show a short message that goes away by itself.
 * @param {string} text
 * @param {{kind?: "error"|"info", timeout?: number}} [options]
 */
export function toast(text, { kind = "error", timeout = 5000 } = {}) {
  const region = $("toasts");
  // The same text twice in a row: restart its timer instead of stacking it.
  for (const old of region.children) {
    if (old.textContent === text) old.remove();
  }
  const el = h("div", { className: `toast toast-${kind}` }, text);
  region.append(el);
  while (region.children.length > 3) region.firstElementChild.remove();
  setTimeout(() => {
    el.classList.add("leaving");
    setTimeout(() => el.remove(), 300);
  }, timeout);
}

/** Toast any error: REST, server `error` message, or exception. */
export function toastError(problem) {
  toast(humanMessage(problem), { kind: "error" });
}

// --- connection status --------------------------------------------------------

const STATUS_TEXT = {
  idle: gettext("Not connected"),
  connecting: gettext("Connecting…"),
  connected: gettext("Connected"),
  reconnecting: gettext("Reconnecting…"),
  offline: gettext("Offline"),
};

/**
 * Keep the header's status indicator in step with a client.
 * @param {import("../realtime/partyhub-client.js").PartyhubClient} client
 */
export function bindStatus(client) {
  const box = $("status");
  const text = $("status-text");
  const retry = $("status-retry");
  retry.addEventListener("click", () => client.retry());
  const show = (event) => {
    const status = event.status;
    box.dataset.status = status;
    let label = STATUS_TEXT[status] || status;
    if (status === "reconnecting" && event.delay) {
      label = fmt(gettext("Reconnecting in %(seconds)s s…"), { seconds: Math.max(1, Math.round(event.delay / 1000)) });
    } else if (status === "reconnecting" && event.attempt) {
      label = fmt(gettext("Reconnecting (try %(attempt)s)…"), { attempt: event.attempt });
    }
    text.textContent = label;
    retry.hidden = status !== "offline";
  };
  show({ status: client.status });
  client.on("status", show);
}

// --- countdown ----------------------------------------------------------------

/**
 * A countdown shown in `el`: start(key, seconds) restarts it only when `key`
 * changes, so state updates within one phase do not reset it. Each of the
 * last 5 seconds of a running countdown fires `partyhub:last-seconds` on the
 * document (the sound cue, device.js).
 */
export class Countdown {
  /** @param {HTMLElement} el */
  constructor(el) {
    this.el = el;
    this.key = null;
    this.deadline = 0;
    this.timer = 0;
  }

  /**
   * @param {string} key
   * @param {number} seconds     counted from now, the first time `key` is seen
   * @param {number|null} [deadline]  local epoch ms when it ends, if known (wins)
   */
  start(key, seconds, deadline = null) {
    if (key === this.key && (deadline === null || deadline === this.deadline)) return;
    this.key = key;
    this.deadline = deadline ?? Date.now() + seconds * 1000;
    clearInterval(this.timer);
    this.el.hidden = false;
    this.timer = setInterval(() => this.tick(), 250);
    this.tick();
  }

  /** Show a fixed time left (a paused game). @param {number} ms */
  hold(ms) {
    clearInterval(this.timer);
    this.timer = 0;
    this.key = null;
    this.deadline = Date.now() + ms;
    this.el.hidden = false;
    this.tick();
  }

  tick() {
    const left = Math.max(0, Math.ceil((this.deadline - Date.now()) / 1000));
    if (this.timer && left > 0 && left <= 5 && left !== this.lastLeft) {
      document.dispatchEvent(new CustomEvent("partyhub:last-seconds", { detail: { left } }));
    }
    this.lastLeft = left;
    const minutes = Math.floor(left / 60);
    const seconds = String(left % 60).padStart(2, "0");
    const text = `${minutes}:${seconds}`;
    if (this.el.textContent !== text) this.el.textContent = text;
    this.el.classList.toggle("urgent", left <= 5);
    this.el.classList.toggle("done", left === 0);
    if (left === 0) {
      clearInterval(this.timer);
      this.timer = 0;
    }
  }

  stop() {
    clearInterval(this.timer);
    this.timer = 0;
    this.key = null;
    this.el.hidden = true;
  }
}

/**
 * Run `countdown` to the state's deadline (server time, turned into this
 * clock), hold it while paused, hide it when nothing counts down. `show`
 * narrows the phases that show one; `key` names one countdown (the same key
 * does not restart it), by default the round and phase.
 * @param {Countdown} countdown
 * @param {Object} state  a session.state payload
 * @param {import("../realtime/partyhub-client.js").PartyhubClient} client
 * @param {{show?: (state: Object) => boolean, key?: (state: Object) => string}} [options]
 */
export function runCountdown(countdown, state, client, options = {}) {
  const { show = () => true, key = (s) => `${s.round}:${s.phase}` } = options;
  const shown = show(state);
  if (shown && state.paused && typeof state.remaining_ms === "number") {
    countdown.hold(state.remaining_ms);
  } else if (shown && typeof state.deadline === "number") {
    countdown.start(key(state), 0, client.localTime(state.deadline));
  } else if (shown && state.time_limit && !state.paused) {
    countdown.start(key(state), state.time_limit);
  } else {
    countdown.stop();
  }
}

/** "Round 2 of 3" */
export function roundLabel(state) {
  return state && state.round ? fmt(gettext("Round %(round)s of %(rounds)s"), state) : "";
}

/** "Ana, Bo and Cy" from [{name}, ...] */
export function names(list) {
  const all = list.map((w) => w.name);
  if (all.length <= 1) return all.join("");
  return fmt(gettext("%(first)s and %(last)s"), { first: all.slice(0, -1).join(", "), last: all[all.length - 1] });
}

/** @param {number} n */
export function points(n) {
  return `${n > 0 ? "+" : ""}${number(n)}`;
}
