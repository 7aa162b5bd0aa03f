import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { SwaggerModule } from '@nestjs/swagger';
import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { AppModule } from './app.module';
import { applyRouteBodyLimits } from './common/body-limit';
import { AppConfig } from './config/config';
import { DataSource, poolStats } from './database/pool';
import { OneLinePerRequest, PinoNestLogger, requestLoggerFactory } from './common/logging';
import { ProblemError } from './common/problem/problem';
import { sendProblem } from './common/problem/problem.filter';
import { installRequestContext } from './common/request-context';
import { bindIdempotencyToPosts } from './common/idempotency/idempotency.module';
import { Metrics } from './metrics/metrics';
import helmet from 'helmet';
import { buildOpenApiDocument } from './common/openapi/document';
import { applyResponseSchemas } from './common/openapi/response-schemas';

export const JSON_BODY_LIMIT = 1024 * 1024;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** The API itself never serves active content, so its CSP denies everything. */
const API_CSP = "default-src 'none'; frame-ancestors 'none'";

/**
 * helmet's security headers, computed once: with its CSP off (Swagger UI under /docs needs
 * its own scripts and styles; the API's CSP is ours) they are the same on every response,
 * so running helmet's middleware per request (as @fastify/helmet does, in two hooks) only
 * recomputes them.
 */
function securityHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader: (name: string, value: unknown) => void (headers[name.toLowerCase()] = String(value)),
    removeHeader: (name: string) => void delete headers[name.toLowerCase()],
  };
  helmet({ contentSecurityPolicy: false, crossOriginEmbedderPolicy: false })({} as never, response as never, () => undefined);
  return headers;
}

export interface AppDependencies {
  config: AppConfig;
  dataSource: DataSource;
  logger: Logger;
  /** Skip serving Swagger UI (the OpenAPI export builds the document itself). */
  withoutDocs?: boolean;
}

/** Builds the whole application; used by main.ts, the tests and the OpenAPI export alike. */
export async function createApp(deps: AppDependencies): Promise<NestFastifyApplication> {
  const docsHeaders = securityHeaders();
  const apiHeaders = { ...docsHeaders, 'content-security-policy': API_CSP };
  const adapter = new FastifyAdapter({
    loggerInstance: deps.logger,
    // One line per request, written when it ends, instead of Fastify's two.
    logController: new OneLinePerRequest(),
    // request.log is made when the request first logs something (usually never: see above).
    childLoggerFactory: requestLoggerFactory,
    // No Nest middleware is used: no middie hook on every request.
    skipMiddie: true,
    bodyLimit: JSON_BODY_LIMIT,
    trustProxy: deps.config.TRUST_PROXY,
    // Errors the router raises before any route runs are problems too.
    frameworkErrors: (error: { code?: string }, request: FastifyRequest, reply: FastifyReply) => {
      const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
      void reply.headers(apiHeaders).header('x-request-id', request.id);
      sendProblem(
        new ProblemError(tooLong ? 414 : 400, tooLong ? 'uri-too-long' : 'bad-url', tooLong ? 'URI Too Long' : 'Bad Request', tooLong ? 'A path parameter is too long.' : 'The URL is malformed.'),
        request,
        reply,
      );
    },
    genReqId: (req: IncomingMessage) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
  });
  const metrics = new Metrics(poolStats(deps.dataSource));
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.register(deps.config, deps.dataSource, metrics), adapter, {
    logger: new PinoNestLogger(deps.logger),
  });
  const fastify = app.getHttpAdapter().getInstance();
  // Routes are registered by app.init() below, after these onRoute hooks, parsers and hooks are in place.
  installRequestContext(fastify);
  applyRouteBodyLimits(fastify);
  bindIdempotencyToPosts(app);
  // CSV bodies arrive as one string; they get the global limit unless the route raises it.
  fastify.addContentTypeParser('text/csv', { parseAs: 'string' }, (_request, body, done) => done(null, body));
  // JSON (and CSV where a route takes it) only: a text/plain body is a 415, not a string handed to a DTO.
  fastify.removeContentTypeParser('text/plain');
  // Every response: its request id and the security headers (one synchronous hook).
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.headers(request.url.startsWith('/docs') ? docsHeaders : apiHeaders).header('x-request-id', request.id);
    done();
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    // The route template, never the raw URL: ids must not explode the label set.
    metrics.observeRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime);
    done();
  });
  if (!deps.withoutDocs) {
    const document = buildOpenApiDocument(app);
    applyResponseSchemas(app, fastify, document, deps.config.NODE_ENV === 'test');
    SwaggerModule.setup('docs', app, document, {
      jsonDocumentUrl: 'docs/json',
      yamlDocumentUrl: 'docs/yaml',
      customSiteTitle: 'Canopy API',
      // Everything the page needs is served from here (swagger-ui-dist), and the online
      // validator badge, which would fetch from a third party, is off: the page needs no network.
      swaggerOptions: { validatorUrl: 'none', displayOperationId: true, displayRequestDuration: true },
    });
  }
  await app.init();
  await fastify.ready();
  return app;
}
