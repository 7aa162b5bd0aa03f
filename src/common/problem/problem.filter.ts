import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PROBLEM_CONTENT_TYPE } from './problem';
import { toProblem } from './to-problem';

/** Sends any error as `application/problem+json`. */
export function sendProblem(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const outcome = toProblem(error, request.url.split('?')[0], String(request.id));
  if (outcome.unexpected) {
    request.log.error({ err: error }, 'unexpected error');
  }
  if (outcome.headers) reply.headers(outcome.headers);
  void reply.status(outcome.body.status).header('content-type', PROBLEM_CONTENT_TYPE).send(outcome.body);
}

@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger(ProblemFilter.name);

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    if (reply.sent) {
      this.logger.error(error);
      return;
    }
    sendProblem(error, http.getRequest<FastifyRequest>(), reply);
  }
}
