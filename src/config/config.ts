import { z } from 'zod';
import { isCurrencyCode } from '../reference/currency-data';

/**
 * Every environment variable Canopy reads, validated once at boot. A bad value stops
 * start-up with a message naming the variable (see ConfigError).
 */
const booleanFromString = z
  .enum(['true', 'false', '1', '0'])
  .transform((v) => v === 'true' || v === '1');

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  DATA_DIR: z.string().min(1).default('.data'),
  EMBEDDED_PG_PORT: z.coerce.number().int().min(1).max(65535).default(54329),
  DB_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(20),
  DB_POOL_TIMEOUT_MS: z.coerce.number().int().min(100).max(600000).default(5000),
  DB_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(3600000).default(30000),
  DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: z.coerce.number().int().min(100).max(3600000).default(60000),
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  JWT_ISSUER: z.string().min(1).default('canopy'),
  JWT_AUDIENCE: z.string().min(1).default('canopy-api'),
  ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(30).max(86400).default(900),
  REFRESH_TOKEN_TTL_SECONDS: z.coerce.number().int().min(300).max(31536000).default(2592000),
  ROOT_LOGIN: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9._@-]+$/, 'may hold letters, digits and . _ @ - only')
    .default('root'),
  ROOT_PASSWORD: z.string().min(8, 'must be at least 8 characters').max(256).optional(),
  BASE_CURRENCY: z
    .string()
    .refine(isCurrencyCode, 'must be an ISO 4217 currency code')
    .default('USD'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TRUST_PROXY: booleanFromString.default(false),
  IDEMPOTENCY_TTL_HOURS: z.coerce.number().int().min(24).max(24 * 30).default(24),
  PASSWORD_HASH_MEMORY_KIB: z.coerce.number().int().min(1024).max(1048576).default(19456),
  PASSWORD_HASH_ITERATIONS: z.coerce.number().int().min(1).max(10).default(2),
  RATE_LIMIT_EXPENSIVE_PER_MINUTE: z.coerce.number().int().min(1).max(1000000).default(600),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  LOGIN_MAX_FAILURES: z.coerce.number().int().min(1).max(1000).default(5),
  LOGIN_FAILURE_WINDOW_SECONDS: z.coerce.number().int().min(1).max(86400).default(900),
  SHUTDOWN_GRACE_SECONDS: z.coerce.number().int().min(0).max(600).default(10),
  /** Callers kept in memory per instance (LRU); 0 resolves every request from the database. */
  CALLER_CACHE_SIZE: z.coerce.number().int().min(0).max(1000000).default(10000),
  /** Backstop only (revocation is by invalidation): a cached caller older than this is read again. */
  CALLER_CACHE_MAX_AGE_MS: z.coerce.number().int().min(100).max(86400000).default(60000),
  /** V8's old-generation growth between full collections, in percent of the live heap (README, memory); 0: V8's own (up to 300). */
  HEAP_GROWING_PERCENT: z.coerce.number().int().min(0).max(300).default(50),
  /** Group commit of balance operations (README, "Group commit"); GROUP_COMMIT_MAX 0 or 1 turns it off. */
  GROUP_COMMIT_WINDOW_MS: z.coerce.number().int().min(0).max(1000).default(0),
  GROUP_COMMIT_MAX: z.coerce.number().int().min(0).max(1000).default(100),
  GROUP_COMMIT_GROUPS_IN_FLIGHT: z.coerce.number().int().min(1).max(16).default(2),
  /** Batches of balance operations written at once per instance (README, "Group commit"); the others wait their turn, at most DB_POOL_TIMEOUT_MS. */
  BATCHES_IN_FLIGHT: z.coerce.number().int().min(1).max(64).default(2),
  /** The event relay's poll (writers send no NOTIFY: src/events/relay.ts). */
  EVENTS_RELAY_INTERVAL_MS: z.coerce.number().int().min(10).max(60000).default(100),
  /** Most outbox rows the relay moves into the feed per transaction. */
  EVENTS_RELAY_BATCH: z.coerce.number().int().min(1).max(100000).default(5000),
  /** Days the feed keeps an event, and webhook deliveries no longer pending their history (README, "Events"); 0 keeps all. */
  EVENTS_RETENTION_DAYS: z.coerce.number().int().min(0).max(36500).default(30),
  /** How often the events and deliveries past EVENTS_RETENTION_DAYS are deleted. */
  EVENTS_PRUNE_INTERVAL_MS: z.coerce.number().int().min(10).max(86400000).default(60000),
  /** Webhooks (README, "Webhooks"; docs/events.md). */
  WEBHOOK_ALLOW_PRIVATE_TARGETS: booleanFromString.default(false),
  WEBHOOK_DISPATCH_INTERVAL_MS: z.coerce.number().int().min(10).max(60000).default(200),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(120000).default(10000),
  WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().min(1).max(3600000).default(5000),
  WEBHOOK_RETRY_MAX_MS: z.coerce.number().int().min(1).max(86400000).default(3600000),
  WEBHOOK_RETRY_HOURS: z.coerce.number().positive().max(24 * 30).default(72),
  WEBHOOK_DISABLE_AFTER_HOURS: z.coerce.number().positive().max(24 * 365).default(72),
  WEBHOOK_JOB_EXPIRE_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  WEBHOOK_CONCURRENCY: z.coerce.number().int().min(0).max(1000).default(200),
});

const refined = schema.superRefine((c, ctx) => {
  if (c.METRICS_PORT !== undefined && c.METRICS_PORT === c.PORT) {
    ctx.addIssue({ code: 'custom', path: ['METRICS_PORT'], message: 'must differ from PORT (metrics get their own listener on 127.0.0.1)' });
  }
  if (c.WEBHOOK_JOB_EXPIRE_SECONDS * 1000 < c.WEBHOOK_TIMEOUT_MS + 1000) {
    ctx.addIssue({ code: 'custom', path: ['WEBHOOK_JOB_EXPIRE_SECONDS'], message: 'must exceed WEBHOOK_TIMEOUT_MS by at least a second (a job still running must not be handed to another worker)' });
  }
  if (c.EVENTS_RETENTION_DAYS > 0 && c.EVENTS_RETENTION_DAYS * 24 < c.WEBHOOK_RETRY_HOURS) {
    ctx.addIssue({ code: 'custom', path: ['EVENTS_RETENTION_DAYS'], message: 'must cover WEBHOOK_RETRY_HOURS (a delivery retried reads its event), or be 0 (keep every event)' });
  }
  if (c.NODE_ENV === 'production' && !c.DATABASE_URL) {
    ctx.addIssue({ code: 'custom', path: ['DATABASE_URL'], message: 'is required when NODE_ENV=production (the embedded PostgreSQL is for development)' });
  }
});

export type AppConfig = z.infer<typeof schema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Reads and validates the environment. Empty strings count as unset. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const parsed = refined.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`),
    );
  }
  return parsed.data;
}

export const APP_CONFIG = Symbol('APP_CONFIG');
