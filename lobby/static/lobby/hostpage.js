// The big screen, for every game (templates/lobby/host_base.html): the host
// key check, the connection, the players panel, the lobby, the scoreboard,
// game over, reactions floating up, and the host's buttons: the platform's
// (start-round, finish, pause/resume, exit) and the game's, each enabled by
// the rules (`allowed`). The game's module calls hostPage() and draws its own
// phases in `render`. The host key stays on this device (localStorage) until
// the game ends, so the big screen can be closed and opened again; the host
// link (behind a confirmation) carries it to another device in its #host=…
// fragment, which never reaches a server. The screen stays awake and plays
// the sound cues while the game runs (device.js).
import { forgetIdentity, loadIdentity, saveIdentity } from "../realtime/partyhub-client.js";
import { pageDevice } from "./device.js";
import { platformReducer } from "./platform.js";
import {
  $,
  bindStatus,
  fill,
  fmt,
  gameClient,
  gettext,
  h,
  names,
  ngettext,
  number,
  pageConfig,
  points,
  roundLabel,
  showPhase,
  toastError,
} from "./common.js";

const TITLES = {
  lobby: gettext("Waiting for players"),
  scoreboard: gettext("Scoreboard"),
  finished: gettext("Final ranking"),
};

/**
 * The host key a host link carries (`#host=<token>`), saved on this device
 * and taken out of the address bar; null without one.
 * @param {string} code
 */
