// Text of numbers and equations, written exactly as convcore writes them (convcore.equation),
// so that what the page shows can be compared with the core character for character.

const MINUS = "\u2212";

function minus(text) {
  return text.replaceAll("-", MINUS);
}

// Python's format(v, ".4g"): 4 significant digits, rounded half to even on the exact binary
// value, fixed notation for exponents -4..3, else d.ddde±XX; trailing zeros dropped.
function formatG4(v) {
  const sign = v < 0 ? "-" : "";
  const [mant, expText] = Math.abs(v).toExponential(60).split("e");
  let digits = mant.replace(".", "");
  let exp = Number(expText);
  const head = digits.slice(0, 4);
  const rest = digits.slice(4);
  let up = false;
  if (rest[0] > "5") up = true;
  else if (rest[0] === "5") {
    const tie = /^50*$/.test(rest);
    up = !tie || Number(head[3]) % 2 === 1;
  }
  let n = Number(head) + (up ? 1 : 0);
  if (n === 10000) {
    n = 1000;
    exp += 1;
  }
  digits = String(n);
  if (exp >= -4 && exp < 4) {
    let text;
    if (exp >= 0) {
      const int = digits.slice(0, exp + 1);
      const frac = digits.slice(exp + 1).replace(/0+$/, "");
      text = frac ? `${int}.${frac}` : int;
    } else {
      const frac = ("0".repeat(-exp - 1) + digits).replace(/0+$/, "");
      text = `0.${frac}`;
    }
    return sign + text;
  }
  const frac = digits.slice(1).replace(/0+$/, "");
  const e = String(Math.abs(exp)).padStart(2, "0");
  return `${sign}${digits[0]}${frac ? "." + frac : ""}e${exp < 0 ? "-" : "+"}${e}`;
}

// A number as a learner would write it: 2, −1.5, 0.333 (convcore's own formatting).
export function fmt(v) {
  v = Number(v);
  if (v === 0) return "0";
  if (Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : `${MINUS}inf`;
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return minus(v.toFixed(0));
  return minus(formatG4(v));
}

export function idx(coords) {
  return coords.join(",");
}

// One step's arithmetic, as convcore.equation(trace_step(...)) writes it.
// taps: [{channel, inputIndex, isPad, weightIndex, x, w}] in the core's order;
// value: the core's output value.
export function equationText(outIndex, bias, taps, value, maxTerms) {
  const terms = [`b(${fmt(bias)})`];
  for (const t of taps.slice(0, maxTerms)) {
    const name = t.isPad ? "pad" : "x";
    terms.push(`${name}[${t.channel},${idx(t.inputIndex)}]\u00b7w[${idx(t.weightIndex)}] ` +
               `(${fmt(t.x)}\u00b7${fmt(t.w)})`);
  }
  const rest = taps.slice(maxTerms);
  if (rest.length) {
    let sum = 0;
    for (const t of rest) sum += t.x * t.w;
    terms.push(`\u2026 ${rest.length} more terms (\u03a3 ${fmt(sum)})`);
  }
  return `out[${idx(outIndex)}] = ${terms.join(" + ")} = ${fmt(value)}`;
}
