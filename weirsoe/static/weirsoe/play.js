// `/play/<code>/`: a player's phone. Join by name (the token stays in
// sessionStorage, so a reload rejoins as the same player), write a lie, pick
// an answer, see results; emoji reactions go to the big screen.
import {
  PartyhubClient,
  apiRequest,
  forgetIdentity,
  loadIdentity,
  saveIdentity,
} from "../realtime/partyhub-client.js";
import {
  $,
  Countdown,
  bindStatus,
  fill,
  h,
  pageConfig,
  points,
  roundLabel,
  runCountdown,
  showPhase,
  toast,
  toastError,
} from "../lobby/common.js";
import { reducers } from "./events.js";
import { QUIZ_COUNTDOWN, rerenderAt, revealProgress } from "./quiz.js";

const config = pageConfig();
const code = config.code;
const countdown = new Countdown($("countdown"));

/** @type {PartyhubClient|null} */
let client = null;
/** "phase:round" of the state that came with the last `you` (own lie, guess). */
let youKey = null;
let choicesKey = null;

const TITLES = {
  lobby: "Get ready",
  lie: "Write a lie",
  question: "Write a lie",
  guess: "Pick the truth",
  scores: "Results",
  scoreboard: "Scoreboard",
  finished: "Game over",
};

const identity = loadIdentity(code, "player");
if (identity) start(identity);
else showJoin();

// --- joining ------------------------------------------------------------------

async function showJoin() {
  showPhase("join");
  $("phase-title").textContent = `Join game ${code}`;
  try {
    const state = await apiRequest("GET", `/api/sessions/${code}/`);
    if (state.phase !== "lobby") gone("This game has already started, so no one can join now.");
    else $("name").focus();
  } catch (err) {
    if (err.code === "SESSION_NOT_FOUND") gone(`There is no game with code ${code}.`);
    else toastError(err);
  }
}

function gone(text) {
  showPhase("gone");
  $("phase-title").textContent = "Can't join";
  $("gone-text").textContent = text;
}

$("join-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = /** @type {HTMLButtonElement} */ ($("join-button"));
  button.disabled = true;
  try {
    const name = /** @type {HTMLInputElement} */ ($("name")).value.trim();
    const joined = await apiRequest("POST", `/api/sessions/${code}/join/`, { body: { name } });
    const me = { token: joined.session_token, player_id: joined.player_id, name: joined.name };
    saveIdentity(code, "player", me);
    start(me);
  } catch (err) {
    toastError(err);
  } finally {
    button.disabled = false;
  }
});

// --- playing --------------------------------------------------------------------

function start(me) {
  client = new PartyhubClient({
    code,
    token: me.token,
    role: "player",
    wsUrl: config.ws_url,
    wsPort: config.ws_port,
    reducers,
  });
  // For the console: partyhub.metrics.snapshot(), partyhub.state, partyhub.ping()
  window.partyhub = client;
  bindStatus(client);
  $("me").hidden = false;
  $("me-name").textContent = me.name;
  $("reaction-bar").hidden = false;
  $("phase-title").textContent = "Connecting…";
  client.on("state", (event) => {
    if (event.cause === "refresh") youKey = stateKey(event.state);
    render();
  });
  // `you` (own lie, own answers, guess) comes over REST: ask after every
  // (re)connect and every phase change.
  client.on("session.state", () => refreshYou());
  client.on("*", (message) => {
    if (message.type.startsWith("phase.")) refreshYou();
  });
  client.on("error", toastError);
  client.on("status", (event) => {
    if (!event.fatal) return;
    if (event.code === 4003) {
      forgetIdentity(code, "player");
      toast("Your player key is not valid for this game any more.");
      client.close();
      showJoin();
    } else {
      gone(event.reason);
    }
  });
  client.connect();
}

function refreshYou() {
  client.refresh().catch(toastError);
}

const stateKey = (state) => (state ? `${state.phase}:${state.round}` : null);

