import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { createDataSource, migrate } from '../../src/database/data-source';
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres';
import { databaseUrl, TestDatabaseInfo } from './test-database';
import { freePort } from './free-port';

/**
 * One PostgreSQL for the whole run: DATABASE_URL when set, otherwise an embedded one in a
 * temporary directory. Migrations are applied once into a template database; each test file
 * then gets its own copy (CREATE DATABASE ... TEMPLATE).
 */
export default async function globalSetup(): Promise<void> {
  const runId = `${process.pid}_${Date.now().toString(36)}`;
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    const dir = mkdtempSync(path.join(tmpdir(), 'canopy-test-pg-'));
    chmodSync(dir, 0o755); // ours: the postgres user may enter it (otherwise the helper moves the data)
    const embedded = await startEmbeddedPostgres({
      dataDir: path.join(dir, 'data'),
      port: await freePort(),
      persistent: false,
      // From a clone the postgres user cannot enter (as root), the one line saying where it went.
      notice: (m) => process.stderr.write(`${m}\n`),
    });
    (globalThis as Record<string, unknown>).__canopyEmbedded = embedded;
    adminUrl = embedded.adminUrl;
  }
  const template = `canopy_tpl_${runId}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${template}"`);
  } finally {
    await admin.end();
  }
  const dataSource = createDataSource(databaseUrl(adminUrl, template), 2);
  await dataSource.initialize();
  try {
    await migrate(dataSource);
  } finally {
    await dataSource.destroy();
  }
  const info: TestDatabaseInfo = { adminUrl, template, prefix: `canopy_t_${runId}_` };
  process.env.CANOPY_TEST_DB = JSON.stringify(info);
}
