import path from 'node:path';
import { Client } from 'pg';
import { AppConfig } from '../config/config';
import { EmbeddedDatabase, startEmbeddedPostgres } from './embedded-postgres';

export interface DatabaseTarget {
  url: string;
  embedded?: EmbeddedDatabase;
}

const EMBEDDED_DATABASE = 'canopy';

/**
 * With DATABASE_URL set, uses it and launches nothing. Without it, starts the embedded
 * PostgreSQL whose data lives in DATA_DIR (./.data by default) and survives restarts.
 */
export async function openDatabaseTarget(config: AppConfig, log: (m: string) => void): Promise<DatabaseTarget> {
  if (config.DATABASE_URL) return { url: config.DATABASE_URL };
  const embedded = await startEmbeddedPostgres({
    dataDir: path.join(config.DATA_DIR, 'pg'),
    port: config.EMBEDDED_PG_PORT,
    persistent: true,
    log: (m) => log(m.trim()),
  });
  const admin = new Client({ connectionString: embedded.adminUrl });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [EMBEDDED_DATABASE]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${EMBEDDED_DATABASE}`);
  } finally {
    await admin.end();
  }
  return { url: embedded.url(EMBEDDED_DATABASE), embedded };
}
