import { DataSource, QueryRunner } from 'typeorm';
import type { Tx } from './writes';

/**
 * A read-only REPEATABLE READ transaction on a connection of its own, held open across
 * awaits that are not database work (e.g. while a streamed response is read): everything
 * read through `tx` sees one snapshot. `close()` ends it and gives the connection back; it
 * may be called any number of times.
 */
export interface ReadSnapshot {
  readonly tx: Tx;
  close(): Promise<void>;
}

export async function openReadSnapshot(dataSource: DataSource): Promise<ReadSnapshot> {
  const runner = dataSource.createQueryRunner();
  try {
    await runner.connect();
    await runner.startTransaction('REPEATABLE READ');
  } catch (error) {
    await close(runner);
    throw error;
  }
  return { tx: runner.manager, close: () => close(runner) };
}

async function close(runner: QueryRunner): Promise<void> {
  if (runner.isReleased) return;
  try {
    if (runner.isTransactionActive) await runner.rollbackTransaction();
  } finally {
    await runner.release();
  }
}
