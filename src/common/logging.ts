import { LoggerService } from '@nestjs/common';
import { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import pino, { Bindings, ChildLoggerOptions, Logger } from 'pino';

/** JSON logs (pino, the logger Fastify itself uses); one instance for Fastify and Nest. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'canopy' },
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.apiKey', '*.refreshToken'],
      censor: '[redacted]',
    },
  });
}

export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, context?: string) {
    this.logger.info({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string) {
    if (message instanceof Error) this.logger.error({ context, err: message }, message.message);
    else this.logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string) {
    this.logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string) {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string) {
    this.logger.trace({ context }, String(message));
  }
}

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/**
 * `request.log`: the request's pino child (its bindings: the request id), made only when the
 * request logs something. Fastify makes a child per request otherwise, which serializes its
 * bindings (through the redaction) every time; most requests log only their one line, which
 * the parent writes with the same fields (`line`).
 */
export class RequestLogger {
  private real?: Logger;

  constructor(
    readonly parent: Logger,
    private readonly bindingsOf: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  private made(): Logger {
    this.real ??= this.parent.child(this.bindingsOf, this.options);
    return this.real;
  }

  private write(level: Level, args: unknown[]): void {
    if (!this.parent.isLevelEnabled(level)) return;
    const logger = this.made();
    (logger[level] as (...a: unknown[]) => void).apply(logger, args);
  }

  /** One line with the request's bindings, without making its child logger. */
  line(level: Level, object: Record<string, unknown>, message: string): void {
    if (this.real) this.real[level](object, message);
    else if (this.parent.isLevelEnabled(level)) this.parent[level]({ ...this.bindingsOf, ...object }, message);
  }

  get level(): string {
    return this.real?.level ?? this.parent.level;
  }
  set level(level: string) {
    this.made().level = level;
  }
  isLevelEnabled(level: string): boolean {
    return this.real ? this.real.isLevelEnabled(level) : this.parent.isLevelEnabled(level);
  }
  fatal(...args: unknown[]): void {
    this.write('fatal', args);
  }
  error(...args: unknown[]): void {
    this.write('error', args);
  }
  warn(...args: unknown[]): void {
    this.write('warn', args);
  }
  info(...args: unknown[]): void {
    this.write('info', args);
  }
  debug(...args: unknown[]): void {
    this.write('debug', args);
  }
  trace(...args: unknown[]): void {
    this.write('trace', args);
  }
  silent(): void {}
  child(bindings: Bindings, options?: ChildLoggerOptions): Logger {
    return this.made().child(bindings, options);
  }
  bindings(): Bindings {
    return this.made().bindings();
  }
  setBindings(bindings: Bindings): void {
    this.made().setBindings(bindings);
  }
}

/** Fastify's `childLoggerFactory`: a RequestLogger per request. */
export function requestLoggerFactory(logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  return new RequestLogger(logger as unknown as Logger, bindings, options) as unknown as FastifyBaseLogger;
}

/**
 * Fastify's per-request log lines, one per request instead of two: nothing when it arrives,
 * one line with the request and the response when it ends (what "incoming request" and
 * "request completed" said together). Every other log line of Fastify's stays as it is.
 */
export class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const log = reply.log as unknown as RequestLogger | Logger;
    const fields = { req: request, res: reply, responseTime: reply.elapsedTime, ...(error ? { err: error } : {}) };
    const [level, message] = error ? (['error', 'request errored'] as const) : (['info', 'request completed'] as const);
    if (log instanceof RequestLogger) log.line(level, fields, message);
    else log[level](fields, message);
  }
}
