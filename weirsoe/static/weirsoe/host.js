// `/host/<code>/`: the big screen. Renders the session state; host buttons
// call the REST API, and the phase events that follow update every screen.
import { PartyhubClient, loadIdentity } from "../realtime/partyhub-client.js";
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
  toastError,
} from "../lobby/common.js";
import { reducers } from "./events.js";
import { QUIZ_COUNTDOWN, rerenderAt, revealProgress } from "./quiz.js";

const config = pageConfig();
const code = config.code;
const identity = loadIdentity(code, "host");
const countdown = new Countdown($("countdown"));
const buttons = /** @type {HTMLButtonElement[]} */ ([...document.querySelectorAll(".controls button")]);

const TITLES = {
  lobby: "Waiting for players",
  lie: "Write your lies!",
  question: "The question",
  guess: "Find the truth",
  scores: "Results",
  scoreboard: "Scoreboard",
  finished: "Final ranking",
};

/** @type {PartyhubClient|null} */
let client = null;
let inFlight = false;
/** After a host action: the phase the server said it moved to, until it shows up here. */
let expected = null;

if (!identity) {
  showPhase("nohost");
  $("phase-title").textContent = "No host key in this tab";
  $("status-text").textContent = "Not connected";
} else {
  client = new PartyhubClient({
    code,
    token: identity.token,
    role: "host",
    wsUrl: config.ws_url,
    wsPort: config.ws_port,
    reducers,
  });
  // For the console: partyhub.metrics.snapshot(), partyhub.state, partyhub.ping()
  window.partyhub = client;
  bindStatus(client);
  client.on("state", ({ state }) => render(state));
  client.on("error", toastError);
  client.on("reaction", showReaction);
  client.on("status", (event) => {
    if (event.fatal) $("phase-title").textContent = event.reason;
  });
  for (const button of buttons) {
    button.addEventListener("click", () => act(button.dataset.action));
  }
  client.connect();
  // Lies and guesses come in over REST without an event: poll while they do.
  setInterval(() => {
    const phase = client.state && client.state.phase;
    if (client.status === "connected" && ["lie", "question", "guess"].includes(phase)) {
      client.refresh().catch(() => {});
    }
  }, 2000);
}

/** Which host actions the state allows (the same rules as lobby/services.py). */
function allowed(state) {
  const phase = state ? state.phase : null;
  const players = state ? state.players.length : 0;
  const moreRounds = state ? state.round < state.rounds : false;
  const paused = Boolean(state && state.paused);
  const live = state && !state.closed && phase !== "finished";
  return {
    "start-round":
      !paused && (phase === "lobby" || phase === "scoreboard") && players >= config.min_players && moreRounds,
    "show-question": !paused && phase === "lie",
    "mix-answers": !paused && phase === "question",
    "calculate-scores": !paused && phase === "guess",
    "reveal-scoreboard": !paused && phase === "scores",
    finish: !paused && phase === "scoreboard",
    // Pause and resume exist on servers with game flow controls (pause/, resume/, exit/).
    pause: Boolean(live && phase !== "lobby"),
    exit: Boolean(live),
  };
}

function updateButtons(state) {
  const ok = allowed(state);
  const waiting = inFlight || (expected && state && state.phase !== expected.phase && Date.now() < expected.until);
  for (const button of buttons) {
    button.disabled = Boolean(waiting) || !ok[button.dataset.action];
  }
  $("btn-pause").textContent = state && state.paused ? "Resume" : "Pause";
  const start = $("btn-start-round");
  start.textContent = state && state.round > 0 ? "Next round" : "Start the game";
  for (const button of buttons) {
    button.classList.toggle("primary", !button.disabled && !button.classList.contains("secondary"));
  }
}

async function act(action) {
  if (inFlight) return;
  if (action === "pause" && client.state && client.state.paused) action = "resume";
  if (action === "exit" && !window.confirm("End this game for everyone?")) return;
  inFlight = true;
  updateButtons(client.state);
  try {
    const body = await client.request("POST", action, {});
    if (body.phase && !["pause", "resume", "exit"].includes(action)) {
      expected = { phase: body.phase, until: Date.now() + 3000 };
    }
    // Without a live socket the event will not come: fetch the state instead.
    if (client.status !== "connected" || (body.broadcast && !body.broadcast.ok)) await client.refresh();
    setTimeout(() => {
      if (client.state && expected && client.state.phase !== expected.phase) client.refresh().catch(() => {});
      updateButtons(client.state);
    }, 3100);
  } catch (err) {
    toastError(err);
  } finally {
    inFlight = false;
    updateButtons(client.state);
  }
}

