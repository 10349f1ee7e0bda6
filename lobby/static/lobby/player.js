// A player's phone, for every game (templates/lobby/play_base.html): join
// by name (the token stays on this device, in localStorage, until the game
// ends: closing the tab or the browser and opening the link again continues
// as the same player), the connection, the lobby, the scoreboard, game over,
// leaving, reactions, and the device's part (wake lock, sound, vibration:
// device.js). The game's module calls playerPage() and draws its own phases
// in `render`.
import { apiRequest, forgetIdentity, loadIdentity, saveIdentity } from "../realtime/partyhub-client.js";
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
  number,
  pageConfig,
  roundLabel,
  showPhase,
  toast,
  toastError,
} from "./common.js";

const TITLES = { lobby: gettext("Get ready"), scoreboard: gettext("Scoreboard"), finished: gettext("Game over") };

/**
 * @typedef {Object} PlayerPageOptions
 * @property {Function[]} [reducers]  the game's reducers (the platform's is added last)
 * @property {Object<string, string>} [titles]  phase -> title on the phone
 * @property {(state: Object) => string} [section]  which data-phase section shows (default: the phase)
 * @property {(page: PlayerPage) => void} [render]  draw the game's phases (after the platform's)
 * @property {(page: PlayerPage) => void} [onStart]  subscribe to the client once it exists
 */

/** The page's client and who this phone is. */
export class PlayerPage {
  /** @param {PlayerPageOptions} options */
  constructor(options) {
    this.options = options;
    this.config = pageConfig();
    this.code = this.config.code;
    /** @type {import("../realtime/partyhub-client.js").PartyhubClient|null} */
    this.client = null;
    this.identity = loadIdentity(this.code, "player");
    this.device = pageDevice("player");
  }

  /** This player's id (from the welcome, else the saved identity). */
  myId() {
    if (this.client && this.client.welcome && this.client.welcome.player_id) return this.client.welcome.player_id;
    return this.identity ? this.identity.player_id : null;
  }

  /** This player's entry of state.players, if any. */
  me(state) {
    return ((state && state.players) || []).find((p) => p.player_id === this.myId()) || null;
  }

  /** This player's ranking entry, if any. */
  myRank(state) {
    return ((state && state.ranking) || []).find((r) => r.player_id === this.myId()) || null;
  }

  run() {
    this._bindJoin();
    this._bindLeave();
    this._bindReactions();
    if (this.identity) this.start(this.identity);
    else this.showJoin();
  }

  async showJoin() {
    showPhase("join");
    $("phase-title").textContent = fmt(gettext("Join game %(code)s"), { code: this.code });
    try {
      const state = await apiRequest("GET", `/api/sessions/${this.code}/`);
      if (state.phase === "finished" || state.closed) this.gone(gettext("This game is over."));
      else if (state.phase !== "lobby") this.gone(gettext("This game has already started, so no one can join now."));
      else $("name").focus();
    } catch (err) {
      if (err.code === "SESSION_NOT_FOUND") this.gone(fmt(gettext("There is no game with code %(code)s."), { code: this.code }));
      else toastError(err);
    }
  }

  /** Show the "can't play here" section with `text`. */
  gone(text) {
    showPhase("gone");
    this.device.stop();
    $("phase-title").textContent = gettext("Can't join");
    $("gone-text").textContent = text;
    $("reaction-bar").hidden = true;
    $("leave-row").hidden = true;
  }

