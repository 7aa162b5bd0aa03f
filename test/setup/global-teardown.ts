import { Client } from 'pg';
import type { EmbeddedDatabase } from '../../src/database/embedded-postgres';
import { readTestDatabaseInfo } from './test-database';

export default async function globalTeardown(): Promise<void> {
  const embedded = (globalThis as Record<string, unknown>).__canopyEmbedded as EmbeddedDatabase | undefined;
  if (embedded) {
    await embedded.stop(); // non-persistent: the data directory goes with it
    return;
  }
  // External server: drop what this run created.
  const info = readTestDatabaseInfo();
  const admin = new Client({ connectionString: info.adminUrl });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE $1 OR datname = $2`,
      [info.prefix + '%', info.template],
    );
    for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}