function render(state) {
  if (!state) return;
  if (expected && state.phase === expected.phase) expected = null;
  showPhase(state.phase);
  $("phase-title").textContent = state.paused ? "Paused" : TITLES[state.phase] || state.phase;
  $("round-label").textContent = roundLabel(state);
  const reveal = revealProgress(state, client);
  rerenderAt(reveal.nextAt, () => render(client.state));
  renderPlayers(state, reveal);
  runCountdown(countdown, state, client, QUIZ_COUNTDOWN);
  updateButtons(state);
  const renderers = { lobby, lie, question, guess, scores, scoreboard, finished };
  if (renderers[state.phase]) renderers[state.phase](state, reveal);
}

function renderPlayers(state, reveal) {
  const done = new Set(
    state.phase === "guess" ? state.guesses_submitted : ["lie", "question"].includes(state.phase) ? state.lies_submitted : [],
  );
  // During the reveal: only what the steps reached so far have given.
  const deltas = new Map(
    state.results && ["scores", "scoreboard"].includes(state.phase)
      ? state.results.deltas.map((d) => [d.player_id, reveal.done ? d.delta : reveal.gainedOf(d.player_id)])
      : [],
  );
  $("player-count").textContent = String(state.players.length);
  fill(
    $("players"),
    state.players.map((p) =>
      h(
        "li",
        { className: done.has(p.player_id) ? "player done" : "player", dataset: { playerId: p.player_id } },
        h("span", { className: "player-name" }, p.name),
        done.has(p.player_id) ? h("span", { className: "check", "aria-label": "ready" }, "✓") : null,
        deltas.get(p.player_id) ? h("span", { className: "delta-chip" }, points(deltas.get(p.player_id))) : null,
        h("span", { className: "player-score" }, reveal.scoreOf(p.player_id, p.score).toLocaleString("en")),
      ),
    ),
  );
}

function progress(list, state, verb) {
  const n = list.length;
  const total = state.players.length;
  return `${n} of ${total} ${verb}`;
}

function lobby(state) {
  const missing = config.min_players - state.players.length;
  $("lobby-hint").textContent =
    missing > 0
      ? `Open the link or type the code on your phone. ${missing} more player${missing > 1 ? "s" : ""} needed.`
      : "Everyone in? Press “Start the game”.";
}

function lie(state) {
  $("lie-category").textContent = state.question && state.question.category ? `Category: ${state.question.category}` : "";
  $("lie-progress").textContent = progress(state.lies_submitted, state, "lies in");
}

function question(state) {
  $("question-category").textContent = state.question && state.question.category ? `Category: ${state.question.category}` : "";
  $("question-prompt").textContent = state.question ? state.question.prompt : "";
  $("question-progress").textContent = progress(state.lies_submitted, state, "lies in");
}

function guess(state) {
  $("guess-prompt").textContent = state.question ? state.question.prompt : "";
  fill(
    $("guess-answers"),
    (state.answers || []).map((a) => h("li", { className: "answer", dataset: { answerId: a.id } }, a.text)),
  );
  $("guess-progress").textContent = progress(state.guesses_submitted, state, "guesses in");
}

function names(list) {
  const all = list.map((w) => w.name);
  if (all.length <= 1) return all.join("");
  return `${all.slice(0, -1).join(", ")} and ${all[all.length - 1]}`;
}

