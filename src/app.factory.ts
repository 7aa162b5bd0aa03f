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
import { PinoNestLogger } from './common/logging';
import { ProblemError } from './common/problem/problem';
import { sendProblem } from './common/problem/problem.filter';
import { installRequestContext } from './common/request-context';
import { Metrics } from './metrics/metrics';
import helmet from '@fastify/helmet';
import { buildOpenApiDocument } from './common/openapi/document';

export const JSON_BODY_LIMIT = 1024 * 1024;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface AppDependencies {
  config: AppConfig;
  dataSource: DataSource;
  logger: Logger;
  /** Skip serving Swagger UI (the OpenAPI export builds the document itself). */
  withoutDocs?: boolean;
}

/** Builds the whole application; used by main.ts, the tests and the OpenAPI export alike. */
export async function createApp(deps: AppDependencies): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    loggerInstance: deps.logger,
    bodyLimit: JSON_BODY_LIMIT,
    trustProxy: deps.config.TRUST_PROXY,
    // Errors the router raises before any route runs are problems too.
    frameworkErrors: (error: { code?: string }, request: FastifyRequest, reply: FastifyReply) => {
      const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
      void reply.header('x-request-id', request.id);
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
  installRequestContext(fastify);
  // Routes are registered by app.init() below, after this hook and parser are in place.
  applyRouteBodyLimits(fastify);
  // CSV bodies arrive as one string; they get the global limit unless the route raises it.
  fastify.addContentTypeParser('text/csv', { parseAs: 'string' }, (_request, body, done) => done(null, body));
  // JSON (and CSV where a route takes it) only: a text/plain body is a 415, not a string handed to a DTO.
  fastify.removeContentTypeParser('text/plain');
  fastify.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
  });
  fastify.addHook('onResponse', async (request, reply) => {
    // The route template, never the raw URL: ids must not explode the label set.
    const route = request.routeOptions?.url ?? 'unmatched';
    metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });
  // Security headers; the API itself never serves active content, so its CSP denies everything
  // (Swagger UI under /docs needs its own scripts and styles).
  await app.register(helmet as never, { contentSecurityPolicy: false, crossOriginEmbedderPolicy: false });
  fastify.addHook('onSend', async (request, reply) => {
    if (!request.url.startsWith('/docs')) void reply.header('content-security-policy', "default-src 'none'; frame-ancestors 'none'");
  });
  if (!deps.withoutDocs) {
    const document = buildOpenApiDocument(app);
    SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/json', yamlDocumentUrl: 'docs/yaml' });
  }
  await app.init();
  await fastify.ready();
  return app;
}
