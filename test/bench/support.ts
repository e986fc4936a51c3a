// What the benchmark needs from the other components, through their entry modules.
export { connectFarm, NatsServer, validateTemplate } from "../../core/src/mod.js";
export { codecs as codecsForBench } from "../../proto/src/mod.js";

/** The middle value (the upper one of an even count); NaN for none. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}
