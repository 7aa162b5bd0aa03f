import { BeforeApplicationShutdown, Logger } from '@nestjs/common';

/**
 * A background task of every instance, run every interval and on demand, one pass at a time:
 * its timer (unref'd: it never keeps the process alive), its stop before the pool closes on
 * shutdown (the pass in progress is awaited), and its failures logged once per run of them
 * (the first failure, then the recovery). The event relay and the event pruner are two.
 */
export abstract class PeriodicTask implements BeforeApplicationShutdown {
  protected stopped = false;
  /** The pass in progress. */
  protected running?: Promise<unknown>;
  private timer?: NodeJS.Timeout;
  private failing = false;

  constructor(
    protected readonly log: Logger,
    /** What the log calls it: "event relay". */
    private readonly what: string,
  ) {}

  /** Runs `tick` every `intervalMs`. */
  protected every(intervalMs: number, tick: () => void): void {
    this.timer = setInterval(tick, intervalMs);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** A pass went through: says so if the ones before failed. */
  protected succeeded(): void {
    if (this.failing) this.log.log(`${this.what} recovered`);
    this.failing = false;
  }

  /** A pass failed (the next one retries): logged if the one before did not fail too. */
  protected failed(error: unknown): void {
    if (!this.failing) this.log.warn(`${this.what} failed: ${error instanceof Error ? error.message : String(error)}`);
    this.failing = true;
  }
}
