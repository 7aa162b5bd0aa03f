import type { PoolClient } from 'pg';
import { DataSource, EntityManager } from 'typeorm';
import type { PostgresQueryRunner } from 'typeorm/driver/postgres/PostgresQueryRunner';
import { sqlState } from './sql';

const RETRYABLE = new Set(['40001', '40P01']); // serialization_failure, deadlock_detected
const MAX_ATTEMPTS = 5;

/** `once`, retried a bounded number of times on serialization failures and deadlocks. */
async function withRetries<T>(once: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await once();
    } catch (error) {
      if (attempt >= MAX_ATTEMPTS || !RETRYABLE.has(sqlState(error) ?? '')) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * 2 ** attempt));
    }
  }
}

/** One transaction, retried a bounded number of times on serialization failures and deadlocks. */
export async function inTransaction<T>(dataSource: DataSource, work: (manager: EntityManager) => Promise<T>): Promise<T> {
  return withRetries(() => dataSource.transaction(work));
}

/**
 * Where a pipelined transaction stands on its connection: whether its BEGIN has been sent (with
 * its first statement), and whether its COMMIT has (with the statement that asked for it).
 */
export class Pipeline {
  begun = false;
  committed = false;

  /**
   * What the next statement carries: BEGIN when none was sent yet, COMMIT when it asks. None may
   * follow the COMMIT: it would run outside the transaction.
   */
  next(commit: boolean): { begin: boolean; commit: boolean } {
    if (this.committed) throw new Error('a statement after the pipelined transaction committed');
    const begin = !this.begun;
    this.begun = true;
    if (commit) this.committed = true;
    return { begin, commit };
  }
}

const pipelines = new WeakMap<PoolClient, Pipeline>();

/** The pipelined transaction running on `connection`, if any (prepared.ts sends its BEGIN and COMMIT). */
export function pipelineOf(connection: PoolClient): Pipeline | undefined {
  return pipelines.get(connection);
}

/**
 * A transaction whose BEGIN goes to PostgreSQL in the same round trip as its first statement,
 * and whose COMMIT may go with its last (`preparedQuery(…, { commit: true })`): two round trips
 * fewer than `inTransaction`, for the group commit of postings (README, "Group commit"). A
 * statement that fails stops PostgreSQL before the COMMIT sent with it, and the transaction is
 * rolled back here. A statement through TypeORM (not `preparedQuery`) sends BEGIN on its own
 * first. When no statement asked to commit, COMMIT is sent after `work`. Retried as
 * `inTransaction` is.
 */
export async function pipelinedTransaction<T>(dataSource: DataSource, work: (manager: EntityManager) => Promise<T>): Promise<T> {
  return withRetries(async () => {
    const runner = dataSource.createQueryRunner() as PostgresQueryRunner;
    const connection = (await runner.connect()) as PoolClient;
    const pipeline = new Pipeline();
    pipelines.set(connection, pipeline);
    const query = runner.query.bind(runner);
    runner.query = (async (text: string, values?: unknown[], structured?: boolean) => {
      if (pipeline.next(false).begin) await query('BEGIN');
      return query(text, values, structured as false);
    }) as typeof runner.query;
    try {
      const result = await work(runner.manager);
      if (pipeline.begun && !pipeline.committed) await query('COMMIT');
      return result;
    } catch (error) {
      // Harmless when the COMMIT had gone through (a warning: no transaction in progress).
      if (pipeline.begun) await query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      pipelines.delete(connection);
      await runner.release();
    }
  });
}
