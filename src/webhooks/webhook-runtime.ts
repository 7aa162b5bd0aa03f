import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/config';
import { Writes } from '../database/writes';
import { deliveryBody } from './event-body';
import { DeliveryStatus, WebhookDeliveriesRepository } from './webhook-deliveries.repository';
import { WebhookEndpointsRepository } from './webhook-endpoints.repository';
import { FetchedJob, WebhookQueue } from './webhook-queue';
import { AttemptOutcome, WebhookSender } from './webhook-sender';
import { toWebhookEndpointDto } from './webhook-view';

/** Events read per dispatcher transaction. */
const DISPATCH_BATCH = 1000;
const HOUR_MS = 3_600_000;

/**
 * Exponential backoff with full jitter: the wait before attempt n+1 after attempt n failed is
 * uniform in [0, min(max, base·2^(n−1))).
 */
export function retryDelayMs(failedAttempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(failedAttempt - 1, 40));
  return Math.floor(random() * ceiling);
}

/**
 * The two background loops of webhooks, in every instance:
 *
 * - the **dispatcher** (one at a time across instances: an advisory lock) reads the feed
 *   (`events`) after its stored position and, in ONE transaction, makes the deliveries of
 *   those events to every matching endpoint, enqueues one job per delivery and advances the
 *   position; woken every WEBHOOK_DISPATCH_INTERVAL_MS;
 * - the **delivery worker** takes jobs from the queue (up to WEBHOOK_CONCURRENCY at once),
 *   makes one signed attempt each and, in one transaction, records the attempt, schedules the
 *   next one (a new job, backoff with jitter) or closes the delivery, and completes the job.
 */
