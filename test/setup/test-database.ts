import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/** Shared between the global setup (which writes it) and every test file (which reads it). */
export interface TestDatabaseInfo {
  adminUrl: string;
  template: string;
  prefix: string;
}

export function readTestDatabaseInfo(): TestDatabaseInfo {
  const raw = process.env.CANOPY_TEST_DB;
  if (!raw) throw new Error('CANOPY_TEST_DB is not set: run the tests with `npm test` (jest globalSetup).');
  return JSON.parse(raw) as TestDatabaseInfo;
}

export function databaseUrl(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = '/' + database;
  return url.toString();
}

/** A fresh database for one test file, copied from the migrated template (no truncation). */
export async function createTestDatabase(info: TestDatabaseInfo): Promise<{ url: string; name: string }> {
  const name = `${info.prefix}${randomBytes(5).toString('hex')}`;
  const admin = new Client({ connectionString: info.adminUrl });
  await admin.connect();
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${info.template}"`);
        break;
      } catch (error) {
        // Two files copying the template at the same instant can collide; try again.
        if (attempt >= 20 || !/being accessed by other users/.test(String(error))) throw error;
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
      }
    }
  } finally {
    await admin.end();
  }
  return { url: databaseUrl(info.adminUrl, name), name };
}

export async function dropTestDatabase(info: TestDatabaseInfo, name: string): Promise<void> {
  const admin = new Client({ connectionString: info.adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/** Runs one statement on a connection of its own to `url` (closed after it): for tests that watch a database beside the app's pools. */
export async function sqlOnce<T>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const db = new Client({ connectionString: url });
  await db.connect();
  try {
    return (await db.query(text, params)).rows as T[];
  } finally {
    await db.end();
  }
}
