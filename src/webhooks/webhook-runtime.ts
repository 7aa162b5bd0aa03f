import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/config';
import { Writes } from '../database/writes';
import { deliveryBody } from './event-body';
import { DeliveryStatus, DeliveryWork, RecordedAttempt, WebhookDeliveriesRepository } from './webhook-deliveries.repository';
import { WebhookEndpointsRepository } from './webhook-endpoints.repository';
import { FetchedJob, WebhookQueue } from './webhook-queue';
import { AttemptOutcome, WebhookSender } from './webhook-sender';
import { toWebhookEndpointDto } from './webhook-view';

/** Events read per dispatcher transaction. */
const DISPATCH_BATCH = 1000;
/** Most jobs one worker batch takes (read, sent concurrently, recorded in one transaction). */
const FETCH_BATCH = 100;

const isSuccess = (outcome: AttemptOutcome) => outcome.statusCode !== null && outcome.statusCode >= 200 && outcome.statusCode < 300;
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
  private jobsInFlight = 0;

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
    const wait = Math.min(this.config.WEBHOOK_TIMEOUT_MS + 1000, this.config.SHUTDOWN_GRACE_SECONDS * 1000);
    await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((r) => setTimeout(r, wait).unref())]);
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
        while (!this.stopped && this.jobsInFlight < this.config.WEBHOOK_CONCURRENCY) {
          const wanted = Math.min(FETCH_BATCH, this.config.WEBHOOK_CONCURRENCY - this.jobsInFlight);
          const jobs = await this.queue.fetch(wanted);
          this.maybeMoreJobs = jobs.length === wanted;
          if (!jobs.length) break;
          this.jobsInFlight += jobs.length;
          const running: Promise<void> = this.runBatch(jobs).finally(() => {
            this.jobsInFlight -= jobs.length;
            this.inFlight.delete(running);
            if (this.maybeMoreJobs) this.wakeWorker();
          });
          this.inFlight.add(running);
          if (jobs.length < wanted) break;
        }
      } while (this.pumpAgain && !this.stopped);
    } catch (error) {
      if (!this.stopped) this.log.warn(`webhook worker: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      this.pumping = false;
    }
  }

  /**
   * A batch of jobs, each one attempt of one delivery: read together, sent concurrently, and
   * recorded together in one transaction (the attempts, the deliveries' states, the
   * endpoints' failure records, the next attempts' jobs and the completion of these jobs).
   */
  private async runBatch(jobs: FetchedJob[]): Promise<void> {
    try {
      const works = new Map((await this.deliveries.unscopedWork(jobs.map((j) => j.data.deliveryId))).map((w) => [w.id, w]));
      const done: string[] = []; // jobs with nothing to send: already recorded (a job run twice) or gone
      const abandoned: string[] = [];
      const sends: Array<{ job: FetchedJob; work: DeliveryWork }> = [];
      for (const job of jobs) {
        const work = works.get(job.data.deliveryId);
        if (!work || work.status !== 'pending' || work.attempt_count >= job.data.attempt) done.push(job.id);
        else if (work.endpoint_deleted || work.endpoint_status !== 'enabled') {
          abandoned.push(work.id);
          done.push(job.id);
        } else sends.push({ job, work });
      }
      await this.deliveries.unscopedAbandon(abandoned);
      const outcomes = await Promise.all(sends.map(({ work }) => this.sender.send(work.url, work.secret, work.event_id, deliveryBody(work))));
      const attempts: RecordedAttempt[] = sends.map(({ job, work }, i) => ({
        id: work.id,
        n: job.data.attempt,
        ...this.nextStep(isSuccess(outcomes[i]), job.data.attempt, work.created_at, outcomes[i]),
        ...outcomes[i],
      }));
      const failing = await this.writes.unauditedTransaction(async (tx) => {
        const db = this.deliveries.jobDb(tx);
        const recorded = await this.deliveries.unscopedRecordAttempts(tx, attempts);
        // Each endpoint's last recorded outcome in this batch decides its failure record.
        const last = new Map<string, { ok: boolean; at: Date }>();
        sends.forEach(({ work }, i) => {
          if (recorded.has(work.id)) last.set(work.endpoint_id, { ok: isSuccess(outcomes[i]), at: outcomes[i].attemptedAt });
        });
        const succeeded = [...last].filter(([, o]) => o.ok).map(([id]) => id);
        const failed = [...last].filter(([, o]) => !o.ok).map(([endpointId, o]) => ({ endpointId, at: o.at }));
        const since = await this.deliveries.unscopedNoteOutcomes(tx, succeeded, failed);
        await this.queue.enqueue(
          db,
          attempts.filter((a) => recorded.has(a.id) && a.status === 'pending').map((a) => ({ deliveryId: a.id, attempt: a.n + 1, startAfter: a.nextAttemptAt! })),
        );
        await this.queue.complete([...done, ...sends.map((s) => s.job.id)], db);
        return since;
      });
      const limit = this.config.WEBHOOK_DISABLE_AFTER_HOURS * HOUR_MS;
      for (const endpoint of failing) {
        if (Date.now() - new Date(endpoint.failing_since).getTime() >= limit) await this.disable(endpoint.id, new Date(endpoint.failing_since));
      }
    } catch (error) {
      if (this.stopped) return; // the jobs come back after their expiry
      this.log.warn(`webhook deliveries: ${error instanceof Error ? error.message : String(error)}`);
      await this.queue.fail(jobs.map((j) => j.id), error).catch(() => undefined);
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
    const disabled = await this.writes.change(null, async (tx) => {
      const changed = await this.endpoints.unscopedDisableFailing(tx, endpointId, cutoff, reason);
      if (!changed) return { result: false, audit: [] };
      return {
        result: true,
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
    if (disabled) this.log.warn(`webhook endpoint ${endpointId} disabled: ${reason}`);
  }
}
