'use strict';
/**
 * Start-up time of `npm start` (until its "Canopy is ready" line) with the embedded
 * PostgreSQL in a fresh DATA_DIR: the first start, then starts with nothing changed.
 * Part of `npm run bench`; alone: `node bench/startup.js` (replaces the section in RESULTS.md).
 */
const { spawn, spawnSync } = require('node:child_process');
const { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { freePort } = require('./lib');

const ROOT = path.resolve(__dirname, '..');

async function timeStart(env) {
  const started = process.hrtime.bigint();
  // Its own process group, so that the SIGTERM reaches node behind npm and sh.
  const child = spawn('npm', ['start', '--silent'], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const seconds = await new Promise((resolve, reject) => {
    const onData = (chunk) => {
      out += chunk;
      if (out.includes('Canopy is ready')) resolve(Number(process.hrtime.bigint() - started) / 1e9);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`npm start exited (${code}) before it was ready:\n${out.slice(-2000)}`)));
  });
  child.removeAllListeners('exit');
  const exited = new Promise((resolve) => child.on('exit', resolve));
  process.kill(-child.pid, 'SIGTERM');
  await exited;
  return seconds;
}

async function startupBench() {
  spawnSync(process.execPath, [path.join(ROOT, 'scripts/build.js')], { cwd: ROOT, stdio: 'inherit' });
  const buildCheckStart = process.hrtime.bigint();
  spawnSync(process.execPath, [path.join(ROOT, 'scripts/build.js')], { cwd: ROOT, stdio: 'inherit' });
  const buildCheck = Number(process.hrtime.bigint() - buildCheckStart) / 1e9;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'canopy-bench-start-'));
  chmodSync(dataDir, 0o755); // as root: the postgres user must reach it (else it is placed in /var/lib/canopy)
  const env = {
    ...process.env,
    DATABASE_URL: '',
    DATA_DIR: dataDir,
    PORT: String(await freePort()),
    HOST: '127.0.0.1',
    EMBEDDED_PG_PORT: String(await freePort()),
    LOG_LEVEL: 'info',
  };
  try {
    const first = await timeStart(env);
    const again = [];
    for (let i = 0; i < 3; i++) again.push(await timeStart(env));
    again.sort((a, b) => a - b);
    process.stdout.write(
      `\n## Start-up (\`npm start\` until "Canopy is ready", embedded PostgreSQL)\n\n` +
        `| case | seconds |\n|---|---:|\n` +
        `| first start: empty DATA_DIR (initdb, migrations, root), dist/ up to date | ${first.toFixed(1)} |\n` +
        `| start with nothing changed (median of 3; runs ${again.map((s) => s.toFixed(1)).join(', ')}) | ${again[1].toFixed(1)} |\n` +
        `| of which the build check (\`scripts/build.js\`, nothing to compile) | ${buildCheck.toFixed(2)} |\n\n` +
        `load average during these starts: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`,
    );
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

module.exports = { startupBench };

if (require.main === module) {
  let section = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (chunk, ...rest) => {
    section += String(chunk);
    return write(chunk, ...rest);
  };
  startupBench()
    .then(() => {
      const file = path.join(__dirname, 'RESULTS.md');
      const current = existsSync(file) ? readFileSync(file, 'utf8') : '';
      const kept = current.replace(/\n## Start-up[\s\S]*?(?=\n## |\n- load average at end|$)/, '');
      const at = kept.indexOf('\n- load average at end');
      writeFileSync(file, at >= 0 ? kept.slice(0, at) + section + kept.slice(at) : kept + section);
      write('\nwrote the start-up section of bench/RESULTS.md\n');
    })
    .catch((error) => {
      process.stderr.write(`${error.stack ?? error}\n`);
      process.exit(1);
    });
}
