import { Inject, Injectable, Logger } from '@nestjs/common';
import { RetentionPruner } from '../common/retention-pruner';
import { APP_CONFIG, AppConfig } from '../config/config';
import { Metrics } from '../metrics/metrics';
import { EventsRepository } from './events.repository';

/**
 * Event retention: every `EVENTS_PRUNE_INTERVAL_MS`, the events older than
 * `EVENTS_RETENTION_DAYS` (0: none) are deleted, oldest first (EventsRepository.prune says which
 * are kept whatever their age). Instances take turns through the relay's advisory lock. A
 * reader asking the feed from below what was deleted gets `410 events-expired`.
 */
@Injectable()
export class EventPruner extends RetentionPruner {
  constructor(
    private readonly events: EventsRepository,
    private readonly metrics: Metrics,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    super(new Logger('EventPruner'), 'event pruning', config.EVENTS_RETENTION_DAYS, config.EVENTS_PRUNE_INTERVAL_MS);
  }

  protected connected(): boolean {
    return this.events.connected;
  }

  protected deleteChunk(days: number, limit: number): Promise<number> {
    return this.events.prune(days, limit);
  }

  protected counted(rows: number): void {
    this.metrics.eventsPruned.inc(rows);
  }
}
