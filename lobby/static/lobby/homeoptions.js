// The home form's extras (lobby.pages.home): a signed-in host's preset
// picker, and each game's options (packs, categories) as this visitor may
// use them (config.choices, the same lists the server checks against).
import { gettext, h } from "./common.js";

const PACK = "pack";
const PACKS = "packs";

/**
 * The gettext("Start from a preset") row for `game` (signed in, the game has presets).
 * Picking one fills the form with its settings (onPick); what the host then
 * changes overrides the preset (POST /api/sessions/ {"preset": id, ...}).
 */
export function presetRow(game, config, onPick) {
  if (!config.signed_in || !game.presets) return null;
  const mine = config.presets.filter((p) => p.game === game.game);
  if (!mine.length) {
    return h(
      "p",
      { className: "hint", id: "preset-hint" },
      gettext("Keep the settings you use every time as a preset: "),
      h("a", { href: `/presets/new/${game.game}/` }, gettext("new preset")),
      ".",
    );
  }
  const select = h(
    "select",
    { id: "preset", name: "preset" },
    h("option", { value: "" }, gettext("None: the settings below")),
    ...mine.map((p) => h("option", { value: String(p.id) }, p.name)),
  );
  select.addEventListener("change", () => {
    const preset = mine.find((p) => String(p.id) === select.value);
    if (preset) onPick(preset);
  });
  return h(
    "div",
    { className: "select-row" },
    h("label", { htmlFor: "preset" }, gettext("Start from a preset")),
    select,
  );
}

/** One row per option of `game` that offers this visitor a choice. */
export function optionRows(game, config) {
  const offered = config.choices[game.game] || {};
  return (game.options || []).map((option) => {
    const choices = offered[option.name] || [];
    if (option.type === PACK) {
      const own = choices.filter((c) => !c.builtin);
      if (!own.length) return null;
      return h(
        "div",
        { className: "select-row" },
        h("label", { htmlFor: `option-${option.name}` }, option.label),
        h(
          "select",
          { id: `option-${option.name}`, name: option.name, dataset: { option: option.name } },
          h("option", { value: "" }, gettext("The built-in one")),
          ...own.map((c) => h("option", { value: String(c.value) }, c.label)),
        ),
        option.help ? h("p", { className: "hint" }, option.help) : null,
      );
    }
    if (choices.length < (option.type === PACKS ? 2 : 1)) return null;
    return h(
      "fieldset",
      { className: "choice-set", dataset: { option: option.name } },
      h("legend", {}, option.label),
      ...choices.map((c, i) =>
        h(
          "label",
          { className: "chip", htmlFor: `option-${option.name}-${i}` },
          h("input", {
            type: "checkbox",
            id: `option-${option.name}-${i}`,
            name: option.name,
            value: String(c.value),
          }),
          c.label,
        ),
      ),
      option.help ? h("p", { className: "hint" }, option.help) : null,
    );
  });
}

/** The options' values as the form shows them (options not shown: left out). */
export function optionValues(form, game) {
  const values = {};
  for (const option of game.options || []) {
    const inputs = [...form.querySelectorAll(`[name="${option.name}"]`)];
    if (!inputs.length) continue;
    if (option.type === PACK) {
      values[option.name] = inputs[0].value ? Number(inputs[0].value) : null;
      continue;
    }
    const checked = inputs.filter((i) => i.checked).map((i) => i.value);
    values[option.name] = option.type === PACKS ? checked.map(Number) : checked;
  }
  return values;
}

/** Fill the form with a preset's settings and options. */
export function applySettings(form, game, settings) {
  for (const setting of game.settings) {
    const input = form.elements[setting.name];
    if (!input || !(setting.name in settings)) continue;
    if (setting.type === "bool") input.checked = Boolean(settings[setting.name]);
    else input.value = String(settings[setting.name]);
  }
  for (const option of game.options || []) {
    const value = settings[option.name];
    for (const input of form.querySelectorAll(`[name="${option.name}"]`)) {
      if (input.tagName === "SELECT") input.value = value === null ? "" : String(value);
      else input.checked = (value || []).map(String).includes(input.value);
    }
  }
}

/** Headers of a create call: a signed-in visitor's is CSRF-checked. */
export function requestHeaders(config) {
  return config.csrf_token ? { "X-CSRFToken": config.csrf_token } : {};
}
