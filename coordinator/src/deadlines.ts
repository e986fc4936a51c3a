/**
 * Timers for build deadlines (`-timeout`). Timers live in one coordinator's memory, which is enough because every
 * coordinator schedules every open build's deadline when it starts, and agents enforce the deadline of the jobs they
 * run on their own: a coordinator that dies takes no deadline with it.
 */
export class BuildDeadlines {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  /** `onDeadline` must not throw; failures are its to report. */
  constructor(private readonly onDeadline: (buildId: string) => Promise<void>, private readonly log: (line: string) => void = () => undefined) {}

  schedule(buildId: string, atMs: number): void {
    this.cancel(buildId);
    // setTimeout holds at most 2^31-1 ms (~24.8 days): a later deadline is re-armed in steps.
    const delay = Math.min(Math.max(0, atMs - Date.now()), 2 ** 31 - 1);
    const timer = setTimeout(() => {
      this.timers.delete(buildId);
      if (Date.now() < atMs) {
        this.schedule(buildId, atMs);
        return;
      }
      this.onDeadline(buildId).catch((err: unknown) => this.log(`build ${buildId} deadline: ${String(err)}`));
    }, delay);
    timer.unref();
    this.timers.set(buildId, timer);
  }

  cancel(buildId: string): void {
    clearTimeout(this.timers.get(buildId));
    this.timers.delete(buildId);
  }

  clear(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
