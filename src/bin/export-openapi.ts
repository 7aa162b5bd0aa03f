import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { createApp } from '../app.factory';
import { buildOpenApiDocument, stableStringify } from '../common/openapi/document';
import { loadConfig } from '../config/config';
import { createDataSource } from '../database/data-source';

/**
 * Writes openapi/openapi.json (sorted keys) and the typed client openapi/client/schema.d.ts
 * from the code, without a database. With --check, fails when either committed file differs.
 */
const ROOT = path.resolve(__dirname, '../../..');
const SPEC = path.join(ROOT, 'openapi/openapi.json');
const CLIENT_TYPES = path.join(ROOT, 'openapi/client/schema.d.ts');

function generateClientTypes(specFile: string, outFile: string): void {
  const bin = path.join(ROOT, 'node_modules/.bin/openapi-typescript');
  execFileSync(bin, [specFile, '-o', outFile, '--alphabetize', '--default-non-nullable=false'], { stdio: 'pipe' });
}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const config = loadConfig({ DATABASE_URL: 'postgres://openapi-export.invalid/none', JWT_SECRET: 'x'.repeat(32), LOG_LEVEL: 'silent' });
  // Never initialised: building the document must not touch a database.
  const dataSource = createDataSource(config.DATABASE_URL!);
  const app = await createApp({ config, dataSource, logger: pino({ level: 'silent' }), withoutDocs: true });
  const spec = stableStringify(buildOpenApiDocument(app));
  await app.close();

  if (!check) {
    writeFileSync(SPEC, spec);
    generateClientTypes(SPEC, CLIENT_TYPES);
    process.stdout.write(`wrote ${path.relative(ROOT, SPEC)} and ${path.relative(ROOT, CLIENT_TYPES)}\n`);
    return;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'canopy-openapi-'));
  const freshSpec = path.join(dir, 'openapi.json');
  const freshTypes = path.join(dir, 'schema.d.ts');
  writeFileSync(freshSpec, spec);
  generateClientTypes(freshSpec, freshTypes);
  const stale: string[] = [];
  if (readFileSync(SPEC, 'utf8') !== spec) stale.push('openapi/openapi.json');
  if (readFileSync(CLIENT_TYPES, 'utf8') !== readFileSync(freshTypes, 'utf8')) stale.push('openapi/client/schema.d.ts');
  if (stale.length) {
    process.stderr.write(`Stale generated files: ${stale.join(', ')}. Run \`npm run openapi\` and commit.\n`);
    process.exit(1);
  }
  process.stdout.write('openapi/openapi.json and the client are up to date\n');
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