function render() {
  const state = client.state;
  if (!state) return;
  const you = client.you;
  const fresh = youKey === stateKey(state) ? you : null;
  showPhase(state.phase === "question" ? "lie" : state.phase);
  $("phase-title").textContent = state.paused ? "Paused" : TITLES[state.phase] || state.phase;
  $("round-label").textContent = roundLabel(state);
  const me = state.players.find((p) => p.player_id === myId());
  const reveal = revealProgress(state, client);
  rerenderAt(reveal.nextAt, render);
  $("me-score").textContent = (me ? reveal.scoreOf(me.player_id, me.score) : 0).toLocaleString("en");
  if (me) $("me-name").textContent = me.name;
  runCountdown(countdown, state, client, QUIZ_COUNTDOWN);
  const renderers = { lobby, lie, question: lie, guess, scores, scoreboard, finished };
  if (renderers[state.phase]) renderers[state.phase](state, fresh, reveal);
}

function myId() {
  if (client.welcome && client.welcome.player_id) return client.welcome.player_id;
  const saved = loadIdentity(code, "player");
  return saved ? saved.player_id : null;
}

function lobby(state) {
  fill(
    $("lobby-players"),
    state.players.map((p) => h("li", { className: p.player_id === myId() ? "player me-row" : "player" }, p.name)),
  );
}

let lieRound = null;

function lie(state, you) {
  if (lieRound !== state.round) {
    lieRound = state.round;
    /** @type {HTMLInputElement} */ ($("lie")).value = "";
  }
  $("lie-category").textContent = state.question && state.question.category ? `Category: ${state.question.category}` : "";
  $("lie-prompt").textContent = state.question ? state.question.prompt : "";
  const mine = you && you.lie;
  $("lie-button").textContent = mine ? "Change my lie" : "Send lie";
  $("lie-status").textContent = mine ? `Your lie: “${mine}”. You can change it until the answers are mixed.` : "";
}

$("lie-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = /** @type {HTMLInputElement} */ ($("lie"));
  const button = /** @type {HTMLButtonElement} */ ($("lie-button"));
  button.disabled = true;
  try {
    const body = await client.request("POST", "lies", { text: input.value });
    $("lie-status").textContent = `Your lie: “${body.text}”. You can change it until the answers are mixed.`;
    input.value = "";
    await client.refresh();
  } catch (err) {
    toastError(err);
  } finally {
    button.disabled = false;
  }
});

function guess(state, you) {
  $("guess-prompt").textContent = state.question ? state.question.prompt : "";
  const box = $("guess-choices");
  const status = $("guess-status");
  if (!you) {
    // Until we know which answers are our own lie, offer none.
    if (choicesKey !== "loading") fill(box, [h("p", { className: "muted" }, "Loading the answers…")]);
    choicesKey = "loading";
    status.textContent = "";
    return;
  }
  const own = new Set(you.own_answer_ids);
  const offered = (state.answers || []).filter((a) => !own.has(a.id));
  const key = JSON.stringify([state.round, offered, you.guess]);
  if (key === choicesKey) return;
  choicesKey = key;
  fill(
    box,
    offered.map((a) => {
      const button = h(
        "button",
        {
          type: "button",
          className: a.id === you.guess ? "choice chosen" : "choice",
          disabled: you.guess !== null,
          dataset: { answerId: a.id },
          "aria-pressed": String(a.id === you.guess),
        },
        a.text,
      );
      button.addEventListener("click", () => pick(a, button));
      return button;
    }),
  );
  const chosen = (state.answers || []).find((a) => a.id === you.guess);
  status.textContent = chosen ? `You picked “${chosen.text}”. Waiting for the others…` : "";
}

async function pick(answer, button) {
  for (const b of $("guess-choices").querySelectorAll("button")) b.disabled = true;
  button.classList.add("chosen");
  try {
    await client.request("POST", "guesses", { answer_id: answer.id });
    $("guess-status").textContent = `You picked “${answer.text}”. Waiting for the others…`;
    await client.refresh();
  } catch (err) {
    toastError(err);
    choicesKey = null;
    client.refresh().catch(() => {});
  }
}

