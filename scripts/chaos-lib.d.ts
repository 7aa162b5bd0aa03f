/** Types of scripts/chaos-lib.js, for the jest tests that use it. */

export const ROOT: string;
export const MAIN: string;
export const ROOT_LOGIN: string;
export const ROOT_PASSWORD: string;

export interface HttpResult {
  status: number;
  headers: Record<string, string>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

export class Instance {
  constructor(name: string, databaseUrl: string, env?: Record<string, string>);
  readonly name: string;
  readonly url: string;
  port: number | undefined;
  up: boolean;
  starts: number;
  logTail: string[];
  errorLines: number;
  start(options?: { newPort?: boolean; timeoutMs?: number }): Promise<Instance>;
  kill(): Promise<void>;
  stop(timeoutMs?: number): Promise<{ code: number | null; signal: string | null; ms: number; timedOut: boolean } | undefined>;
}

export function assertBuilt(): void;
export function startInstances(databaseUrl: string, count?: number, env?: Record<string, string>): Promise<Instance[]>;
export function request(
  baseUrl: string,
  method: string,
  path: string,
  options?: { body?: unknown; headers?: Record<string, string>; timeoutMs?: number },
): Promise<HttpResult>;
export function loginRoot(instance: Instance): Promise<string>;
export function seedTree(instance: Instance, token: string, count?: number): Promise<Array<{ id: string; balance: string; creditLimit: string }>>;

export interface ChaosCheck {
  name: string;
  ok: boolean;
  failures: string[];
}

export interface ChaosResult {
  ok: boolean;
  stats: Record<string, number>;
  checks: ChaosCheck[];
  events: string[];
  errorLogLines: number;
  logTail: string[];
}

export interface ChaosOptions {
  durationMs?: number;
  kills?: number;
  clients?: number;
  customers?: number;
  echoRate?: number;
  /** Share of the operations sent as batches of 2–8 operations on any customers (default 0.15). */
  batchRate?: number;
  lostAnswerRate?: number;
  finalEchoes?: number;
  requestTimeoutMs?: number;
  operationTimeoutMs?: number;
  /** Extra environment for the instances (SHUTDOWN_GRACE_SECONDS defaults to 3 here). */
  instanceEnv?: Record<string, string>;
  log?: (message: string) => void;
}

export function runChaos(databaseUrl: string, options?: ChaosOptions): Promise<ChaosResult>;
export function formatReport(result: ChaosResult): string;
export function sameJson(a: unknown, b: unknown): boolean;
