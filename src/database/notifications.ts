import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { Client } from 'pg';
import { DataSource } from 'typeorm';

/** The channel the triggers of migration 1764200000000 notify when something a Caller holds changes. */
export const CALLERS_CHANNEL = 'canopy_callers';
/** The transaction-local setting where the same triggers list the changes of the transaction. */
export const CALLERS_CHANGED_SETTING = 'canopy.callers_changed';

const FIRST_RETRY_MS = 100;
const LAST_RETRY_MS = 5000;
const PING_EVERY_MS = 10000;
const PING_TIMEOUT_MS = 5000;

/**
 * Who hears about changed callers (the caller cache). Payloads are the triggers' own:
 * `n:<node id>` (a customer and its subtree), `k:<api key id>`, `c:<customer id>` (its
 * exchange-rate table), `*` (everything).
 */
export interface CallerChangeSubscriber {
  /** Changes committed: by any instance (through the listener), or by this one (at once, after its commit). */
  changed(payloads: readonly string[]): void;
  /** false: the listener is down and notifications may be lost; true: listening (again). */
  listening(up: boolean): void;
}

/**
 * The carrier of caller invalidations: one dedicated connection per instance, outside the
 * pool, that LISTENs on `canopy_callers`. If it drops (or stops answering a ping), the
 * subscriber hears `listening(false)` at once and the listener reconnects with backoff
 * (0.1 s doubling to 5 s), announcing `listening(true)` only once LISTEN is in place again.
 * The write path hands in its own commits' changes (`committed`), so the instance that made a
 * change never waits for its own notification.
 */
@Injectable()
export class CallerChanges implements OnApplicationShutdown {
  private readonly log = new Logger('CallerChanges');
  private subscriber?: CallerChangeSubscriber;
  private client?: Client;
  private up = false;
  private stopped = false;
  private retryMs = FIRST_RETRY_MS;
  private retryTimer?: NodeJS.Timeout;
  private pingTimer?: NodeJS.Timeout;
  /** Other channels heard on the same connection (e.g. the event relay's), by name. */
  private readonly channels = new Map<string, () => void>();
  private connecting = false;

  constructor(private readonly dataSource: DataSource) {}

  get isListening(): boolean {
    return this.up;
  }

  /**
   * Starts listening for `subscriber` (once per instance). Resolves after the first attempt,
   * listening or not (a failed attempt is retried in the background). Without an initialized
   * data source (the OpenAPI export) it does nothing.
   */
  async start(subscriber: CallerChangeSubscriber): Promise<void> {
    if (this.subscriber || !this.dataSource.isInitialized) return;
    this.subscriber = subscriber;
    if (this.up) subscriber.listening(true);
    else await this.ensureConnection();
  }

  /**
   * Also LISTENs on `channel` on the same connection (the event relay's wake-ups): `heard` runs
   * on each notification. A listener down loses them, so users must not depend on them alone
   * (the relay also polls). Without an initialized data source it does nothing.
   */
  async listen(channel: string, heard: () => void): Promise<void> {
    if (!/^[a-z_]+$/.test(channel)) throw new Error(`bad channel name ${channel}`);
    if (!this.dataSource.isInitialized || this.channels.has(channel)) return;
    this.channels.set(channel, heard);
    if (this.up && this.client) await this.client.query(`LISTEN ${channel}`).catch((error: unknown) => this.lost(this.client!, error));
    else await this.ensureConnection();
  }

  private async ensureConnection(): Promise<void> {
    if (this.client || this.connecting) return;
    this.connecting = true;
    try {
      await this.connect();
    } finally {
      this.connecting = false;
    }
  }

  /** The changes `canopy.callers_changed` listed in a transaction this instance just committed. */
  committed(recorded: string | null | undefined): void {
    if (!recorded || !this.subscriber) return;
    const payloads = recorded.split(' ').filter(Boolean);
    if (payloads.length) this.subscriber.changed(payloads);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    const client = this.client;
    this.client = undefined;
    this.setUp(false);
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    clearTimeout(this.retryTimer); // one connection attempt at a time
    const options = this.dataSource.options as { url?: string };
    const client = new Client({
      connectionString: options.url,
      application_name: `canopy-callers-${process.pid}`,
      keepAlive: true,
      connectionTimeoutMillis: PING_TIMEOUT_MS,
      query_timeout: PING_TIMEOUT_MS,
    });
    this.client = client;
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client));
    client.on('notification', (message) => {
      if (client !== this.client) return;
      if (message.channel === CALLERS_CHANNEL && message.payload) this.subscriber?.changed([message.payload]);
      else this.channels.get(message.channel)?.();
    });
    try {
      await client.connect();
      await client.query([CALLERS_CHANNEL, ...this.channels.keys()].map((channel) => `LISTEN ${channel}`).join('; '));
    } catch (error) {
      this.lost(client, error);
      return;
    }
    if (client !== this.client) {
      // lost (or shut down, or replaced) meanwhile
      client.end().catch(() => undefined);
      return;
    }
    this.retryMs = FIRST_RETRY_MS;
    clearInterval(this.pingTimer);
    // A connection that silently stops answering (a cut network) counts as lost too.
    this.pingTimer = setInterval(() => {
      client.query('SELECT 1').catch((error: unknown) => this.lost(client, error));
    }, PING_EVERY_MS);
    this.pingTimer.unref();
    this.setUp(true);
  }

  private lost(client: Client, error?: unknown): void {
    if (client !== this.client) return;
    this.client = undefined;
    clearInterval(this.pingTimer);
    this.setUp(false);
    client.end().catch(() => undefined);
    if (this.stopped) return;
    this.log.warn(`caller notifications lost (${error instanceof Error ? error.message : 'connection ended'}): callers are not cached until listening again`);
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, LAST_RETRY_MS);
    this.retryTimer = setTimeout(() => void this.connect(), delay);
    this.retryTimer.unref();
  }

  private setUp(up: boolean): void {
    // Every loss is announced (even a failed reconnection), so the cache is certainly empty.
    if (up === this.up && up) return;
    this.up = up;
    this.subscriber?.listening(up);
  }
}