function takeHostLink(code) {
  const match = /(?:^#|&)host=([^&]+)/.exec(window.location.hash);
  if (!match) return null;
  const token = decodeURIComponent(match[1]);
  saveIdentity(code, "host", { token });
  history.replaceState(null, "", window.location.pathname + window.location.search);
  return { token };
}

/**
 * @typedef {Object} HostPageOptions
 * @property {Function[]} [reducers]  the game's reducers (the platform's is added last)
 * @property {Object<string, string>} [titles]  phase -> title on the big screen
 * @property {(state: Object) => Object<string, boolean>} [allowed]  the game's buttons -> enabled
 * @property {(state: Object, player: Object, page: HostPage) => {done?: boolean, delta?: number, score?: number}} [playerMark]
 *   how a player shows in the panel now (done: has acted this phase; delta: points this round)
 * @property {(state: Object) => Map<number, number>|null} [roundDeltas]  points of the last round, for the scoreboard
 * @property {(state: Object) => boolean} [poll]  refresh the state every 2 s while true (changes without events)
 * @property {(page: HostPage) => void} [render]  draw the game's phases (after the platform's)
 * @property {(page: HostPage) => void} [onStart]  subscribe to the client once it exists
 */

/** The big screen's client and buttons. */
export class HostPage {
  /** @param {HostPageOptions} options */
  constructor(options) {
    this.options = options;
    this.config = pageConfig();
    this.code = this.config.code;
    this.identity = takeHostLink(this.code) || loadIdentity(this.code, "host");
    /** @type {import("../realtime/partyhub-client.js").PartyhubClient|null} */
    this.client = null;
    this.buttons = /** @type {HTMLButtonElement[]} */ ([...document.querySelectorAll(".controls button")]);
    this.inFlight = false;
    /** After a host action: the phase the server said it moved to, until it shows up here. */
    this.expected = null;
  }

  run() {
    if (!this.identity) {
      this.noHost();
      return;
    }
    this.device = pageDevice("host");
    const reducers = [...(this.options.reducers || []), platformReducer];
    const client = gameClient(this.identity.token, "host", reducers);
    this.client = client;
    // For the console: partyhub.metrics.snapshot(), partyhub.state, partyhub.ping()
    window.partyhub = client;
    bindStatus(client);
    // The game's handlers first: they see each change before the page is drawn.
    if (this.options.onStart) this.options.onStart(this);
    client.on("state", () => this.render());
    client.on("error", toastError);
    client.on("reaction", (message) => this.showReaction(message));
    client.on("status", (event) => {
      this.device.update(client.state, client.status === "connected");
      if (!event.fatal) return;
      if (event.code === 4003) {
        forgetIdentity(this.code, "host");
        client.close();
        this.noHost();
        return;
      }
      if (event.code === 4000 || event.code === 4004) forgetIdentity(this.code, "host");
      this.device.stop();
      $("phase-title").textContent = event.reason;
    });
    this.bindHostLink();
    for (const button of this.buttons) {
      button.addEventListener("click", () => this.act(button.dataset.action));
    }
    client.connect();
    if (this.options.poll) {
      setInterval(() => {
        if (client.status === "connected" && client.state && this.options.poll(client.state)) {
          client.refresh().catch(() => {});
        }
      }, 2000);
    }
  }

  /** This device holds no (valid) host key for the game. */
  noHost() {
    showPhase("nohost");
    $("phase-title").textContent = gettext("No host key on this device");
    $("status-text").textContent = gettext("Not connected");
    $("host-link").hidden = true;
  }

  /** The host link: shown only after a click on "Show the host link". */
  bindHostLink() {
    const url = new URL(`/host/${this.code}/`, this.config.join_url || window.location.href);
    url.hash = `host=${encodeURIComponent(this.identity.token)}`;
    $("host-link-show").addEventListener("click", () => {
      /** @type {HTMLInputElement} */ ($("host-link-url")).value = url.href;
      $("host-link-box").hidden = false;
      $("host-link-show").hidden = true;
      $("host-link-url").focus();
      /** @type {HTMLInputElement} */ ($("host-link-url")).select();
    });
    $("host-link-copy").addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(url.href);
        $("host-link-copy").textContent = gettext("Copied");
      } catch (err) {
        /** @type {HTMLInputElement} */ ($("host-link-url")).select();
      }
    });
    // Closed again: hide the link until asked once more.
    $("host-link").addEventListener("toggle", () => {
      if (/** @type {HTMLDetailsElement} */ ($("host-link")).open) return;
      $("host-link-box").hidden = true;
      $("host-link-show").hidden = false;
      /** @type {HTMLInputElement} */ ($("host-link-url")).value = "";
    });
  }

  /** Which buttons the state allows: the platform's rules, then the game's. */
  allowed(state) {
    const phase = state ? state.phase : null;
    const players = state ? state.players.length : 0;
    const moreRounds = state ? state.round < state.rounds : false;
    const paused = Boolean(state && state.paused);
    const live = state && !state.closed && phase !== "finished";
    const own = state && this.options.allowed ? this.options.allowed(state) : {};
    const ok = { ...own };
    for (const action of Object.keys(ok)) ok[action] = !paused && ok[action];
    return Object.assign(ok, {
      "start-round":
        !paused &&
        (phase === "lobby" || phase === "scoreboard") &&
        players >= (this.config.min_players || 2) &&
        moreRounds,
      finish: !paused && phase === "scoreboard",
      pause: Boolean(live && phase !== "lobby"),
      exit: Boolean(live),
    });
  }

  updateButtons(state) {
    const ok = this.allowed(state);
    const expected = this.expected;
    const waiting = this.inFlight || (expected && state && state.phase !== expected.phase && Date.now() < expected.until);
    for (const button of this.buttons) {
      button.disabled = Boolean(waiting) || !ok[button.dataset.action];
    }
    $("btn-pause").textContent = state && state.paused ? gettext("Resume") : gettext("Pause");
    $("btn-start-round").textContent = state && state.round > 0 ? gettext("Next round") : gettext("Start the game");
    for (const button of this.buttons) {
      button.classList.toggle("primary", !button.disabled && !button.classList.contains("secondary"));
    }
    // A keyboard user's button went disabled under them: focus the first
    // control they can use now, rather than losing focus to the page.
    const lost = !document.activeElement || document.activeElement === document.body;
    if (this.refocus && lost) {
      const next = this.buttons.find((button) => !button.disabled);
      if (next) {
        next.focus();
        this.refocus = false;
      }
    }
  }

  /** Run a host action over REST; the events that follow update every screen. */
  async act(action) {
    const client = this.client;
    if (this.inFlight) return;
    if (action === "pause" && client.state && client.state.paused) action = "resume";
    if (action === "exit" && !window.confirm(gettext("End this game for everyone?"))) return;
    this.refocus = this.buttons.includes(/** @type {any} */ (document.activeElement));
    this.inFlight = true;
    this.updateButtons(client.state);
    try {
      const body = await client.request("POST", action, {});
      if (body.phase && !["pause", "resume", "exit"].includes(action)) {
        this.expected = { phase: body.phase, until: Date.now() + 3000 };
      }
      // Without a live socket the event will not come: fetch the state instead.
      if (client.status !== "connected" || (body.broadcast && !body.broadcast.ok)) await client.refresh();
      setTimeout(() => {
        const expected = this.expected;
        if (client.state && expected && client.state.phase !== expected.phase) client.refresh().catch(() => {});
        this.updateButtons(client.state);
      }, 3100);
    } catch (err) {
      toastError(err);
    } finally {
      this.inFlight = false;
      this.updateButtons(client.state);
    }
  }

  render() {
    const state = this.client && this.client.state;
    if (!state) return;
    if (this.expected && state.phase === this.expected.phase) this.expected = null;
    showPhase(state.phase);
    document.body.dataset.gamePhase = state.phase;
    this.device.update(state, this.client.status === "connected");
    if (state.phase === "finished" || state.closed) forgetIdentity(this.code, "host");
    const titles = { ...TITLES, ...(this.options.titles || {}) };
    $("phase-title").textContent = state.paused ? gettext("Paused") : titles[state.phase] || state.phase;
    $("round-label").textContent = roundLabel(state);
    this.renderPlayers(state);
    this.updateButtons(state);
    if (state.phase === "lobby") this._lobby(state);
    if (state.phase === "scoreboard") this._scoreboard(state);
    if (state.phase === "finished") this._finished(state);
    if (this.options.render) this.options.render(this);
  }

  renderPlayers(state) {
    const mark = this.options.playerMark || (() => ({}));
    $("player-count").textContent = String(state.players.length);
    fill(
      $("players"),
      state.players.map((p) => {
        const { done = false, delta = 0, score = p.score } = mark(state, p, this) || {};
        return h(
          "li",
          { className: done ? "player done" : "player", dataset: { playerId: p.player_id } },
          h("span", { className: "player-name" }, p.name),
          done ? h("span", { className: "check", "aria-label": gettext("ready") }, "✓") : null,
          delta ? h("span", { className: "delta-chip" }, points(delta)) : null,
          h("span", { className: "player-score" }, number(score)),
        );
      }),
    );
  }

  _lobby(state) {
    const missing = (this.config.min_players || 2) - state.players.length;
    $("lobby-hint").textContent =
      missing > 0
        ? fmt(
            ngettext(
              "Scan the QR code, open the link or type the code on your phone. %(missing)s more player needed.",
              "Scan the QR code, open the link or type the code on your phone. %(missing)s more players needed.",
              missing,
            ),
            { missing },
          )
        : gettext("Everyone in? Press “Start the game”.");
  }

  _rankingRows(tbody, ranking, deltas) {
    fill(
      tbody,
      ranking.map((r) =>
        h(
          "tr",
          { className: r.rank === 1 ? "first" : "" },
          h("td", {}, String(r.rank)),
          h("td", {}, r.name),
          deltas ? h("td", { className: "num" }, points(deltas.get(r.player_id) || 0)) : null,
          h("td", { className: "num" }, number(r.score)),
        ),
      ),
    );
  }

  _scoreboard(state) {
    if (!state.ranking) return;
    const deltas = (this.options.roundDeltas && this.options.roundDeltas(state)) || new Map();
    this._rankingRows($("scoreboard-table").querySelector("tbody"), state.ranking, deltas);
    $("phase-title").textContent =
      state.round >= state.rounds
        ? gettext("Scoreboard after the last round")
        : fmt(gettext("Scoreboard after round %(round)s"), state);
  }

  _finished(state) {
    if (!state.ranking) return;
    const winners = state.ranking.filter((r) => r.rank === 1);
    $("winner").textContent = winners.length
      ? `🏆 ${fmt(
          ngettext("%(names)s wins with %(points)s points!", "%(names)s win with %(points)s points!", winners.length),
          { names: names(winners), points: number(winners[0].score) },
        )}`
      : "";
    this._rankingRows($("final-table").querySelector("tbody"), state.ranking, null);
    fill(
      $("awards"),
      (state.awards || [])
        .filter((a) => a.winners.length)
        .map((a) => {
          const title = (this.config.award_titles || {})[a.award] || a.title;
          return h("li", {}, h("strong", {}, title), ` ${names(a.winners)} (${a.count})`);
        }),
    );
  }

  showReaction(message) {
    const layer = $("reaction-layer");
    const players = (this.client.state && this.client.state.players) || [];
    const who = players.find((p) => p.player_id === message.player_id);
    const el = h(
      "span",
      { className: "floating-reaction" },
      h("span", { className: "emoji" }, message.emoji),
      who ? h("span", { className: "who" }, who.name) : null,
    );
    el.style.left = `${5 + Math.random() * 85}%`;
    el.addEventListener("animationend", () => el.remove());
    layer.append(el);
    while (layer.children.length > 40) layer.firstElementChild.remove();
  }
}

/**
 * Start a host page; returns it.
 * @param {HostPageOptions} options
 */
export function hostPage(options) {
  const page = new HostPage(options);
  page.run();
  return page;
}
