/**
 * Transfer progress: on a terminal one redrawn line per file (bar, bytes, rate, ETA); otherwise plain lines, one at
 * each quarter, so logs of CI jobs stay readable.
 */
const REDRAW_MS = 100;
const BAR_WIDTH = 24;
/** Plain-line mode reports quarters only for files at least this big; smaller ones get the summary line only. */
const QUARTER_LINES_FROM = 1024 * 1024; // 1 MiB

export function formatBytes(bytes: number): string {
  const n = Math.round(bytes);
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds)) return "--";
  const s = Math.max(0, Math.round(seconds));
  return s >= 3600 ? `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m` : s >= 60 ? `${Math.floor(s / 60)}m${s % 60}s` : `${s}s`;
}

export class TransferProgress {
  private done = 0;
  private lastDraw = 0;
  private nextQuarter = 1;
  private readonly started = Date.now();

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly tty: boolean,
    private readonly write: (text: string) => void,
    /** Bytes already present (a resumed transfer). */
    initial = 0,
  ) {
    this.done = initial;
  }

  add(bytes: number): void {
    this.done += bytes;
    const now = Date.now();
    if (this.tty) {
      if (now - this.lastDraw >= REDRAW_MS) {
        this.lastDraw = now;
        this.write(`\r${this.line(now)}`);
      }
      return;
    }
    while (this.total >= QUARTER_LINES_FROM && this.nextQuarter < 4 && this.done >= (this.total * this.nextQuarter) / 4) {
      this.write(`${this.label}: ${this.nextQuarter * 25}% (${formatBytes(this.done)} of ${formatBytes(this.total)})\n`);
      this.nextQuarter++;
    }
  }

  finish(note: string): void {
    const seconds = Math.max((Date.now() - this.started) / 1000, 0.001);
    const summary = `${this.label}: ${formatBytes(this.done)} in ${seconds.toFixed(1)}s (${formatBytes(this.done / seconds)}/s), ${note}`;
    this.write(this.tty ? `\r\x1b[K${summary}\n` : `${summary}\n`);
  }

  fail(): void {
    if (this.tty) this.write("\n");
  }

  private line(now: number): string {
    const seconds = Math.max((now - this.started) / 1000, 0.001);
    const rate = this.done / seconds;
    const fraction = this.total > 0 ? Math.min(1, this.done / this.total) : 1;
    const filled = Math.round(fraction * BAR_WIDTH);
    const bar = `${"=".repeat(Math.max(0, filled - 1))}${filled > 0 ? ">" : ""}${" ".repeat(BAR_WIDTH - filled)}`;
    const eta = rate > 0 ? (this.total - this.done) / rate : Number.POSITIVE_INFINITY;
    return `${this.label} [${bar}] ${formatBytes(this.done)}/${formatBytes(this.total)} ${formatBytes(rate)}/s ETA ${formatEta(eta)}\x1b[K`;
  }
}
