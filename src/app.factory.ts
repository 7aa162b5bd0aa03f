import { HttpException } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { SwaggerModule } from '@nestjs/swagger';
import { randomUUID } from 'node:crypto';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { AppModule } from './app.module';
import { AppConfig } from './config/config';
import { PinoNestLogger } from './common/logging';
import { buildOpenApiDocument } from './common/openapi/document';
import { sendProblem } from './common/problem/problem.filter';

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
    genReqId: (req: IncomingMessage) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // Errors the router answers before any handler (a bad percent-encoding, a path segment
    // over maxParamLength) are problems too, not Fastify's own JSON.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      void reply.header('x-request-id', request.id);
      sendProblem(new HttpException(error.message, error.statusCode ?? 400), request, reply);
    },
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.register(deps.config, deps.dataSource), adapter, {
    logger: new PinoNestLogger(deps.logger),
  });
  const fastify = app.getHttpAdapter().getInstance();
  // JSON only: a text/plain body is a 415, not a string handed to a DTO.
  fastify.removeContentTypeParser('text/plain');
  fastify.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
  });
  if (!deps.withoutDocs) {
    const document = buildOpenApiDocument(app);
    SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/json', yamlDocumentUrl: 'docs/yaml' });
  }
  await app.init();
  await fastify.ready();
  return app;
}
