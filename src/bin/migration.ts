import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config/config';
import { createDataSource, migrate } from '../database/data-source';
import { openDatabaseTarget } from '../database/open-database';

/**
 * `migration run|revert|generate <Name>` against DATABASE_URL, or the embedded PostgreSQL
 * when it is unset (started and stopped around the command).
 */
async function main(): Promise<void> {
  const [command, name] = process.argv.slice(2);
  const config = loadConfig();
  const target = await openDatabaseTarget(config, { debug: () => undefined, info: (m) => process.stderr.write(`${m}\n`) });
  // An operator's command: no statement or idle bound (a migration may take long).
  const dataSource = createDataSource(target.url, 2, { poolTimeoutMs: 60000, statementTimeoutMs: 0, idleInTransactionTimeoutMs: 0 });
  await dataSource.initialize();
  try {
    if (command === 'run') {
      const applied = await migrate(dataSource);
      process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'nothing to apply\n');
    } else if (command === 'revert') {
      await dataSource.undoLastMigration({ transaction: 'each' });
      process.stdout.write('reverted the last migration\n');
    } else if (command === 'generate') {
      // The schema is hand-written SQL (partial indexes, the "C" collation of paths, the ledger's
      // immutability trigger: things an entity diff cannot express), so "generate" writes a
      // timestamped skeleton to fill in, already in the shape the runner expects.
      if (!name || !/^[A-Z][A-Za-z0-9]+$/.test(name)) throw new Error('usage: migration generate <PascalName>');
      const timestamp = Date.now();
      const file = path.resolve(__dirname, `../../../migrations/${timestamp}-${name}.ts`);
      writeFileSync(
        file,
        `import { MigrationInterface, QueryRunner } from 'typeorm';\n\nexport class ${name}${timestamp} implements MigrationInterface {\n  name = '${name}${timestamp}';\n\n  async up(q: QueryRunner): Promise<void> {\n    await q.query(\`SELECT 1\`);\n  }\n\n  async down(q: QueryRunner): Promise<void> {\n    await q.query(\`SELECT 1\`);\n  }\n}\n`,
      );
      process.stdout.write(`wrote ${file}; write its SQL and add ${name}${timestamp} to migrations/index.ts\n`);
    } else {
      throw new Error('usage: migration run|revert|generate <Name>');
    }
  } finally {
    await dataSource.destroy();
    await target.embedded?.stop();
  }
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
