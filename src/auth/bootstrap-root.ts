import argon2 from 'argon2';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/config';
import { ALL_PERMISSIONS } from '../permissions/permission.catalogue';

/** What the first start created: the root's login, and its password when it was generated. */
export interface CreatedRoot {
  login: string;
  generatedPassword?: string;
}

/**
 * On first start against an empty database, creates the root customer from ROOT_LOGIN /
 * ROOT_PASSWORD (a generated password is returned, for main to print once). Safe with several
 * instances starting at once: the unique root index lets only one insert win.
 */
export async function bootstrapRoot(dataSource: DataSource, config: AppConfig, logger: Logger): Promise<CreatedRoot | undefined> {
  const existing: unknown[] = await dataSource.query(`SELECT 1 FROM customers WHERE parent_id IS NULL`);
  if (existing.length) return undefined;
  const password = config.ROOT_PASSWORD ?? randomBytes(12).toString('base64url');
  const hash = await argon2.hash(password, {
    type: argon2.argon2id,
    memoryCost: config.PASSWORD_HASH_MEMORY_KIB,
    timeCost: config.PASSWORD_HASH_ITERATIONS,
    parallelism: 1,
  });
  const inserted: unknown[] = await dataSource.query(
    `WITH next AS (SELECT nextval(pg_get_serial_sequence('customers', 'node_id')) AS node_id)
     INSERT INTO customers (node_id, parent_id, path, depth, name, time_zone, language, web_login, web_password_hash, base_currency, permissions)
     OVERRIDING SYSTEM VALUE
     SELECT node_id, NULL, '/' || node_id || '/', 0, 'Root', 'UTC', 'en', $1, $2, $3, $4 FROM next
     ON CONFLICT DO NOTHING
     RETURNING id`,
    [config.ROOT_LOGIN, hash, config.BASE_CURRENCY, ALL_PERMISSIONS],
  );
  if (!inserted.length) return undefined;
  logger.info({ login: config.ROOT_LOGIN }, config.ROOT_PASSWORD ? 'root customer created with ROOT_PASSWORD' : 'root customer created with a generated password');
  return { login: config.ROOT_LOGIN, generatedPassword: config.ROOT_PASSWORD ? undefined : password };
}
