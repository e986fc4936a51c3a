/** A counting semaphore for job slots; waiting for a slot ends early (with false) when the signal aborts. */
export class Slots {
  private used = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`slots must be a whole number >= 1, got ${capacity}`);
  }

  get inUse(): number {
    return this.used;
  }

  async acquire(signal: AbortSignal): Promise<boolean> {
    while (this.used >= this.capacity) {
      if (signal.aborted) return false;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          signal.removeEventListener("abort", done);
          resolve();
        };
        this.waiters.push(done);
        signal.addEventListener("abort", done, { once: true });
      });
    }
    if (signal.aborted) return false;
    this.used++;
    return true;
  }

  release(): void {
    this.used = Math.max(0, this.used - 1);
    this.waiters.shift()?.();
  }
}
