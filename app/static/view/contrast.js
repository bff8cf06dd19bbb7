// Colour arithmetic for text that must stay legible (WCAG 2.x: contrast ratio >= 4.5:1): a
// colour's relative luminance, the contrast of two colours, colours composed over each other,
// and the ink, black or white, for text on a fill.  Black or white always reaches
// sqrt(21) ~ 4.58:1 on an opaque fill: the better of the two is the ink.

// "rgb(1,2,3)" / "rgba(1,2,3,0.5)" / "#abc" / "#aabbcc" -> [r, g, b, a] (a in 0..1)
export function parseColor(text) {
  const s = String(text).trim();
  if (s[0] === "#") {
    const h = s.length === 4 ? s.slice(1).split("").map((x) => x + x).join("") : s.slice(1, 7);
    return [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16)).concat([1]);
  }
  const v = s.slice(s.indexOf("(") + 1, s.indexOf(")")).split(",").map(Number);
  return [v[0], v[1], v[2], v.length > 3 ? v[3] : 1];
}

function linear(c) {
  const x = c / 255;
  return x <= 0.04045 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
}

// WCAG's relative luminance of an sRGB colour [r, g, b] (0..255)
export function luminance(rgb) {
  return 0.2126 * linear(rgb[0]) + 0.7152 * linear(rgb[1]) + 0.0722 * linear(rgb[2]);
}

export function contrastRatio(a, b) {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

// Above this luminance black ink contrasts more than white: (L + .05)² = .05 · 1.05.
const BLACK_FROM = Math.sqrt(0.05 * 1.05) - 0.05;

// The ink for text on an opaque fill [r, g, b]: "#000" or "#fff", whichever contrasts more.
export function inkOn(rgb) {
  return luminance(rgb) >= BLACK_FROM ? "#000" : "#fff";
}

// `over` ([r, g, b, a], a in 0..1) composed onto the opaque `under` ([r, g, b]).
export function over(under, top) {
  const a = top[3];
  return [0, 1, 2].map((i) => under[i] * (1 - a) + top[i] * a);
}
