import 'reflect-metadata';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import pino from 'pino';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createApp } from '../../src/app.factory';
import { bootstrapRoot } from '../../src/auth/bootstrap-root';
import { AppConfig, loadConfig } from '../../src/config/config';
import { boundsFromConfig, createDataSource } from '../../src/database/data-source';
import { createTestDatabase, dropTestDatabase, readTestDatabaseInfo } from './test-database';

export interface TestApp {
  app: NestFastifyApplication;
  /** Base URL of the listening server, for fetch-based clients. */
  baseUrl: string;
  http: () => ReturnType<typeof request>;
  dataSource: DataSource;
  config: AppConfig;
  close(): Promise<void>;
}

/** The real app on its own copy of the migrated database, listening on a random port. */
export async function startTestApp(env: Record<string, string> = {}, options: { logger?: pino.Logger } = {}): Promise<TestApp> {
  const info = readTestDatabaseInfo();
  const db = await createTestDatabase(info);
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: db.url,
    JWT_SECRET: 'test-secret-test-secret-test-secret-0123',
    ROOT_LOGIN: 'root',
    ROOT_PASSWORD: 'root-password',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DB_POOL_SIZE: '10',
    PASSWORD_HASH_MEMORY_KIB: '1024',
    PASSWORD_HASH_ITERATIONS: '1',
    ...env,
  });
  const dataSource = createDataSource(db.url, config.DB_POOL_SIZE, boundsFromConfig(config));
  await dataSource.initialize();
  const logger = options.logger ?? pino({ level: config.LOG_LEVEL });
  await bootstrapRoot(dataSource, config, logger);
  const app = await createApp({ config, dataSource, logger });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const baseUrl = await app.getUrl();
  return {
    app,
    baseUrl: baseUrl.replace('[::1]', '127.0.0.1'),
    http: () => request(app.getHttpServer()),
    dataSource,
    config,
    async close() {
      await app.close();
      await dataSource.destroy();
      await dropTestDatabase(info, db.name);
    },
  };
}

/** Another instance of the app (its own pool, committer, relay and workers) on `first`'s database, as behind a load balancer. */
export interface SecondInstance {
  http: () => ReturnType<typeof request>;
  close(): Promise<void>;
}

export async function startSecondInstance(first: TestApp): Promise<SecondInstance> {
  const config = first.config;
  const dataSource = createDataSource(config.DATABASE_URL!, config.DB_POOL_SIZE, boundsFromConfig(config));
  await dataSource.initialize();
  const app = await createApp({ config, dataSource, logger: pino({ level: config.LOG_LEVEL }) });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    http: () => request(app.getHttpServer()),
    async close() {
      await app.close();
      await dataSource.destroy();
    },
  };
}