@Injectable()
export class WebhookRuntime implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger('Webhooks');
  readonly queue: WebhookQueue;
  private readonly sender: WebhookSender;
  private stopped = false;
  private dispatchTimer?: NodeJS.Timeout;
  private dispatching?: Promise<void>;
  private pollTimer?: NodeJS.Timeout;
  private pumping = false;
  private pumpAgain = false;
  private maybeMoreJobs = false;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly deliveries: WebhookDeliveriesRepository,
    private readonly endpoints: WebhookEndpointsRepository,
    private readonly writes: Writes,
  ) {
    this.queue = new WebhookQueue({ expireSeconds: config.WEBHOOK_JOB_EXPIRE_SECONDS });
    this.sender = new WebhookSender(config.WEBHOOK_TIMEOUT_MS, config.WEBHOOK_ALLOW_PRIVATE_TARGETS);
  }

  async onApplicationBootstrap(): Promise<void> {
    const url = this.deliveries.unscopedConnectionUrl();
    if (!url) return; // no database (the OpenAPI export)
    await this.queue.start(url);
    this.scheduleDispatch(0);
    if (this.config.WEBHOOK_CONCURRENCY > 0) this.schedulePoll(0);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.dispatchTimer);
    clearTimeout(this.pollTimer);
    await this.dispatching;
    // Attempts in flight end within their timeout; what is cut short comes back after its job's expiry.
    await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((r) => setTimeout(r, this.config.WEBHOOK_TIMEOUT_MS + 1000).unref())]);
    await this.queue.stop().catch((error: unknown) => this.log.warn(`job queue stop: ${String(error)}`));
    this.sender.close();
  }

  /** Runs the dispatcher soon (after a change that made deliveries, or a NOTIFY of new events). */
  wakeDispatcher(): void {
    if (!this.stopped && !this.dispatching) this.scheduleDispatch(0);
  }

  /** Looks for jobs now (after this instance enqueued some). */
  wakeWorker(): void {
    if (this.stopped || this.config.WEBHOOK_CONCURRENCY === 0) return;
    if (this.pumping) this.pumpAgain = true;
    else void this.pump();
  }

  // ---- dispatcher -------------------------------------------------------------------------

  private scheduleDispatch(ms: number): void {
    clearTimeout(this.dispatchTimer);
    if (this.stopped) return;
    this.dispatchTimer = setTimeout(() => {
      this.dispatching = this.dispatch().finally(() => {
        this.dispatching = undefined;
        this.scheduleDispatch(this.config.WEBHOOK_DISPATCH_INTERVAL_MS);
      });
    }, ms);
    this.dispatchTimer.unref();
  }

  private async dispatch(): Promise<void> {
    try {
      for (;;) {
        const step = await this.writes.unauditedTransaction(async (tx) => {
          if (!(await this.deliveries.unscopedTryDispatchLock(tx))) return { events: 0, deliveries: [] as string[] };
          const made = await this.deliveries.unscopedDispatch(tx, DISPATCH_BATCH);
          await this.queue.enqueue(
            this.deliveries.jobDb(tx),
            made.deliveries.map((deliveryId) => ({ deliveryId, attempt: 1 })),
          );
          return made;
        });
        if (step.deliveries.length) this.wakeWorker();
        if (step.events < DISPATCH_BATCH || this.stopped) return;
      }
    } catch (error) {
      if (!this.stopped) this.log.warn(`webhook dispatcher: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  // ---- delivery worker --------------------------------------------------------------------

  private schedulePoll(ms: number): void {
    clearTimeout(this.pollTimer);
    if (this.stopped) return;
    this.pollTimer = setTimeout(() => {
      this.wakeWorker();
      this.schedulePoll(this.config.WEBHOOK_DISPATCH_INTERVAL_MS);
    }, ms);
    this.pollTimer.unref();
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        while (!this.stopped && this.inFlight.size < this.config.WEBHOOK_CONCURRENCY) {
          const wanted = this.config.WEBHOOK_CONCURRENCY - this.inFlight.size;
          const jobs = await this.queue.fetch(wanted);
          this.maybeMoreJobs = jobs.length === wanted;
          for (const job of jobs) {
            const running: Promise<void> = this.run(job).finally(() => {
              this.inFlight.delete(running);
              if (this.maybeMoreJobs) this.wakeWorker();
            });
            this.inFlight.add(running);
          }
          if (jobs.length < wanted) break;
        }
      } while (this.pumpAgain && !this.stopped);
    } catch (error) {
      if (!this.stopped) this.log.warn(`webhook worker: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      this.pumping = false;
    }
  }

  /** One job: one attempt of one delivery. */
  private async run(job: FetchedJob): Promise<void> {
    const { deliveryId, attempt } = job.data;
    try {
      const work = await this.deliveries.unscopedWork(deliveryId);
      if (!work || work.status !== 'pending' || work.attempt_count >= attempt) {
        // Already recorded (this job ran before, its completion lost) or gone: nothing to send.
        await this.queue.complete(job.id, this.deliveries.poolJobDb());
        return;
      }
      if (work.endpoint_deleted || work.endpoint_status !== 'enabled') {
        await this.deliveries.unscopedAbandon(deliveryId);
        await this.queue.complete(job.id, this.deliveries.poolJobDb());
        return;
      }
      const outcome = await this.sender.send(work.url, work.secret, work.event_id, deliveryBody(work));
      const succeeded = outcome.statusCode !== null && outcome.statusCode >= 200 && outcome.statusCode < 300;
      const next = this.nextStep(succeeded, attempt, work.created_at, outcome);
      const failingSince = await this.writes.unauditedTransaction(async (tx) => {
        const db = this.deliveries.jobDb(tx);
        const recorded = await this.deliveries.unscopedRecordAttempt(tx, deliveryId, attempt, outcome, next);
        let since: Date | null = null;
        if (recorded) {
          since = await this.deliveries.unscopedNoteOutcome(tx, work.endpoint_id, succeeded, outcome.attemptedAt);
          if (next.status === 'pending' && next.nextAttemptAt) {
            await this.queue.enqueue(db, [{ deliveryId, attempt: attempt + 1, startAfter: next.nextAttemptAt }]);
          }
        }
        await this.queue.complete(job.id, db);
        return since;
      });
      if (!succeeded && failingSince && Date.now() - failingSince.getTime() >= this.config.WEBHOOK_DISABLE_AFTER_HOURS * HOUR_MS) {
        await this.disable(work.endpoint_id, failingSince);
      }
    } catch (error) {
      if (this.stopped) return; // the job comes back after its expiry
      this.log.warn(`webhook delivery ${deliveryId}: ${error instanceof Error ? error.message : String(error)}`);
      await this.queue.fail(job.id, error).catch(() => undefined);
    }
  }

  /** After an attempt: delivered; or retried after a backoff while within WEBHOOK_RETRY_HOURS of the delivery's creation; or failed. */
  private nextStep(succeeded: boolean, attempt: number, createdAt: Date, outcome: AttemptOutcome): { status: DeliveryStatus; nextAttemptAt: Date | null } {
    if (succeeded) return { status: 'delivered', nextAttemptAt: null };
    const at = new Date(outcome.attemptedAt.getTime() + outcome.durationMs + retryDelayMs(attempt, this.config.WEBHOOK_RETRY_BASE_MS, this.config.WEBHOOK_RETRY_MAX_MS));
    if (at.getTime() - createdAt.getTime() > this.config.WEBHOOK_RETRY_HOURS * HOUR_MS) return { status: 'failed', nextAttemptAt: null };
    return { status: 'pending', nextAttemptAt: at };
  }

  /** Disables an endpoint that has failed continuously for WEBHOOK_DISABLE_AFTER_HOURS (audited, no actor). */
  private async disable(endpointId: string, failingSince: Date): Promise<void> {
    const reason = `Deliveries have failed continuously since ${failingSince.toISOString()}; re-enable with PATCH {"status": "enabled"}.`;
    const cutoff = new Date(Date.now() - this.config.WEBHOOK_DISABLE_AFTER_HOURS * HOUR_MS);
    await this.writes.change(null, async (tx) => {
      const changed = await this.endpoints.unscopedDisableFailing(tx, endpointId, cutoff, reason);
      if (!changed) return { result: undefined, audit: [] };
      return {
        result: undefined,
        audit: {
          action: 'webhook-endpoint.update',
          targetType: 'webhook-endpoint',
          targetId: endpointId,
          subjectPath: changed.after.owner_path,
          before: { ...toWebhookEndpointDto(changed.before) },
          after: { ...toWebhookEndpointDto(changed.after) },
        },
      };
    });
    this.log.warn(`webhook endpoint ${endpointId} disabled: ${reason}`);
  }
}
