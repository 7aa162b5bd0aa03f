import { Inject, Injectable, Logger } from '@nestjs/common';
import { RetentionPruner } from '../common/retention-pruner';
import { APP_CONFIG, AppConfig } from '../config/config';
import { Metrics } from '../metrics/metrics';
import { WebhookDeliveriesRepository } from './webhook-deliveries.repository';

/**
 * Delivery history is kept as long as events (`EVENTS_RETENTION_DAYS`; 0: for ever): every
 * `EVENTS_PRUNE_INTERVAL_MS`, in every instance, the deliveries made before it that are no
 * longer pending are deleted with their attempts, oldest first. A pending delivery stays until
 * its retries end, whatever its age (and so does its event: src/events/pruner.ts).
 */
@Injectable()
export class WebhookDeliveriesPruner extends RetentionPruner {
  constructor(
    private readonly deliveries: WebhookDeliveriesRepository,
    private readonly metrics: Metrics,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    super(new Logger('WebhookDeliveriesPruner'), 'webhook delivery pruning', config.EVENTS_RETENTION_DAYS, config.EVENTS_PRUNE_INTERVAL_MS);
  }

  protected connected(): boolean {
    return this.deliveries.unscopedConnectionUrl() !== undefined;
  }

  protected deleteChunk(days: number, limit: number): Promise<number> {
    return this.deliveries.unscopedPrune(days, limit);
  }

  protected counted(rows: number): void {
    this.metrics.webhookDeliveriesPruned.inc(rows);
  }
}
