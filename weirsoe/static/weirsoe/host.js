// `/host/<code>/` of the quiz: the platform's big screen (lobby/hostpage.js)
// with the quiz's phases. Host buttons call the REST API, and the phase
// events that follow update every screen.
import { $, Countdown, fill, fmt, gettext, h, names, points, runCountdown } from "../lobby/common.js";
import { hostPage } from "../lobby/hostpage.js";
import { quizReducer } from "./events.js";
import { QUIZ_COUNTDOWN, rerenderAt, revealProgress } from "./quiz.js";

const countdown = new Countdown($("countdown"));

const TITLES = {
  lie: gettext("Write your lies!"),
  question: gettext("The question"),
  guess: gettext("Find the truth"),
  scores: gettext("Results"),
};

/** The quiz's host buttons the state allows (the same rules as weirsoe/actions.py). */
function allowed(state) {
  const phase = state.phase;
  return {
    "show-question": phase === "lie",
    "mix-answers": phase === "question",
    "calculate-scores": phase === "guess",
    "reveal-scoreboard": phase === "scores",
  };
}

/** Who is done this phase; during the reveal, only what the steps reached so far gave. */
function playerMark(state, player, page) {
  const reveal = revealProgress(state, page.client);
  const done =
    state.phase === "guess"
      ? state.guesses_submitted
      : ["lie", "question"].includes(state.phase)
        ? state.lies_submitted
        : [];
  let delta = 0;
  if (state.results && ["scores", "scoreboard"].includes(state.phase)) {
    const row = state.results.deltas.find((d) => d.player_id === player.player_id);
    delta = row ? (reveal.done ? row.delta : reveal.gainedOf(player.player_id)) : 0;
  }
  return { done: done.includes(player.player_id), delta, score: reveal.scoreOf(player.player_id, player.score) };
}

function roundDeltas(state) {
  return new Map(state.results ? state.results.deltas.map((d) => [d.player_id, d.delta]) : []);
}

function render(page) {
  const client = page.client;
  const state = client.state;
  const reveal = revealProgress(state, client);
  rerenderAt(reveal.nextAt, () => page.render());
  runCountdown(countdown, state, client, QUIZ_COUNTDOWN);
  const renderers = { lie, question, guess, scores };
  if (renderers[state.phase]) renderers[state.phase](state, reveal);
}

hostPage({
  reducers: [quizReducer],
  titles: TITLES,
  allowed,
  playerMark,
  roundDeltas,
  // Lies and guesses come in over REST without an event: poll while they do.
  poll: (state) => ["lie", "question", "guess"].includes(state.phase),
  render,
});

/** "2 of 3 lies in": `format` with %(done)s and %(all)s. */
function progress(list, state, format) {
  return fmt(format, { done: list.length, all: state.players.length });
}

/** "Category: …" of the question, or "". */
function category(state) {
  return state.question && state.question.category
    ? fmt(gettext("Category: %(category)s"), state.question)
    : "";
}

function lie(state) {
  $("lie-category").textContent = category(state);
  $("lie-progress").textContent = progress(state.lies_submitted, state, gettext("%(done)s of %(all)s lies in"));
}

function question(state) {
  $("question-category").textContent = category(state);
  $("question-prompt").textContent = state.question ? state.question.prompt : "";
  $("question-progress").textContent = progress(state.lies_submitted, state, gettext("%(done)s of %(all)s lies in"));
}

function guess(state) {
  $("guess-prompt").textContent = state.question ? state.question.prompt : "";
  fill(
    $("guess-answers"),
    (state.answers || []).map((a) => h("li", { className: "answer", dataset: { answerId: a.id } }, a.text)),
  );
  $("guess-progress").textContent = progress(state.guesses_submitted, state, gettext("%(done)s of %(all)s guesses in"));
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
          h("span", { className: "result-tag" }, truth ? gettext("TRUTH") : lieBy(step.authors)),
          h(
            "span",
            { className: "result-picked" },
            truth
              ? who.length ? fmt(gettext("found by %(names)s"), { names: names(who) }) : gettext("found by nobody")
              : who.length ? fmt(gettext("fooled %(names)s"), { names: names(who) }) : gettext("fooled nobody"),
          ),
          h(
            "span",
            { className: "result-points" },
            step.points.length ? step.points.map((p) => `${p.name} ${points(p.points)}`).join(" · ") : gettext("no points"),
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
          h("span", { className: "result-tag" }, a.is_truth ? gettext("TRUTH") : lieBy(a.authors)),
          h(
            "span",
            { className: "result-picked" },
            a.guessed_by.length ? fmt(gettext("picked by %(names)s"), { names: names(a.guessed_by) }) : gettext("picked by nobody"),
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
      ? [...byLiar.values()].map((l) =>
          h("li", {}, h("strong", {}, l.name), " ", fmt(gettext("fooled %(names)s"), { names: names(l.victims) })),
        )
      : [h("li", { className: "muted" }, gettext("Nobody was fooled this round."))],
  );
}

/** "lie by Ana and Bo" */
function lieBy(authors) {
  return fmt(gettext("lie by %(names)s"), { names: names(authors) });
}
