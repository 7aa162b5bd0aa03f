import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** A pool's connections: open, idle among them, and requests waiting (for a connection, or in a lane's queue). */
export interface ConnectionCounts {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
}

/**
 * Prometheus metrics (prom-client). One registry per app instance so that tests running
 * several apps in one process do not share counters.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'canopy_http_requests_total',
    help: 'HTTP requests by method, route template and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  readonly httpDuration = new Histogram({
    name: 'canopy_http_request_duration_seconds',
    help: 'HTTP request latency by method and route template.',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly balanceOperations = new Counter({
    name: 'canopy_balance_operations_total',
    help: 'Balance operations by action and outcome (applied, refused, replayed).',
    labelNames: ['action', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly groupCommits = new Histogram({
    name: 'canopy_group_commit_size',
    help: 'Balance operations per group (README, "Group commit") by how it ended: one-statement (the operations of a group written by one statement, no transaction), committed (those written by the group\'s transaction), alone (a group of one: the one-statement path), retried (the group failed and each was retried alone).',
    labelNames: ['outcome'] as const,
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [this.registry],
  });

  readonly balanceBatches = new Counter({
    name: 'canopy_balance_batches_total',
    help: 'Balance-operation batches (POST /v1/balance-operations/batch) by how they were written: one-statement (the whole batch by THE posting statement alone, README "Batches"), transaction (the claim, lock and decision of its transaction: a refusal, a replay, a conversion, ...).',
    labelNames: ['path'] as const,
    registers: [this.registry],
  });

  readonly eventsRelayed = new Counter({
    name: 'canopy_events_relayed_total',
    help: 'Outbox rows this instance\'s event relay numbered into the feed (docs/events.md).',
    registers: [this.registry],
  });

  readonly eventRelayFailures = new Counter({
    name: 'canopy_event_relay_failures_total',
    help: 'Event relay passes that failed (retried on the next wake-up; nothing is lost).',
    registers: [this.registry],
  });

  readonly eventsPruned = new Counter({
    name: 'canopy_events_pruned_total',
    help: 'Events this instance deleted from the feed past EVENTS_RETENTION_DAYS (src/events/pruner.ts).',
    registers: [this.registry],
  });

  readonly webhookDeliveriesPruned = new Counter({
    name: 'canopy_webhook_deliveries_pruned_total',
    help: 'Webhook deliveries (no longer pending) this instance deleted with their attempts past EVENTS_RETENTION_DAYS (src/webhooks/deliveries-pruner.ts).',
    registers: [this.registry],
  });

  readonly dbPool: Gauge<'pool' | 'state'>;

  /** One finished HTTP request: `route` is the route template, `elapsedMs` Fastify's elapsedTime. */
  observeRequest(method: string, route: string, status: number, elapsedMs: number): void {
    this.httpRequests.inc({ method, route, status: String(status) });
    this.httpDuration.observe({ method, route }, elapsedMs / 1000);
  }

  /** The database connections Canopy holds, by pool: each reports its counts when /metrics is read. */
  private readonly pools = new Map<string, () => ConnectionCounts | undefined>();

  constructor(pool?: ConnectionCounts) {
    collectDefaultMetrics({ register: this.registry, prefix: 'canopy_' });
    if (pool) this.watchPool('main', () => pool);
    const pools = this.pools;
    this.dbPool = new Gauge({
      name: 'canopy_db_pool_connections',
      help: 'Database connections by pool (main: TypeORM\'s pool; point-reads: the pipelined lanes of reads by key; generic-plans: the pool of statements planned once) and state (total, idle, waiting: requests waiting for a connection, or reads queued on a lane).',
      labelNames: ['pool', 'state'] as const,
      registers: [this.registry],
      collect() {
        for (const [name, counts] of pools) {
          const c = counts() ?? { totalCount: 0, idleCount: 0, waitingCount: 0 };
          this.set({ pool: name, state: 'total' }, c.totalCount);
          this.set({ pool: name, state: 'idle' }, c.idleCount);
          this.set({ pool: name, state: 'waiting' }, c.waitingCount);
        }
      },
    });
  }

  /** Reports a pool's connection counts (undefined: none open yet) under `canopy_db_pool_connections{pool=name}`. */
  watchPool(name: string, counts: () => ConnectionCounts | undefined): void {
    this.pools.set(name, counts);
  }

}
