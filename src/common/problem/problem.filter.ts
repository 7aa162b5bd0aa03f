import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { catalogueLanguage, localizeProblem, negotiateLanguage } from '../../i18n/problem-language';
import { PROBLEM_CONTENT_TYPE } from './problem';
import { toProblem } from './to-problem';

/**
 * The language of a problem (SPEC §11): the caller's `language` (its catalogue, else the
 * primary subtag's, else English); without a caller (public routes, a 401), the best match
 * of `Accept-Language`; else English. Whether it came from the header is said for `Vary`.
 */
function problemLanguage(request: FastifyRequest): { language: string; negotiated: boolean } {
  const caller = (request as FastifyRequest & { user?: { language?: string } }).user;
  if (caller) return { language: catalogueLanguage(caller.language), negotiated: false };
  return { language: negotiateLanguage(request.headers['accept-language']), negotiated: true };
}

/** Sends any error as `application/problem+json`, its title and detail in the caller's language. */
export function sendProblem(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const outcome = toProblem(error, request.url.split('?')[0], String(request.id));
  if (outcome.unexpected) {
    request.log.error({ err: error }, 'unexpected error');
  }
  if (outcome.headers) reply.headers(outcome.headers);
  const { language, negotiated } = problemLanguage(request);
  if (negotiated) {
    const vary = reply.getHeader('vary');
    void reply.header('vary', vary ? `${String(vary)}, Accept-Language` : 'Accept-Language');
  }
  void reply
    .status(outcome.body.status)
    .header('content-type', PROBLEM_CONTENT_TYPE)
    .header('content-language', language)
    .send(localizeProblem(outcome.body, language));
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
