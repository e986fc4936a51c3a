/**
 * Go `time.Duration` text, as Packer's templates use it (`pause_before`, `timeout`, `ssh_timeout`, ...). Parsing
 * follows `time.ParseDuration` and its error texts; formatting follows `Duration.String()` ("1m30s", "1.5s", "0s"),
 * which Packer prints in messages such as `Setting a 5m0s timeout for the next provisioner...`.
 */

const NS_PER_UNIT: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  "µs": 1e3, // U+00B5 micro sign
  "μs": 1e3, // U+03BC Greek mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** A duration text could not be parsed. `message` is Go's text, e.g. `time: invalid duration "x"`. */
export class DurationSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DurationSyntaxError";
  }
}

/** Go's `strconv.Quote` for the printable ASCII and common escapes that duration errors can contain. */
function quote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '"' || ch === "\\") out += `\\${ch}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\r") out += "\\r";
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

/**
 * Parses a Go duration ("300ms", "-1.5h", "2h45m") into nanoseconds.
 * @throws DurationSyntaxError with Go's message.
 */
export function parseGoDurationNs(text: string): number {
  const invalid = (): DurationSyntaxError => new DurationSyntaxError(`time: invalid duration ${quote(text)}`);
  let s = text;
  let negative = false;
  if (s.startsWith("-") || s.startsWith("+")) {
    negative = s.startsWith("-");
    s = s.slice(1);
  }
  if (s === "0") return 0;
  if (s === "") throw invalid();
  let total = 0;
  while (s !== "") {
    const num = /^(\d*)(?:\.(\d*))?/.exec(s);
    const whole = num?.[1] ?? "";
    const frac = num?.[2];
    if (whole === "" && (frac === undefined || frac === "")) throw invalid();
    s = s.slice(num?.[0].length ?? 0);
    const unitMatch = /^[^\d.]*/.exec(s);
    const unit = unitMatch?.[0] ?? "";
    if (unit === "") throw new DurationSyntaxError(`time: missing unit in duration ${quote(text)}`);
    const scale = NS_PER_UNIT[unit];
    if (scale === undefined) throw new DurationSyntaxError(`time: unknown unit ${quote(unit)} in duration ${quote(text)}`);
    s = s.slice(unit.length);
    total += Number(`${whole === "" ? "0" : whole}.${frac ?? "0"}`) * scale;
  }
  if (!Number.isFinite(total) || total > 2 ** 63) throw invalid();
  return negative ? -total : total;
}

/** Parses a Go duration into milliseconds (kiln's unit for timers). @throws DurationSyntaxError */
export function parseGoDuration(text: string): number {
  return parseGoDurationNs(text) / 1e6;
}

function fmtFrac(value: number, precision: number): string {
  // value is an integer count of 10^-precision units; print it as a decimal without trailing zeros.
  const intPart = Math.floor(value / 10 ** precision);
  let frac = String(value % 10 ** precision).padStart(precision, "0").replace(/0+$/, "");
  if (frac !== "") frac = `.${frac}`;
  return `${intPart}${frac}`;
}

/** Formats nanoseconds like Go's `Duration.String()`: "1h2m3.5s", "1.5s", "100ms", "1µs", "0s". */
export function formatGoDurationNs(ns: number): string {
  let n = Math.round(ns);
  if (n === 0) return "0s";
  const sign = n < 0 ? "-" : "";
  n = Math.abs(n);
  if (n < 1e9) {
    if (n < 1e3) return `${sign}${n}ns`;
    if (n < 1e6) return `${sign}${fmtFrac(n, 3)}µs`;
    return `${sign}${fmtFrac(n, 6)}ms`;
  }
  const hours = Math.floor(n / 3600e9);
  n -= hours * 3600e9;
  const minutes = Math.floor(n / 60e9);
  n -= minutes * 60e9;
  let out = fmtFrac(n, 9) + "s";
  if (hours > 0 || minutes > 0) out = `${minutes}m${out}`;
  if (hours > 0) out = `${hours}h${out}`;
  return sign + out;
}

/** Formats milliseconds like Go's `Duration.String()`. */
export function formatGoDuration(ms: number): string {
  return formatGoDurationNs(ms * 1e6);
}