function scores(state, reveal) {
  const results = state.results;
  if (!results) return;
  $("scores-prompt").textContent = state.question ? state.question.prompt : "";
  $("scores-truth").textContent = reveal.truthShown || reveal.done ? (results.truth ? results.truth.text : "") : "…";
  if (reveal.steps.length) {
    // Step by step (lies first, the truth last); every answer keeps its place, so nothing jumps.
    const current = reveal.done ? null : reveal.reached[reveal.reached.length - 1];
    fill(
      $("scores-answers"),
      reveal.steps.map((step) => {
        const shown = reveal.reached.includes(step);
        const truth = step.answer.is_truth;
        const who = truth ? step.guessed_by : step.fooled;
        let className = truth ? "result truth" : "result";
        className += shown ? " revealed" : " pending";
        if (step === current) className += " current";
        return h(
          "li",
          { className, dataset: { index: step.index }, "aria-hidden": shown ? "false" : "true" },
          h("span", { className: "result-text" }, step.answer.text),
          h("span", { className: "result-tag" }, truth ? "TRUTH" : `lie by ${names(step.authors)}`),
          h(
            "span",
            { className: "result-picked" },
            truth
              ? who.length ? `found by ${names(who)}` : "found by nobody"
              : who.length ? `fooled ${names(who)}` : "fooled nobody",
          ),
          h(
            "span",
            { className: "result-points" },
            step.points.length ? step.points.map((p) => `${p.name} ${points(p.points)}`).join(" · ") : "no points",
          ),
        );
      }),
    );
  } else {
    // No steps (an older server): the truth first, then the lies that fooled the most people.
    const answers = [...results.answers].sort(
      (a, b) => Number(b.is_truth) - Number(a.is_truth) || b.guessed_by.length - a.guessed_by.length,
    );
    fill(
      $("scores-answers"),
      answers.map((a) =>
        h(
          "li",
          { className: a.is_truth ? "result truth" : "result" },
          h("span", { className: "result-text" }, a.text),
          h("span", { className: "result-tag" }, a.is_truth ? "TRUTH" : `lie by ${names(a.authors)}`),
          h(
            "span",
            { className: "result-picked" },
            a.guessed_by.length ? `picked by ${names(a.guessed_by)}` : "picked by nobody",
          ),
        ),
      ),
    );
  }
  $("scores-summary").classList.toggle("concealed", !reveal.done);
  const byLiar = new Map();
  for (const f of results.fooled) {
    if (!byLiar.has(f.liar_id)) byLiar.set(f.liar_id, { name: f.liar_name, victims: [] });
    byLiar.get(f.liar_id).victims.push({ name: f.victim_name });
  }
  fill(
    $("scores-fooled"),
    byLiar.size
      ? [...byLiar.values()].map((l) => h("li", {}, h("strong", {}, l.name), ` fooled ${names(l.victims)}`))
      : [h("li", { className: "muted" }, "Nobody was fooled this round.")],
  );
}

function rankingRows(tbody, ranking, deltas) {
  fill(
    tbody,
    ranking.map((r) =>
      h(
        "tr",
        { className: r.rank === 1 ? "first" : "" },
        h("td", {}, String(r.rank)),
        h("td", {}, r.name),
        deltas ? h("td", { className: "num" }, points(deltas.get(r.player_id) || 0)) : null,
        h("td", { className: "num" }, r.score.toLocaleString("en")),
      ),
    ),
  );
}

function scoreboard(state) {
  if (!state.ranking) return;
  const deltas = new Map(state.results ? state.results.deltas.map((d) => [d.player_id, d.delta]) : []);
  rankingRows($("scoreboard-table").querySelector("tbody"), state.ranking, deltas);
  $("phase-title").textContent =
    state.round >= state.rounds ? "Scoreboard after the last round" : `Scoreboard after round ${state.round}`;
}

function finished(state) {
  if (!state.ranking) return;
  const winners = state.ranking.filter((r) => r.rank === 1);
  $("winner").textContent = winners.length
    ? `🏆 ${names(winners)} win${winners.length > 1 ? "" : "s"} with ${winners[0].score.toLocaleString("en")} points!`
    : "";
  rankingRows($("final-table").querySelector("tbody"), state.ranking, null);
  fill(
    $("awards"),
    (state.awards || [])
      .filter((a) => a.winners.length)
      .map((a) => h("li", {}, h("strong", {}, a.title), ` ${names(a.winners)} (${a.count})`)),
  );
}

// --- reactions ------------------------------------------------------------

function showReaction(message) {
  const layer = $("reaction-layer");
  const players = (client.state && client.state.players) || [];
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
