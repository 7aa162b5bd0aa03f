import 'reflect-metadata';
import { createApp } from './app.factory';
import { bootstrapRoot } from './auth/bootstrap-root';
import { ConfigError, loadConfig } from './config/config';
import { createLogger } from './common/logging';
import { openRequests } from './common/request-context';
import { boundsFromConfig, createDataSource, migrate } from './database/data-source';
import { openDatabaseTarget } from './database/open-database';

/** Bootstrap only: config, database, migrations, app, listen, graceful shutdown. */
async function main(): Promise<void> {
  let config;
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
  const target = await openDatabaseTarget(config, (m) => logger.debug({ context: 'embedded-postgres' }, m));
  if (target.embedded) logger.info(`embedded PostgreSQL running, data in ${config.DATA_DIR}`);
  const dataSource = createDataSource(target.url, config.DB_POOL_SIZE, boundsFromConfig(config));
  await dataSource.initialize();
  const applied = await migrate(dataSource);
  if (applied.length) logger.info({ migrations: applied }, 'migrations applied');
  await bootstrapRoot(dataSource, config, logger);

  const app = await createApp({ config, dataSource, logger });
  await app.listen({ port: config.PORT, host: config.HOST });
  const shownHost = config.HOST === '0.0.0.0' ? 'localhost' : config.HOST;
  logger.info(`Canopy listening on http://${shownHost}:${config.PORT} — API docs at http://${shownHost}:${config.PORT}/docs`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    // Node's HTTP server counts a connection that has not sent a request yet as busy, so a
    // client holding one open (a pre-connecting proxy, an aborted fetch) would hold close()
    // until its headers timeout. Requests in flight get the grace period; then every
    // connection is cut (an interrupted transaction rolls back; the client retries its key).
    const cutConnections = setTimeout(() => app.getHttpServer().closeAllConnections(), config.SHUTDOWN_GRACE_SECONDS * 1000);
    try {
      await app.close();
      clearTimeout(cutConnections);
      // Requests whose clients hung up may still run their handlers (and hold connections):
      // let them finish, within the grace period, before the pool goes.
      const pool = (dataSource.driver as unknown as { master: { totalCount: number; idleCount: number } }).master;
      const deadline = Date.now() + config.SHUTDOWN_GRACE_SECONDS * 1000;
      while ((openRequests() > 0 || pool.totalCount > pool.idleCount) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await dataSource.destroy();
      await target.embedded?.stop();
      logger.info('stopped');
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'error during shutdown');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error) => {
  process.stderr.write(`Canopy failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
