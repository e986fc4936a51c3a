/** Job slots: wait until one is free, then take it if still free (several pullers may race for the last one). */
export class Slots {
  private used = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`slots must be a whole number >= 1, got ${capacity}`);
  }

  get inUse(): number {
    return this.used;
  }

  /** Resolves true once a slot is free (without taking it), false if the signal aborts first. */
  async whenFree(signal: AbortSignal): Promise<boolean> {
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
    return !signal.aborted;
  }

  /** Takes a slot if one is free. */
  tryAcquire(): boolean {
    if (this.used >= this.capacity) return false;
    this.used++;
    return true;
  }

  release(): void {
    this.used = Math.max(0, this.used - 1);
    // Every waiter re-checks: whenFree() callers do not take the slot, so waking one could strand the others.
    for (const wake of this.waiters.splice(0)) wake();
  }
}
