/**
 * Go's `time.Time.Format` (reference-time layouts) and the `github.com/jehiah/go-strftime` subset Packer 1.6.6
 * links, both for one UTC instant. Packer renders `isotime`/`strftime` in UTC, so zones always print as UTC/Z/+0000.
 */

const LONG_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"] as const;
const LONG_MONTHS = [
  "January", "February", "March", "April", "May", "June",
  "July", "August", "September", "October", "November", "December",
] as const;

/** Go's RFC3339 layout, `isotime`'s default. */
export const RFC3339 = "2006-01-02T15:04:05Z07:00";

/** The broken-down UTC instant every std chunk reads from. */
interface Civil {
  year: number;
  month: number; // 1..12
  day: number;
  yday: number; // 1..366
  weekday: number; // 0 = Sunday
  hour: number;
  minute: number;
  second: number;
  nanos: number;
}

const CUMULATIVE_DAYS = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334] as const;
const isLeap = (y: number): boolean => y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);

function civil(msIn: number): Civil {
  const ms = Math.floor(msIn);
  const d = new Date(ms);
  const year = d.getUTCFullYear();
  const month = d.getUTCMonth() + 1;
  const day = d.getUTCDate();
  return {
    year,
    month,
    day,
    yday: (CUMULATIVE_DAYS[month - 1] ?? 0) + day + (month > 2 && isLeap(year) ? 1 : 0),
    weekday: d.getUTCDay(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    nanos: (((ms % 1000) + 1000) % 1000) * 1_000_000,
  };
}

/** Go's appendInt(b, x, width): zero-padded to width, sign first. */
function pad(x: number, width: number): string {
  const neg = x < 0;
  const s = String(Math.abs(x)).padStart(width, "0");
  return neg ? "-" + s : s;
}

const isDigitAt = (s: string, i: number): boolean => i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57;
const startsWithLower = (s: string): boolean => s.length > 0 && s.charCodeAt(0) >= 97 && s.charCodeAt(0) <= 122;

type Std =
  | "LongMonth" | "Month" | "NumMonth" | "ZeroMonth" | "LongWeekDay" | "WeekDay" | "Day" | "UnderDay" | "ZeroDay"
  | "UnderYearDay" | "ZeroYearDay" | "Hour" | "Hour12" | "ZeroHour12" | "Minute" | "ZeroMinute" | "Second"
  | "ZeroSecond" | "LongYear" | "Year" | "PM" | "pm" | "TZ" | "ISO8601TZ" | "ISO8601SecondsTZ" | "ISO8601ShortTZ"
  | "ISO8601ColonTZ" | "ISO8601ColonSecondsTZ" | "NumTZ" | "NumSecondsTz" | "NumShortTZ" | "NumColonTZ"
  | "NumColonSecondsTZ";

interface Chunk {
  prefix: string;
  std: Std | { frac: "0" | "9"; digits: number; sep: string } | null;
  suffix: string;
}

const STD0X: readonly Std[] = ["ZeroMonth", "ZeroDay", "ZeroHour12", "ZeroMinute", "ZeroSecond", "Year"];

/** Port of Go's nextStdChunk: finds the first reference-time element in the layout. */
function nextStdChunk(layout: string): Chunk {
  const at = (i: number, s: string): boolean => layout.startsWith(s, i);
  for (let i = 0; i < layout.length; i++) {
    const c = layout[i];
    const cut = (std: Chunk["std"], len: number): Chunk => ({ prefix: layout.slice(0, i), std, suffix: layout.slice(i + len) });
    switch (c) {
      case "J":
        if (at(i, "Jan")) {
          if (at(i, "January")) return cut("LongMonth", 7);
          if (!startsWithLower(layout.slice(i + 3))) return cut("Month", 3);
        }
        break;
      case "M":
        if (at(i, "Mon")) {
          if (at(i, "Monday")) return cut("LongWeekDay", 6);
          if (!startsWithLower(layout.slice(i + 3))) return cut("WeekDay", 3);
        }
        if (at(i, "MST")) return cut("TZ", 3);
        break;
      case "0": {
        const n = layout.charCodeAt(i + 1);
        if (n >= 49 && n <= 54) return cut(STD0X[n - 49] ?? null, 2);
        if (at(i, "002")) return cut("ZeroYearDay", 3);
        break;
      }
      case "1":
        if (at(i, "15")) return cut("Hour", 2);
        return cut("NumMonth", 1);
      case "2":
        if (at(i, "2006")) return cut("LongYear", 4);
        return cut("Day", 1);
      case "_":
        if (layout[i + 1] === "2") {
          // "_2006" is a literal "_" followed by the long year.
          if (at(i + 1, "2006")) return { prefix: layout.slice(0, i + 1), std: "LongYear", suffix: layout.slice(i + 5) };
          return cut("UnderDay", 2);
        }
        if (at(i, "__2")) return cut("UnderYearDay", 3);
        break;
      case "3":
        return cut("Hour12", 1);
      case "4":
        return cut("Minute", 1);
      case "5":
        return cut("Second", 1);
      case "P":
        if (layout[i + 1] === "M") return cut("PM", 2);
        break;
      case "p":
        if (layout[i + 1] === "m") return cut("pm", 2);
        break;
      case "-":
        if (at(i, "-070000")) return cut("NumSecondsTz", 7);
        if (at(i, "-07:00:00")) return cut("NumColonSecondsTZ", 9);
        if (at(i, "-0700")) return cut("NumTZ", 5);
        if (at(i, "-07:00")) return cut("NumColonTZ", 6);
        if (at(i, "-07")) return cut("NumShortTZ", 3);
        break;
      case "Z":
        if (at(i, "Z070000")) return cut("ISO8601SecondsTZ", 7);
        if (at(i, "Z07:00:00")) return cut("ISO8601ColonSecondsTZ", 9);
        if (at(i, "Z0700")) return cut("ISO8601TZ", 5);
        if (at(i, "Z07:00")) return cut("ISO8601ColonTZ", 6);
        if (at(i, "Z07")) return cut("ISO8601ShortTZ", 3);
        break;
      case ".":
      case ",": {
        const ch = layout[i + 1];
        if (ch === "0" || ch === "9") {
          let j = i + 1;
          while (j < layout.length && layout[j] === ch) j++;
          // Only a fractional second if the run of digits ends here.
          if (!isDigitAt(layout, j)) return cut({ frac: ch, digits: j - (i + 1), sep: c }, j - i);
        }
        break;
      }
      default:
        break;
    }
  }
  return { prefix: layout, std: null, suffix: "" };
}

function formatFrac(nanos: number, digits: number, trim: boolean, sep: string): string {
  const n = Math.min(digits, 9);
  let s = String(nanos).padStart(9, "0").slice(0, n);
  if (trim) {
    s = s.replace(/0+$/, "");
    if (s === "") return "";
  }
  return sep + s;
}

function formatStd(std: Std, t: Civil): string {
  switch (std) {
    case "LongMonth": return LONG_MONTHS[t.month - 1] ?? "";
    case "Month": return (LONG_MONTHS[t.month - 1] ?? "").slice(0, 3);
    case "NumMonth": return String(t.month);
    case "ZeroMonth": return pad(t.month, 2);
    case "LongWeekDay": return LONG_DAYS[t.weekday] ?? "";
    case "WeekDay": return (LONG_DAYS[t.weekday] ?? "").slice(0, 3);
    case "Day": return String(t.day);
    case "UnderDay": return t.day < 10 ? " " + String(t.day) : String(t.day);
    case "ZeroDay": return pad(t.day, 2);
    case "UnderYearDay": return String(t.yday).padStart(3, " ");
    case "ZeroYearDay": return pad(t.yday, 3);
    case "Hour": return pad(t.hour, 2);
    case "Hour12": return String(t.hour % 12 === 0 ? 12 : t.hour % 12);
    case "ZeroHour12": return pad(t.hour % 12 === 0 ? 12 : t.hour % 12, 2);
    case "Minute": return String(t.minute);
    case "ZeroMinute": return pad(t.minute, 2);
    case "Second": return String(t.second);
    case "ZeroSecond": return pad(t.second, 2);
    case "LongYear": return pad(t.year, 4);
    case "Year": return pad(((t.year % 100) + 100) % 100, 2);
    case "PM": return t.hour >= 12 ? "PM" : "AM";
    case "pm": return t.hour >= 12 ? "pm" : "am";
    case "TZ": return "UTC";
    case "ISO8601TZ":
    case "ISO8601SecondsTZ":
    case "ISO8601ShortTZ":
    case "ISO8601ColonTZ":
    case "ISO8601ColonSecondsTZ":
      return "Z";
    case "NumTZ": return "+0000";
    case "NumSecondsTz": return "+000000";
    case "NumShortTZ": return "+00";
    case "NumColonTZ": return "+00:00";
    case "NumColonSecondsTZ": return "+00:00:00";
  }
}

/** Go `time.Unix(0, ms*1e6).UTC().Format(layout)`. */
export function formatGoTime(ms: number, layout: string): string {
  const t = civil(ms);
  let out = "";
  let rest = layout;
  while (rest !== "") {
    const { prefix, std, suffix } = nextStdChunk(rest);
    out += prefix;
    if (std === null) break;
    out += typeof std === "string" ? formatStd(std, t) : formatFrac(t.nanos, std.digits, std.frac === "9", std.sep);
    rest = suffix;
  }
  return out;
}

/** The directives go-strftime (as vendored by Packer 1.6.6) knows; every other `%x` is copied literally. */
const STRFTIME: Readonly<Record<string, string>> = {
  B: "January", b: "Jan", m: "01", A: "Monday", a: "Mon", d: "02", H: "15", I: "03", M: "04", S: "05",
  Y: "2006", y: "06", p: "PM", Z: "MST", z: "-0700", L: ".000",
};

/**
 * Packer's `strftime`: a deliberately small strftime. `%j`, `%e`, `%s`, `%c`, ... are NOT expanded by Packer 1.6.6
 * (they print literally), so kiln does not expand them either; a lone trailing `%` prints as `%`.
 */
export function formatStrftime(ms: number, format: string): string {
  let out = "";
  for (let i = 0; i < format.length; ) {
    let ni = format.indexOf("%", i);
    if (ni < 0) ni = format.length;
    out += format.slice(i, ni);
    if (ni + 1 < format.length) {
      const c = format[ni + 1] ?? "";
      const layout = STRFTIME[c];
      if (c === "%") out += "%";
      else if (layout !== undefined) out += formatGoTime(ms, layout);
      else out += "%" + c;
    } else if (ni < format.length) {
      out += "%";
    }
    i = ni + 2;
  }
  return out;
}
