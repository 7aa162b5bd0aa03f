import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { PeriodicTask } from '../common/periodic-task';
import { APP_CONFIG, AppConfig } from '../config/config';
import { Metrics } from '../metrics/metrics';
import { EventsRepository } from './events.repository';

/**
 * The relay, in every instance: every `EVENTS_RELAY_INTERVAL_MS` (the writers send no NOTIFY:
 * its commit-time lock serialized the postings' commits), moves committed outbox rows and
 * ledger entries into `events` (numbered, in batches of `EVENTS_RELAY_BATCH` rows) until none
 * is ready. Instances take turns through an
 * advisory lock; one that finds it taken leaves the work to the holder (and its own next
 * poll). Stopped before the pool closes on shutdown.
 */
@Injectable()
export class EventRelay extends PeriodicTask implements OnApplicationBootstrap {
  private again = false;

  constructor(
    private readonly events: EventsRepository,
    private readonly metrics: Metrics,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    super(new Logger('EventRelay'), 'event relay');
  }

  onApplicationBootstrap(): void {
    if (!this.events.connected) return; // the OpenAPI export
    this.every(this.config.EVENTS_RELAY_INTERVAL_MS, () => this.wake());
    this.wake();
  }

  /** Runs the relay now, or once more after the pass in progress. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.run().finally(() => (this.running = undefined));
  }

  private async run(): Promise<void> {
    const batch = this.config.EVENTS_RELAY_BATCH;
    do {
      this.again = false;
      try {
        const moved = await this.events.relay(batch);
        if (moved?.written) this.metrics.eventsRelayed.inc(moved.written);
        if (moved?.taken === batch) this.again = true; // more may be ready
        this.succeeded();
      } catch (error) {
        // The next wake-up retries (nothing is lost: the rows stay in the outbox, the position in the ledger).
        this.metrics.eventRelayFailures.inc();
        this.failed(error);
        return;
      }
    } while (this.again && !this.stopped);
  }
}
