import { Logger, OnApplicationBootstrap } from '@nestjs/common';
import { PeriodicTask } from './periodic-task';

/** Most rows deleted per statement: each stays short, and nothing waits for one long. */
export const PRUNE_CHUNK = 10_000;

/**
 * A retention: every `intervalMs`, in every instance, deletes what is older than `retentionDays`
 * (0: keeps everything, and never runs), `PRUNE_CHUNK` rows per statement until a statement
 * deletes fewer. What is deleted, and what is kept whatever its age, is the subclass's
 * `deleteChunk`. The event feed's and the webhook deliveries' (EVENTS_RETENTION_DAYS).
 */
export abstract class RetentionPruner extends PeriodicTask implements OnApplicationBootstrap {
  constructor(
    log: Logger,
    what: string,
    private readonly retentionDays: number,
    private readonly intervalMs: number,
  ) {
    super(log, what);
  }

  /** false without a database (the OpenAPI export): no timer then. */
  protected abstract connected(): boolean;

  /** Deletes up to `limit` rows older than `days` days; how many it deleted. */
  protected abstract deleteChunk(days: number, limit: number): Promise<number>;

  /** Counts rows deleted (a metric). */
  protected abstract counted(rows: number): void;

  onApplicationBootstrap(): void {
    if (!this.connected() || this.retentionDays === 0) return;
    this.every(this.intervalMs, () => void this.prune());
  }

  /** One pass now (or the one in progress): how many rows it deleted; 0 when the retention is off. */
  prune(): Promise<number> {
    if (this.stopped || this.retentionDays === 0) return Promise.resolve(0);
    const pass = (this.running as Promise<number> | undefined) ?? this.pass().finally(() => (this.running = undefined));
    this.running = pass;
    return pass;
  }

  private async pass(): Promise<number> {
    let total = 0;
    try {
      for (;;) {
        const deleted = await this.deleteChunk(this.retentionDays, PRUNE_CHUNK);
        total += deleted;
        this.counted(deleted);
        if (deleted < PRUNE_CHUNK || this.stopped) break;
      }
      this.succeeded();
    } catch (error) {
      // The next pass retries: what is past its age is only kept a little longer.
      this.failed(error);
    }
    return total;
  }
}
