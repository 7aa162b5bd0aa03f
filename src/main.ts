import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type * as AppFactory from './app.factory';
import type * as BootstrapRoot from './auth/bootstrap-root';
import type { CreatedRoot } from './auth/bootstrap-root';
import type * as RequestContext from './common/request-context';
import type * as DataSourceModule from './database/data-source';
import { AppConfig, ConfigError, loadConfig } from './config/config';
import { createLogger } from './common/logging';
import { explainStartupFailure } from './common/startup-error';
import { disablePretenuring, limitHeapGrowth } from './common/heap';
import { DatabaseTarget, openDatabaseTarget } from './database/open-database';

/** Bootstrap only: config, database, migrations, app, listen, graceful shutdown. */
async function main(): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config.LOG_LEVEL);
  limitHeapGrowth(config.HEAP_GROWING_PERCENT);
  disablePretenuring();

  // A signal while starting: leave at once (an embedded PostgreSQL is stopped on exit).
  const leaveWhileStarting = (signal: NodeJS.Signals) => process.exit(signal === 'SIGINT' ? 130 : 143);
  process.on('SIGTERM', leaveWhileStarting);
  process.on('SIGINT', leaveWhileStarting);

  let target: DatabaseTarget | undefined;
  let dataSource: ReturnType<typeof DataSourceModule.createDataSource> | undefined;
  let app: NestFastifyApplication | undefined;
  let root: CreatedRoot | undefined;
  let openRequests: () => number = () => 0;
  try {
    // The database starts (an embedded PostgreSQL boots in its own process) while the
    // application's modules load: the heavy imports come after this line, not at the top.
    const opening = openDatabaseTarget(config, {
      debug: (m) => logger.debug({ context: 'embedded-postgres' }, m),
      info: (m) => logger.info(m),
    });
    opening.catch(() => undefined); // handled below, once the modules are loaded
    const { createApp } = require('./app.factory') as typeof AppFactory;
    const { bootstrapRoot } = require('./auth/bootstrap-root') as typeof BootstrapRoot;
    const { boundsFromConfig, createDataSource, migrate } = require('./database/data-source') as typeof DataSourceModule;
    openRequests = (require('./common/request-context') as typeof RequestContext).openRequests;
    target = await opening;
    if (target.embedded) logger.info(`embedded PostgreSQL running, data in ${target.embedded.dataDir}`);
    dataSource = createDataSource(target.url, config.DB_POOL_SIZE, boundsFromConfig(config));
    await dataSource.initialize();
    const applied = await migrate(dataSource);
    if (applied.length) logger.info({ migrations: applied }, 'migrations applied');
    root = await bootstrapRoot(dataSource, config, logger);
    app = await createApp({ config, dataSource, logger });
    await app.listen({ port: config.PORT, host: config.HOST });
  } catch (error) {
    await app?.close().catch(() => undefined);
    if (dataSource?.isInitialized) await dataSource.destroy().catch(() => undefined);
    await target?.embedded?.stop().catch(() => undefined);
    fail(error, config);
  }
  const port = (app.getHttpServer().address() as AddressInfo | null)?.port ?? config.PORT;
  const shownHost = ['0.0.0.0', '::'].includes(config.HOST) ? 'localhost' : config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST;
  const base = `http://${shownHost}:${port}`;
  let firstStart = '';
  if (root?.generatedPassword) {
    firstStart = ` — first start: log in as "${root.login}" with password "${root.generatedPassword}" (shown once; change it with PATCH /v1/me)`;
  } else if (root) {
    firstStart = ` — first start: log in as "${root.login}" with ROOT_PASSWORD`;
  }
  logger.info(`Canopy is ready: API at ${base}/v1, docs at ${base}/docs${firstStart}`);

  const ready = { app, dataSource, target };
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    // Node's HTTP server counts a connection that has not sent a request yet as busy, so a
    // client holding one open (a pre-connecting proxy, an aborted fetch) would hold close()
    // until its headers timeout. Requests in flight get the grace period; then every
    // connection is cut (an interrupted transaction rolls back; the client retries its key).
    const cutConnections = setTimeout(() => ready.app.getHttpServer().closeAllConnections(), config.SHUTDOWN_GRACE_SECONDS * 1000);
    try {
      await ready.app.close();
      clearTimeout(cutConnections);
      // Requests whose clients hung up may still run their handlers (and hold connections):
      // let them finish, within the grace period, before the pool goes.
      const pool = (ready.dataSource.driver as unknown as { master: { totalCount: number; idleCount: number } }).master;
      const deadline = Date.now() + config.SHUTDOWN_GRACE_SECONDS * 1000;
      while ((openRequests() > 0 || pool.totalCount > pool.idleCount) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await ready.dataSource.destroy();
      await ready.target.embedded?.stop();
      logger.info('stopped');
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'error during shutdown');
      process.exit(1);
    }
  };
  process.off('SIGTERM', leaveWhileStarting);
  process.off('SIGINT', leaveWhileStarting);
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

/** One sentence naming the fix on stderr, never a stack trace (unless LOG_LEVEL asks for one). */
function fail(error: unknown, config?: AppConfig): never {
  const where = { host: config?.HOST ?? '0.0.0.0', port: config?.PORT ?? 3000 };
  process.stderr.write(`Canopy cannot start: ${explainStartupFailure(error, where)}\n`);
  if (config && ['debug', 'trace'].includes(config.LOG_LEVEL) && error instanceof Error && error.stack) {
    process.stderr.write(`${error.stack}\n`);
  }
  process.exit(1);
}

main().catch((error: unknown) => fail(error));
