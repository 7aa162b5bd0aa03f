import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { Client, Pool, QueryResultRow } from 'pg';
import { DataSource } from 'typeorm';
import type { FindOptions } from './access';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { poolQuery, statementName } from './prepared';
import { shapedQuery } from './shaped-query';
import { Metrics } from '../metrics/metrics';

/** Connections point reads are spread over (one per event-loop turn, in turn). */
const LANES = 2;

interface Lane {
  client: Client;
  /** Resolves once the connection is open; rejects if it could not be opened. */
  ready: Promise<Client>;
  /** Its socket is corked until the end of this event-loop turn. */
  corked: boolean;
  broken: boolean;
  /** Reads sent on it and not yet answered. */
  inFlight: number;
}

/**
 * Point reads: a row by its key, such as a customer or an account by id within the caller's
 * scope (every GET of one record), from many requests at once, PIPELINED on a connection of
 * their own (node-postgres's `pipeline` mode) instead of one pooled connection per read.
 *
 * Taking a pooled connection, writing one statement, waking PostgreSQL for it and reading one
 * answer per request cost more than the lookup itself: a third of Node's profile samples fell
 * in that socket write, and PostgreSQL spent ~60 µs per read, mostly receiving, sending and
 * switching. Here the reads of one event-loop turn (the requests whose sockets were readable
 * together) are written to a connection in ONE write (its socket corked until the turn ends),
 * PostgreSQL reads them in one go and answers each in order. Each read keeps its own Sync: its own implicit
 * transaction, its own snapshot (what a read on its own would see), its own error (a failed
 * read does not touch the others), its own `statement_timeout`.
 *
 * Only short index lookups belong here: reads on a lane are answered in order, so a slow one
 * would hold the ones behind it (pages and reports stay on the pool). Outside a transaction
 * only. A read whose connection fails (a restarted database) is run again on the main pool:
 * reads are safe to repeat. The connections copy the main pool's settings (address, time
 * bounds, type parsers), are opened on the first read and closed with the application.
 */
@Injectable()
export class PointReads implements OnApplicationShutdown {
  private readonly log = new Logger('PointReads');
  private readonly lanes: Array<Lane | undefined> = [];
  /** The lane this event-loop turn's reads go to (undefined between turns). */
  private current?: Lane;
  private turn = 0;
  private closed = false;

  constructor(
    private readonly dataSource: DataSource,
    metrics: Metrics,
  ) {
    // Lanes open, those with no read in flight, and the reads in flight on all of them.
    metrics.watchPool('point-reads', () => {
      const open = this.lanes.filter((lane): lane is Lane => lane !== undefined && !lane.broken);
      return { totalCount: open.length, idleCount: open.filter((lane) => lane.inFlight === 0).length, waitingCount: open.reduce((n, lane) => n + lane.inFlight, 0) };
    });
  }

  /**
   * A repository's lookup of a row by its key (`findVisible`): in the caller's transaction when
   * it holds one, else as a point read. A row lock is taken only inside a transaction: without
   * one it would be released at once, and its wait would hold the reads behind it here.
   */
  async lookup<T extends QueryResultRow>(text: string, values: unknown[], found: Pick<FindOptions, 'tx' | 'lock'>): Promise<T[]> {
    if (found.tx) return found.tx.query(text, values);
    if (found.lock) throw new Error(`a row lock (${found.lock}) is taken inside a transaction`);
    return this.query<T>(text, values);
  }

  async query<T extends QueryResultRow>(text: string, values: unknown[]): Promise<T[]> {
    const name = statementName(text);
    if (!name || this.closed) return poolQuery<T>(this.dataSource, text, values);
    let lane: Lane;
    try {
      lane = await this.laneOfThisTurn();
    } catch {
      return poolQuery<T>(this.dataSource, text, values);
    }
    lane.inFlight++;
    try {
      return await shapedQuery<T>(lane.client, name, text, values, name);
    } catch (error) {
      // PostgreSQL's refusal of the statement (severity ERROR: a timeout, a bad value) stands; a
      // lost connection (no severity, or FATAL: a terminated backend, a shutdown) is retried on the pool.
      if ((error as { severity?: unknown }).severity === 'ERROR') throw error;
      return poolQuery<T>(this.dataSource, text, values);
    } finally {
      lane.inFlight--;
    }
  }

  /** This turn's lane, its socket corked until the turn ends (every read of the turn in one write). */
  private async laneOfThisTurn(): Promise<Lane> {
    let lane = this.current;
    if (!lane || lane.broken) {
      const index = this.turn++ % LANES;
      lane = this.lanes[index];
      if (!lane || lane.broken) lane = this.lanes[index] = this.open(index);
      this.current = lane;
      setImmediate(() => {
        if (this.current === lane) this.current = undefined;
      });
    }
    const client = await lane.ready;
    if (!lane.corked && !lane.broken) {
      const stream = (client as unknown as { connection: { stream: { cork(): void; uncork(): void } } }).connection.stream;
      lane.corked = true;
      stream.cork();
      setImmediate(() => {
        lane.corked = false;
        stream.uncork();
      });
    }
    return lane;
  }

  private open(index: number): Lane {
    const main = (this.dataSource.driver as PostgresDriver).master as Pool & { options: Record<string, unknown> };
    const client = new Client({ ...main.options, application_name: 'canopy-point-reads', pipeline: true } as ConstructorParameters<typeof Client>[0]);
    const lane: Lane = { client, ready: undefined as unknown as Promise<Client>, corked: false, broken: false, inFlight: 0 };
    const drop = (error?: Error) => {
      if (lane.broken) return;
      lane.broken = true;
      if (this.lanes[index] === lane) this.lanes[index] = undefined;
      if (error && !this.closed) this.log.warn(`a point-read connection failed: ${error.message}`);
      client.end().catch(() => undefined);
    };
    client.on('error', drop);
    client.on('end', () => drop());
    lane.ready = client.connect().then(
      () => client,
      (error: Error) => {
        drop(error);
        throw error;
      },
    );
    return lane;
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    const lanes = this.lanes.splice(0);
    await Promise.all(lanes.map((lane) => lane && lane.ready.then((client) => client.end()).catch(() => undefined)));
  }
}
