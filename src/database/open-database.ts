import path from 'node:path';
import { Client } from 'pg';
import { StartupError } from '../common/startup-error';
import { AppConfig } from '../config/config';
import { EmbeddedDatabase, startEmbeddedPostgres } from './embedded-postgres';

export interface DatabaseTarget {
  url: string;
  embedded?: EmbeddedDatabase;
}

const EMBEDDED_DATABASE = 'canopy';
const CONNECT_TIMEOUT_MS = 10_000;

export interface OpenDatabaseLog {
  /** PostgreSQL's own output (debug). */
  debug: (message: string) => void;
  /** One line worth showing (where the embedded PostgreSQL was put, and why). */
  info: (message: string) => void;
}

/**
 * With DATABASE_URL set, checks that server (reachable, login accepted, PostgreSQL ≥ 15) and
 * launches nothing. Without it, starts the embedded PostgreSQL whose data lives in DATA_DIR
 * (./.data by default) and survives restarts. Failures are StartupErrors naming the fix.
 */
export async function openDatabaseTarget(config: AppConfig, log: OpenDatabaseLog): Promise<DatabaseTarget> {
  if (config.DATABASE_URL) {
    await checkServer(config.DATABASE_URL);
    return { url: config.DATABASE_URL };
  }
  const embedded = await startEmbeddedPostgres({
    dataDir: path.join(config.DATA_DIR, 'pg'),
    port: config.EMBEDDED_PG_PORT,
    persistent: true,
    log: (m) => log.debug(m.trim()),
    notice: log.info,
  });
  try {
    const admin = new Client({ connectionString: embedded.adminUrl });
    await admin.connect();
    try {
      const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [EMBEDDED_DATABASE]);
      if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${EMBEDDED_DATABASE}`);
    } finally {
      await admin.end();
    }
  } catch (error) {
    await embedded.stop();
    throw error;
  }
  return { url: embedded.url(EMBEDDED_DATABASE), embedded };
}

/**
 * Connects once, with a timeout, so that a wrong DATABASE_URL is one sentence, not a hang or a
 * stack. The check runs while the application's modules load, which blocks the event loop: its
 * timer can fire before the server's answer (a refusal, a wrong password) is read. So a timeout
 * is believed only when a second attempt, on a free event loop, times out too.
 */
async function checkServer(url: string): Promise<void> {
  let version: number;
  for (let attempt = 1; ; attempt++) {
    const client = new Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const { rows } = await client.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`);
      version = Number(rows[0].v);
      break;
    } catch (error) {
      const timedOut = /timeout/i.test(error instanceof Error ? error.message : String(error));
      if (!(timedOut && attempt === 1)) throw new StartupError(describeConnectionError(error, url));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  if (version < 150000) {
    throw new StartupError(
      `the PostgreSQL at ${where(url)} is version ${Math.floor(version / 10000)}, Canopy needs 15 or newer: upgrade it, or point DATABASE_URL at a newer server.`,
    );
  }
}

function where(url: string): string {
  try {
    const u = new URL(url);
    // A `host` parameter (a socket's directory, or a host name) is what node-postgres connects to.
    return `${u.searchParams.get('host') || u.hostname || 'localhost'}:${u.port || '5432'}`;
  } catch {
    return 'DATABASE_URL';
  }
}

/** Never shows the password of the URL. */
export function describeConnectionError(error: unknown, url: string): string {
  const e = (error ?? {}) as { code?: string; message?: string };
  const message = e.message ?? String(error);
  let user = '';
  let database = '';
  let host = '';
  try {
    const u = new URL(url);
    user = decodeURIComponent(u.username);
    database = decodeURIComponent(u.pathname.slice(1)) || user;
    host = u.hostname;
  } catch {
    // leave them empty
  }
  const at = where(url);
  switch (e.code) {
    case 'ECONNREFUSED':
      return `nothing accepts connections at ${at} (DATABASE_URL): start PostgreSQL there, correct the host and port in DATABASE_URL, or unset it to use the embedded PostgreSQL.`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `the host "${host}" of DATABASE_URL cannot be resolved: correct the host in DATABASE_URL, or unset it to use the embedded PostgreSQL.`;
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `the PostgreSQL at ${at} (DATABASE_URL) cannot be reached: check the host, the port and any firewall, or correct DATABASE_URL.`;
    case '28P01':
    case '28000':
      return `the PostgreSQL at ${at} refused the login of user "${user}" (wrong password, or not allowed by pg_hba.conf): correct the user and password in DATABASE_URL.`;
    case '3D000':
      return `the database "${database}" does not exist on the PostgreSQL at ${at}: create it (CREATE DATABASE "${database}") or correct DATABASE_URL.`;
    case '53300':
      return `the PostgreSQL at ${at} has no free connection slots: stop some clients, raise its max_connections, or lower DB_POOL_SIZE.`;
    default:
      break;
  }
  if (/timeout/i.test(message)) {
    return `the PostgreSQL at ${at} (DATABASE_URL) did not answer within ${CONNECT_TIMEOUT_MS / 1000} s: check the host, the port and any firewall, or correct DATABASE_URL.`;
  }
  if (/SSL/i.test(message)) {
    return `the connection to the PostgreSQL at ${at} failed on SSL (${message}): add or remove sslmode in DATABASE_URL to match the server.`;
  }
  return `cannot connect to the PostgreSQL at ${at} (${message.split('\n')[0]}): check DATABASE_URL.`;
}
