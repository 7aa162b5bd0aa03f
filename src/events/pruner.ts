import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { PeriodicTask } from '../common/periodic-task';
import { APP_CONFIG, AppConfig } from '../config/config';
import { Metrics } from '../metrics/metrics';
import { EventsRepository } from './events.repository';

/** Most events deleted per transaction: each statement stays short, and the relay waits for none long. */
export const PRUNE_CHUNK = 10_000;

/**
 * Event retention, in every instance: every `EVENTS_PRUNE_INTERVAL_MS`, deletes the events older
 * than `EVENTS_RETENTION_DAYS` (0: none), oldest first, `PRUNE_CHUNK` per transaction until none
 * is left (EventsRepository.prune says which are kept whatever their age). Instances take turns
 * through the relay's advisory lock. A reader asking the feed from below what was deleted gets
 * `410 events-expired`. Stopped before the pool closes on shutdown.
 */
@Injectable()
export class EventPruner extends PeriodicTask implements OnApplicationBootstrap {
  constructor(
    private readonly events: EventsRepository,
    private readonly metrics: Metrics,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    super(new Logger('EventPruner'), 'event pruning');
  }

  onApplicationBootstrap(): void {
    if (!this.events.connected || this.config.EVENTS_RETENTION_DAYS === 0) return;
    this.every(this.config.EVENTS_PRUNE_INTERVAL_MS, () => void this.prune());
  }

  /** One pass now (or the one in progress): how many events it deleted; 0 when retention is off. */
  prune(): Promise<number> {
    if (this.stopped || this.config.EVENTS_RETENTION_DAYS === 0) return Promise.resolve(0);
    const pass = (this.running as Promise<number> | undefined) ?? this.pass().finally(() => (this.running = undefined));
    this.running = pass;
    return pass;
  }

  private async pass(): Promise<number> {
    let total = 0;
    try {
      for (;;) {
        const pruned = await this.events.prune(this.config.EVENTS_RETENTION_DAYS, PRUNE_CHUNK);
        total += pruned;
        this.metrics.eventsPruned.inc(pruned);
        if (pruned < PRUNE_CHUNK || this.stopped) break;
      }
      this.succeeded();
    } catch (error) {
      // The next pass retries: an event past its age is only kept a little longer.
      this.failed(error);
    }
    return total;
  }
}
