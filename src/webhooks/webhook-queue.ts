import { Logger } from '@nestjs/common';
import PgBoss from 'pg-boss';
import type { JobDb } from './webhook-deliveries.repository';

/** The pg-boss queue of delivery attempts. */
export const DELIVERY_QUEUE = 'webhook-delivery';
/** pg-boss's own schema (created and upgraded by pg-boss at start). */
export const JOB_SCHEMA = 'pgboss';

/** One attempt of one delivery. */
export interface DeliveryJob {
  deliveryId: string;
  /** The attempt this job makes (1 for the first). */
  attempt: number;
}

export interface FetchedJob {
  id: string;
  data: DeliveryJob;
}

export interface QueueSettings {
  /** How long a job may run before pg-boss hands it out again (a worker that died: SIGKILL). */
  expireSeconds: number;
}

/**
 * The PostgreSQL job queue (pg-boss 10) the delivery attempts go through. Its jobs are
 * enqueued and completed with our own transactions' connections (`db`), so an attempt's
 * record, its next job and its completion commit together. pg-boss hands each job to one
 * worker (`FOR UPDATE SKIP LOCKED`), and a job whose worker died comes back after its expiry
 * (its retry budget is for such crashes; failed HTTP attempts are new jobs, scheduled by us).
 */
export class WebhookQueue {
  private readonly log = new Logger('WebhookQueue');
  private boss?: PgBoss;

  constructor(private readonly settings: QueueSettings) {}

  async start(connectionString: string): Promise<void> {
    const boss = new PgBoss({
      connectionString,
      schema: JOB_SCHEMA,
      application_name: `canopy-jobs-${process.pid}`,
      max: 4,
      schedule: false,
      supervise: true,
      // Expired jobs (a worker that died) are found by the maintenance run.
      maintenanceIntervalSeconds: Math.max(1, Math.min(60, this.settings.expireSeconds)),
      archiveCompletedAfterSeconds: 3600,
      deleteAfterDays: 7,
    });
    boss.on('error', (error: Error) => this.log.warn(`job queue: ${error.message}`));
    await boss.start();
    for (let attempt = 0; ; attempt++) {
      try {
        await boss.createQueue(DELIVERY_QUEUE, { name: DELIVERY_QUEUE, policy: 'standard', retryLimit: 100, retryDelay: 1, retryBackoff: true });
        break;
      } catch (error) {
        if (attempt >= 3) throw error; // two instances creating it at once: the second finds it made
      }
    }
    this.boss = boss;
  }

  get started(): boolean {
    return this.boss !== undefined;
  }

  /** Enqueues attempts in the transaction `db` runs on. */
  async enqueue(db: JobDb, jobs: Array<DeliveryJob & { startAfter?: Date }>): Promise<void> {
    if (!jobs.length) return;
    await this.required().insert(
      jobs.map(({ startAfter, ...data }) => ({
        name: DELIVERY_QUEUE,
        data,
        expireInSeconds: this.settings.expireSeconds,
        ...(startAfter ? { startAfter: startAfter.toISOString() } : {}),
      })),
      { db: db as PgBoss.Db },
    );
  }

  async fetch(count: number): Promise<FetchedJob[]> {
    return (await this.required().fetch<DeliveryJob>(DELIVERY_QUEUE, { batchSize: count })) as FetchedJob[];
  }

  /** Completes jobs in the transaction `db` runs on. */
  async complete(ids: string[], db: JobDb): Promise<void> {
    if (!ids.length) return;
    // pg-boss's complete(name, ids, data, options): the `db` option is the fourth argument.
    const complete = this.required().complete as unknown as (n: string, ids: string[], data: undefined, o: { db: JobDb }) => Promise<void>;
    await complete.call(this.boss, DELIVERY_QUEUE, ids, undefined, { db });
  }

  /** Hands jobs back for pg-boss's retry (the worker could not record their attempts). */
  async fail(ids: string[], error: unknown): Promise<void> {
    const fail = this.required().fail as unknown as (n: string, ids: string[], data: object) => Promise<void>;
    await fail.call(this.boss, DELIVERY_QUEUE, ids, { message: error instanceof Error ? error.message : String(error) });
  }

  async stop(): Promise<void> {
    const boss = this.boss;
    this.boss = undefined;
    await boss?.stop({ graceful: true, wait: true, timeout: 5000 });
  }

  private required(): PgBoss {
    if (!this.boss) throw new Error('the webhook job queue is not running');
    return this.boss;
  }
}
