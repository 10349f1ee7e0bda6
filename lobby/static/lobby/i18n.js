// The page's language for the platform's and the games' scripts: Django's
// JavaScript catalog (/jsi18n/, loaded by base.html before any module) gives
// the globals gettext, ngettext and interpolate; without it, English as is.
// `manage.py makemessages -d djangojs` finds the gettext("…") and
// ngettext("…", "…", n) calls in the modules that import these.

const catalog = /** @type {any} */ (globalThis);

/** @param {string} text @returns {string} `text` in the page's language */
export function gettext(text) {
  return typeof catalog.gettext === "function" ? catalog.gettext(text) : text;
}

/**
 * @param {string} singular
 * @param {string} plural
 * @param {number} n
 * @returns {string} the form for `n` in the page's language
 */
export function ngettext(singular, plural, n) {
  if (typeof catalog.ngettext === "function") return catalog.ngettext(singular, plural, n);
  return n === 1 ? singular : plural;
}

/**
 * `format` with each `%(name)s` replaced by values[name]:
 * fmt(gettext("Round %(round)s of %(rounds)s"), {round: 1, rounds: 3}).
 * @param {string} format
 * @param {Object<string, *>} values
 * @returns {string}
 */
export function fmt(format, values) {
  return format.replace(/%\((\w+)\)s/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

/** The page's language code (<html lang>), e.g. "da". */
export function language() {
  return document.documentElement.lang || "en";
}

/** A whole number written the page's way: 1,000 in English, 1.000 in Danish. @param {number} n */
export function number(n) {
  return Number(n).toLocaleString(language());
}
