import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres';
import { freePort } from './setup/free-port';
import { createTestDatabase, databaseUrl, dropTestDatabase, readTestDatabaseInfo } from './setup/test-database';

/**
 * The first minute on a new machine (SPEC §12): the embedded PostgreSQL works from a folder
 * its user cannot enter, and every start-up failure is one sentence naming the fix, never a
 * stack trace. Failures go through the real process (dist/src/main.js, built by pretest).
 */
const MAIN = path.resolve(__dirname, '../dist/src/main.js');
const PACKAGE = path.dirname(require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`, { paths: [path.dirname(require.resolve('embedded-postgres'))] }));

// Real starts (initdb, migrations) on a busy machine: generous, never a performance bound.
jest.setTimeout(180_000);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    PASSWORD_HASH_MEMORY_KIB: '1024',
    PASSWORD_HASH_ITERATIONS: '1',
    ...extra,
  };
}

/** Runs main until it exits (a failure) or, with `until`, until that text appears on stdout. */
function runMain(env: Record<string, string>, until?: string): Promise<Run & { child: ReturnType<typeof spawn> }> {
  const child = spawn(process.execPath, [MAIN], { env: baseEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGTERM'), 150_000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (until && stdout.includes(until)) {
        clearTimeout(timer);
        resolve({ code: null, stdout, stderr, child });
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, child });
    });
  });
}

/** SIGTERM, then its exit code (or the one it already exited with). */
function stop(child: ReturnType<typeof spawn>): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  return exited;
}

/** A failed start: non-zero exit, one line on stderr that matches `sentence`, no stack trace. */
function expectOneSentence(run: Run, sentence: RegExp): void {
  expect(run.code).not.toBe(0);
  expect(run.code).not.toBeNull();
  expect(run.stderr).not.toMatch(/^\s+at /m);
  const lines = run.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^Canopy cannot start: /);
  expect(lines[0]).toMatch(sentence);
}

function listen(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

describe('first minute: the embedded PostgreSQL in a folder others cannot enter', () => {
  let home: string;
  let placeRoot: string;

  beforeAll(() => {
    // Like a clone in root's home: everything below a mode-700 folder.
    home = mkdtempSync(path.join(tmpdir(), 'canopy-home-'));
    chmodSync(home, 0o700);
    cpSync(path.join(PACKAGE, '..', 'package.json'), path.join(home, 'pg', 'package.json'));
    cpSync(PACKAGE.replace(/dist$/, 'native'), path.join(home, 'pg', 'native'), { recursive: true, verbatimSymlinks: true });
    placeRoot = mkdtempSync(path.join(tmpdir(), 'canopy-place-'));
    chmodSync(placeRoot, 0o755);
  });

  afterAll(() => {
    rmSync(home, { recursive: true, force: true });
    rmSync(placeRoot, { recursive: true, force: true });
  });

  it('starts with binaries and data inside the mode-700 folder, says where it went in one line, and keeps the data across restarts', async () => {
    const notices: string[] = [];
    const start = async () =>
      startEmbeddedPostgres({
        dataDir: path.join(home, 'canopy', '.data', 'pg'),
        port: await freePort(),
        persistent: true,
        binariesDir: path.join(home, 'pg', 'native'),
        placeRoot,
        notice: (m) => notices.push(m),
      });
    const sql = async (url: string, text: string) => {
      const client = new Client({ connectionString: url });
      await client.connect();
      try {
        return (await client.query(text)).rows as Record<string, unknown>[];
      } finally {
        await client.end();
      }
    };

    const first = await start();
    try {
      await sql(first.adminUrl, `CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')`);
    } finally {
      await first.stop();
    }
    const second = await start();
    try {
      expect(await sql(second.adminUrl, 'SELECT v FROM kept')).toEqual([{ v: 'still here' }]);
      // Its URLs reach it through its Unix-domain socket (no client address); TCP on 127.0.0.1 still answers.
      expect(await sql(second.adminUrl, 'SELECT inet_client_addr() IS NULL AS local')).toEqual([{ local: true }]);
      const tcp = new URL(second.adminUrl);
      tcp.searchParams.delete('host');
      expect(await sql(tcp.toString(), `SELECT host(inet_client_addr()) AS client`)).toEqual([{ client: '127.0.0.1' }]);
      expect(second.dataDir).toBe(first.dataDir);
    } finally {
      await second.stop();
    }
    if (process.getuid?.() === 0) {
      // As root PostgreSQL runs as `postgres`, which cannot enter `home`: both were moved.
      expect(notices).toHaveLength(2); // one line per start
      expect(notices[0]).toContain(`cannot enter ${home}`);
      expect(notices[0]).toContain(`binaries run from ${placeRoot}/postgresql-`);
      expect(notices[0]).toContain(`data lives in ${placeRoot}/data-`);
      expect(first.dataDir.startsWith(placeRoot)).toBe(true);
    } else {
      expect(notices).toEqual([]); // it runs as us, and reaches what we reach
    }
  });

  it('existing data in a folder the postgres user cannot enter is refused with one sentence, never replaced by an empty cluster', async () => {
    const dataDir = path.join(home, 'old', '.data', 'pg');
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(path.join(dataDir, 'PG_VERSION'), '17\n');
    const starting = startEmbeddedPostgres({ dataDir, port: await freePort(), persistent: true, binariesDir: path.join(home, 'pg', 'native'), placeRoot });
    if (process.getuid?.() === 0) {
      await expect(starting).rejects.toThrow(`the postgres user cannot enter ${home}, which holds the data directory ${dataDir}: make that folder enterable by others (chmod o+x)`);
    } else {
      await expect(starting).rejects.toThrow(); // not a real data directory: PostgreSQL itself refuses it
    }
  });

  it('a temporary (test) database in a mode-700 folder is removed on stop', async () => {
    const db = await startEmbeddedPostgres({
      dataDir: path.join(home, 'tmp-db', 'pg'),
      port: await freePort(),
      persistent: false,
      binariesDir: path.join(home, 'pg', 'native'),
      placeRoot,
    });
    const client = new Client({ connectionString: db.adminUrl });
    await client.connect();
    const { rows } = await client.query<{ one: number }>('SELECT 1 AS one');
    await client.end();
    expect(rows).toEqual([{ one: 1 }]);
    await db.stop();
    expect(existsSync(db.dataDir)).toBe(false);
  });
});

