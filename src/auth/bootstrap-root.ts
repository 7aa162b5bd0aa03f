import argon2 from 'argon2';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { AppConfig } from '../config/config';
import { ALL_PERMISSIONS } from '../permissions/permission.catalogue';
import { RootCustomerRepository } from './root-customer.repository';

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
export async function bootstrapRoot(
  dataSource: ConstructorParameters<typeof RootCustomerRepository>[0],
  config: AppConfig,
  logger: Logger,
): Promise<CreatedRoot | undefined> {
  const customers = new RootCustomerRepository(dataSource);
  if (await customers.unscopedRootExists()) return undefined;
  const password = config.ROOT_PASSWORD ?? randomBytes(12).toString('base64url');
  const hash = await argon2.hash(password, {
    type: argon2.argon2id,
    memoryCost: config.PASSWORD_HASH_MEMORY_KIB,
    timeCost: config.PASSWORD_HASH_ITERATIONS,
    parallelism: 1,
  });
  const inserted = await customers.unscopedInsertRoot({
    login: config.ROOT_LOGIN,
    passwordHash: hash,
    baseCurrency: config.BASE_CURRENCY,
    permissions: ALL_PERMISSIONS,
  });
  if (!inserted.length) return undefined;
  logger.info({ login: config.ROOT_LOGIN }, config.ROOT_PASSWORD ? 'root customer created with ROOT_PASSWORD' : 'root customer created with a generated password');
  return { login: config.ROOT_LOGIN, generatedPassword: config.ROOT_PASSWORD ? undefined : password };
}
