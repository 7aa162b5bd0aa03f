#!/usr/bin/env node
'use strict';
/**
 * `npm run build` (and `npm start`'s prestart): compiles src/ and migrations/ to dist/ with
 * `tsc -b tsconfig.build.json` (incremental: only changed files are re-emitted), and skips tsc
 * altogether when nothing changed since the last build: same list of sources, none newer than
 * the last build, every output present. `--force` rebuilds everything.
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const DIST = path.join(ROOT, 'dist');
const STAMP = path.join(DIST, '.build-stamp.json');
const BUILD_INFO = path.join(DIST, 'tsconfig.build.tsbuildinfo');
// Anything that changes what tsc emits: the sources, the compiler settings, the installed types.
const SETTINGS = ['tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json'];

function sources(dir) {
  const found = [];
  for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...sources(rel));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') && !entry.name.endsWith('.d.ts')) found.push(rel);
  }
  return found;
}

function mtime(file) {
  try {
    return fs.statSync(path.join(ROOT, file)).mtimeMs;
  } catch {
    return Infinity; // missing: treat as changed
  }
}

function upToDate(inputs) {
  let stamp;
  try {
    stamp = JSON.parse(fs.readFileSync(STAMP, 'utf8'));
  } catch {
    return false;
  }
  if (JSON.stringify(stamp.inputs) !== JSON.stringify(inputs)) return false;
  const built = fs.statSync(STAMP).mtimeMs;
  if ([...inputs, ...SETTINGS].some((f) => mtime(f) > built)) return false;
  return inputs.every((f) => fs.existsSync(path.join(DIST, f.replace(/\.ts$/, '.js'))));
}

const force = process.argv.includes('--force');
const inputs = [...sources('src'), ...sources('migrations')].sort();
if (!force && upToDate(inputs)) process.exit(0);

// A missing output is invisible to tsc -b's own check: start that build from scratch.
const outputsMissing = !inputs.every((f) => fs.existsSync(path.join(DIST, f.replace(/\.ts$/, '.js'))));
if (force || outputsMissing) fs.rmSync(BUILD_INFO, { force: true });
fs.rmSync(STAMP, { force: true });
const started = Date.now();
const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-b', 'tsconfig.build.json'], {
  cwd: ROOT,
  stdio: 'inherit',
});
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
fs.writeFileSync(STAMP, JSON.stringify({ inputs }) + '\n');
// Dated when tsc started: a source saved while tsc ran counts as newer than this build.
fs.utimesSync(STAMP, started / 1000, started / 1000);
process.stderr.write(`built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
