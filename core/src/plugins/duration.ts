/**
 * Go `time.Duration` text, as Packer's templates use it (`pause_before`, `timeout`, `ssh_timeout`, ...), in the
 * units plugins and the agent work in (numbers of nanoseconds or milliseconds). Parsing and formatting are the
 * template module's exact `time.ParseDuration` / `Duration.String()` (../template/go_compat.ts), with Go's error
 * texts (`time: invalid duration "x"`); formatting gives Packer's messages such as `Setting a 5m0s timeout for the
 * next provisioner...`.
 */
import { GoDurationError, goDurationString, goParseDuration } from "../template/go_compat.js";

/** A duration text could not be parsed. `message` is Go's text, e.g. `time: invalid duration "x"`. */
export { GoDurationError as DurationSyntaxError };

/**
 * Parses a Go duration ("300ms", "-1.5h", "2h45m") into nanoseconds.
 * @throws DurationSyntaxError with Go's message.
 */
export function parseGoDurationNs(text: string): number {
  return Number(goParseDuration(text));
}

/** Parses a Go duration into milliseconds (kiln's unit for timers). @throws DurationSyntaxError */
export function parseGoDuration(text: string): number {
  return parseGoDurationNs(text) / 1e6;
}

/** Formats nanoseconds like Go's `Duration.String()`: "1h2m3.5s", "1.5s", "100ms", "1µs", "0s". */
export function formatGoDurationNs(ns: number): string {
  return goDurationString(BigInt(Math.round(ns)));
}

/** Formats milliseconds like Go's `Duration.String()`. */
export function formatGoDuration(ms: number): string {
  return formatGoDurationNs(ms * 1e6);
}