describe('first minute: start-up through the real process', () => {
  const info = readTestDatabaseInfo();
  let scratch: string;

  beforeAll(() => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first (\`npm test\` builds in pretest).`);
    scratch = mkdtempSync(path.join(tmpdir(), 'canopy-startup-'));
    chmodSync(scratch, 0o755); // reachable: these cases are about other failures
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('prints the API and docs URLs and the first root login last, and that login works', async () => {
    const db = await createTestDatabase(info);
    const port = await freePort();
    const run = await runMain({ DATABASE_URL: db.url, PORT: String(port), LOG_LEVEL: 'info' }, 'Canopy is ready');
    try {
      expect(run.code).toBeNull();
      const ready = JSON.parse(run.stdout.trim().split('\n').pop() as string) as { msg: string };
      expect(ready.msg).toContain(`API at http://127.0.0.1:${port}/v1, docs at http://127.0.0.1:${port}/docs`);
      const login = /log in as "root" with password "([^"]+)" \(shown once/.exec(ready.msg);
      expect(login).not.toBeNull();
      const answer = await fetch(`http://127.0.0.1:${port}/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ login: 'root', password: (login as RegExpExecArray)[1] }),
      });
      expect(answer.status).toBe(200);
    } finally {
      expect(await stop(run.child)).toBe(0);
      await dropTestDatabase(info, db.name);
    }
  });

  it('DATA_DIR inside a mode-700 folder: starts, and says in one line where the data went and why', async () => {
    const home = mkdtempSync(path.join(tmpdir(), 'canopy-home-'));
    chmodSync(home, 0o700);
    const dataDir = path.join(home, '.data');
    const port = await freePort();
    const run = await runMain({ DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()), PORT: String(port), LOG_LEVEL: 'info' }, 'Canopy is ready');
    const placed = `/var/lib/canopy/data-${createHash('sha256').update(path.join(dataDir, 'pg')).digest('hex').slice(0, 12)}`;
    try {
      expect(run.stderr).toBe('');
      expect(run.code).toBeNull();
      const lines = run.stdout.split('\n').filter((l) => l.includes('embedded PostgreSQL: '));
      if (process.getuid?.() === 0) {
        expect(lines).toHaveLength(1);
        // (It names the first folder it cannot enter: this clone's own, when that is mode 700 too.)
        expect(lines[0]).toMatch(/"msg":"embedded PostgreSQL: the postgres user cannot enter \/[^,]*, so /);
        expect(lines[0]).toContain(`its data lives in ${placed}/pg instead of ${dataDir}/pg`);
      }
      expect((await fetch(`http://127.0.0.1:${port}/health/ready`)).status).toBe(200);
    } finally {
      expect(await stop(run.child)).toBe(0);
      rmSync(home, { recursive: true, force: true });
      rmSync(placed, { recursive: true, force: true });
    }
  });

  it('the API port already taken: one sentence naming PORT', async () => {
    const port = await freePort();
    const taken = await listen(port);
    const db = await createTestDatabase(info);
    try {
      const run = await runMain({ DATABASE_URL: db.url, PORT: String(port) });
      expectOneSentence(run, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use.*set PORT to a free port`));
    } finally {
      taken.close();
      await dropTestDatabase(info, db.name);
    }
  });

  it('the embedded PostgreSQL port already taken: one sentence naming EMBEDDED_PG_PORT', async () => {
    const pgPort = await freePort();
    const taken = await listen(pgPort);
    try {
      const run = await runMain({ DATA_DIR: path.join(scratch, 'port'), EMBEDDED_PG_PORT: String(pgPort), PORT: String(await freePort()) });
      expectOneSentence(run, new RegExp(`port ${pgPort} of the embedded PostgreSQL is already in use.*set EMBEDDED_PG_PORT to a free port`));
    } finally {
      taken.close();
    }
  });

  it('a data directory made by another PostgreSQL major version: one sentence naming DATA_DIR', async () => {
    const dataDir = path.join(scratch, 'newer');
    mkdirSync(path.join(dataDir, 'pg'), { recursive: true });
    writeFileSync(path.join(dataDir, 'pg', 'PG_VERSION'), '99\n');
    const run = await runMain({ DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()), PORT: String(await freePort()) });
    expectOneSentence(run, /was made by PostgreSQL 99, but the embedded PostgreSQL is 17: .*set DATA_DIR to a new folder/);
  });

  it('DATABASE_URL where nothing listens: one sentence naming DATABASE_URL', async () => {
    const closed = await freePort();
    const run = await runMain({ DATABASE_URL: `postgres://canopy:secret-pw@127.0.0.1:${closed}/canopy`, PORT: String(await freePort()) });
    expectOneSentence(run, new RegExp(`nothing accepts connections at 127\\.0\\.0\\.1:${closed} \\(DATABASE_URL\\): start PostgreSQL there, correct`));
    expect(run.stderr).not.toContain('secret-pw');
  });

  it('DATABASE_URL with a wrong password, or a missing database: one sentence each, no password shown', async () => {
    const wrong = new URL(info.adminUrl);
    wrong.password = 'not-the-password';
    const denied = await runMain({ DATABASE_URL: wrong.toString(), PORT: String(await freePort()) });
    expectOneSentence(denied, /refused the login of user "postgres" .*correct the user and password in DATABASE_URL/);
    expect(denied.stderr).not.toContain('not-the-password');

    const missing = await runMain({ DATABASE_URL: databaseUrl(info.adminUrl, 'no_such_db_here'), PORT: String(await freePort()) });
    expectOneSentence(missing, /the database "no_such_db_here" does not exist .*CREATE DATABASE/);
  });

  it('no space left for the data directory: one sentence naming the fix', async () => {
    const small = path.join(scratch, 'small');
    mkdirSync(small);
    // A 4 MiB file system (root only); elsewhere this case cannot be staged and is skipped.
    const mounted = process.getuid?.() === 0 && spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', small]).status === 0;
    if (!mounted) {
      process.stderr.write('startup.e2e-spec: cannot mount a small tmpfs here; the no-space case is not run\n');
      return;
    }
    try {
      chmodSync(small, 0o755);
      const run = await runMain({ DATA_DIR: small, EMBEDDED_PG_PORT: String(await freePort()), PORT: String(await freePort()) });
      expectOneSentence(run, /no space left on the device holding .*: free some space .*or set DATA_DIR to a disk with room/);
    } finally {
      spawnSync('umount', [small]);
    }
  });
});
