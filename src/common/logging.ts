import { LoggerService } from '@nestjs/common';
import { LogController } from 'fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import pino, { Logger } from 'pino';

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

/**
 * Fastify's per-request log lines, one per request instead of two: nothing when it arrives,
 * one line with the request and the response when it ends (what "incoming request" and
 * "request completed" said together). Every other log line of Fastify's stays as it is.
 */
export class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) {
      reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    } else if ((reply.log as unknown as Logger).isLevelEnabled('info')) {
      reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
    }
  }
}