function names(list) {
  const all = list.map((w) => w.name);
  if (all.length <= 1) return all.join("");
  return `${all.slice(0, -1).join(", ")} and ${all[all.length - 1]}`;
}

function scores(state, _fresh, reveal) {
  const results = state.results;
  if (!results) return;
  const id = myId();
  // During the reveal a line appears once the step of its answer is reached.
  const shown = (answer) => reveal.done || reveal.reached.some((s) => s.answer.id === answer.id);
  $("result-truth").textContent = reveal.done || reveal.truthShown ? (results.truth ? results.truth.text : "") : "…";
  const lines = [];
  const picked = results.answers.find((a) => a.guessed_by.some((w) => w.player_id === id));
  if (!picked) lines.push(h("li", {}, "You didn't pick an answer."));
  else if (!shown(picked)) lines.push(h("li", { className: "waiting" }, "Your pick: wait for it…"));
  else if (picked.is_truth) lines.push(h("li", { className: "good" }, "You found the truth!"));
  else lines.push(h("li", { className: "bad" }, `You fell for ${names(picked.authors)}'s lie “${picked.text}”.`));
  const mine = results.answers.find((a) => a.authors.some((w) => w.player_id === id));
  if (!mine) lines.push(h("li", {}, "You didn't write a lie."));
  else if (!shown(mine)) lines.push(h("li", { className: "waiting" }, `Your lie “${mine.text}”: wait for it…`));
  else {
    const victims = mine.guessed_by.filter((w) => w.player_id !== id);
    lines.push(
      victims.length
        ? h("li", { className: "good" }, `Your lie “${mine.text}” fooled ${names(victims)}.`)
        : h("li", {}, `Nobody fell for your lie “${mine.text}”.`),
    );
  }
  fill($("my-results"), lines);
  const delta = results.deltas.find((d) => d.player_id === id);
  const gained = reveal.done ? (delta ? delta.delta : 0) : reveal.gainedOf(id);
  const total = delta ? reveal.scoreOf(id, delta.score) : 0;
  $("my-delta").textContent = delta ? `${points(gained)} this round · ${total.toLocaleString("en")} in total` : "";
}

function rankingList(el, ranking) {
  const id = myId();
  fill(
    el,
    ranking.map((r) =>
      h(
        "li",
        { className: r.player_id === id ? "me-row" : "" },
        h("span", { className: "rank" }, `#${r.rank}`),
        h("span", { className: "rank-name" }, r.name),
        h("span", { className: "rank-score" }, r.score.toLocaleString("en")),
      ),
    ),
  );
}

function myRank(state) {
  return (state.ranking || []).find((r) => r.player_id === myId());
}

function scoreboard(state) {
  if (!state.ranking) return;
  const mine = myRank(state);
  $("my-rank").textContent = mine ? `You are #${mine.rank} with ${mine.score.toLocaleString("en")} points.` : "";
  rankingList($("ranking-list"), state.ranking);
}

function finished(state) {
  if (!state.ranking) return;
  const mine = myRank(state);
  $("final-place").textContent = mine
    ? mine.rank === 1
      ? `🏆 You won with ${mine.score.toLocaleString("en")} points!`
      : `You finished #${mine.rank} with ${mine.score.toLocaleString("en")} points.`
    : "";
  rankingList($("final-list"), state.ranking);
}

// --- reactions --------------------------------------------------------------------

let lastReaction = 0;
for (const button of document.querySelectorAll("#reaction-bar .reaction")) {
  button.addEventListener("click", () => {
    if (!client || Date.now() - lastReaction < 300) return;
    lastReaction = Date.now();
    client.send({ type: "reaction", emoji: button.dataset.emoji });
    button.classList.remove("sent");
    void button.offsetWidth; // restart the little pop animation
    button.classList.add("sent");
  });
}