  _bindJoin() {
    $("join-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = /** @type {HTMLButtonElement} */ ($("join-button"));
      button.disabled = true;
      try {
        const name = /** @type {HTMLInputElement} */ ($("name")).value.trim();
        const joined = await apiRequest("POST", `/api/sessions/${this.code}/join/`, { body: { name } });
        const me = { token: joined.session_token, player_id: joined.player_id, name: joined.name };
        saveIdentity(this.code, "player", me);
        this.start(me);
      } catch (err) {
        toastError(err);
      } finally {
        button.disabled = false;
      }
    });
  }

  /** Connect as `me` and keep the page in step with the game. */
  start(me) {
    this.identity = me;
    const reducers = [...(this.options.reducers || []), platformReducer];
    const client = gameClient(me.token, "player", reducers);
    this.client = client;
    // For the console: partyhub.metrics.snapshot(), partyhub.state, partyhub.ping()
    window.partyhub = client;
    bindStatus(client);
    $("me").hidden = false;
    $("me-name").textContent = me.name;
    $("reaction-bar").hidden = false;
    $("leave-row").hidden = false;
    $("phase-title").textContent = gettext("Connecting…");
    // The game's handlers first: they see each change before the page is drawn.
    if (this.options.onStart) this.options.onStart(this);
    client.on("state", () => this.render());
    client.on("error", toastError);
    client.on("status", (event) => {
      this.device.update(client.state, client.status === "connected");
      if (!event.fatal) return;
      // The game is gone for this player: nothing to come back to.
      forgetIdentity(this.code, "player");
      if (event.code === 4003 || event.code === 4001) {
        client.close();
        if (event.code === 4001) {
          this.gone(gettext("You left this game."));
          return;
        }
        toast(gettext("Your player key is not valid for this game any more."));
        this.showJoin();
      } else {
        this.gone(event.reason);
      }
    });
    client.connect();
  }

  render() {
    const state = this.client && this.client.state;
    if (!state) return;
    const section = this.options.section ? this.options.section(state) : state.phase;
    showPhase(section);
    document.body.dataset.gamePhase = state.phase;
    this.device.update(state, this.client.status === "connected");
    // The game is over: this device stops offering to continue it.
    if (state.phase === "finished" || state.closed) forgetIdentity(this.code, "player");
    const titles = { ...TITLES, ...(this.options.titles || {}) };
    $("phase-title").textContent = state.paused ? gettext("Paused") : titles[state.phase] || state.phase;
    $("round-label").textContent = roundLabel(state);
    const me = this.me(state);
    $("me-score").textContent = number(me ? me.score : 0);
    if (me) $("me-name").textContent = me.name;
    $("leave-row").hidden = state.phase === "finished";
    if (state.phase === "lobby") this._lobby(state);
    if (state.phase === "scoreboard") this._scoreboard(state);
    if (state.phase === "finished") this._finished(state);
    if (this.options.render) this.options.render(this);
  }

  _lobby(state) {
    fill(
      $("lobby-players"),
      state.players.map((p) => h("li", { className: p.player_id === this.myId() ? "player me-row" : "player" }, p.name)),
    );
  }

  _rankingList(el, ranking) {
    const id = this.myId();
    fill(
      el,
      ranking.map((r) =>
        h(
          "li",
          { className: r.player_id === id ? "me-row" : "" },
          h("span", { className: "rank" }, `#${r.rank}`),
          h("span", { className: "rank-name" }, r.name),
          h("span", { className: "rank-score" }, number(r.score)),
        ),
      ),
    );
  }

  _scoreboard(state) {
    if (!state.ranking) return;
    const mine = this.myRank(state);
    $("my-rank").textContent = mine
      ? fmt(gettext("You are #%(rank)s with %(points)s points."), { rank: mine.rank, points: number(mine.score) })
      : "";
    this._rankingList($("ranking-list"), state.ranking);
  }

  _finished(state) {
    if (!state.ranking) return;
    const mine = this.myRank(state);
    $("final-place").textContent = mine
      ? mine.rank === 1
        ? `🏆 ${fmt(gettext("You won with %(points)s points!"), { points: number(mine.score) })}`
        : fmt(gettext("You finished #%(rank)s with %(points)s points."), { rank: mine.rank, points: number(mine.score) })
      : "";
    this._rankingList($("final-list"), state.ranking);
  }

  _bindLeave() {
    $("leave-button").addEventListener("click", async () => {
      if (!this.client) return;
      const lobby = this.client.state && this.client.state.phase === "lobby";
      const question = lobby
        ? gettext("Leave this game? You can join again while it is in the lobby.")
        : gettext("Leave this game? You cannot come back in.");
      if (!window.confirm(question)) return;
      try {
        await this.client.request("POST", "leave", {});
        forgetIdentity(this.code, "player");
        this.client.close();
        this.gone(gettext("You left this game."));
      } catch (err) {
        toastError(err);
      }
    });
  }

  _bindReactions() {
    let last = 0;
    for (const button of document.querySelectorAll("#reaction-bar .reaction")) {
      button.addEventListener("click", () => {
        if (!this.client || Date.now() - last < 300) return;
        last = Date.now();
        this.client.send({ type: "reaction", emoji: button.dataset.emoji });
        button.classList.remove("sent");
        void button.offsetWidth; // restart the little pop animation
        button.classList.add("sent");
      });
    }
  }
}

/**
 * Start a player page; returns it (its client exists once the player is in).
 * @param {PlayerPageOptions} options
 */
export function playerPage(options) {
  const page = new PlayerPage(options);
  page.run();
  return page;
}
