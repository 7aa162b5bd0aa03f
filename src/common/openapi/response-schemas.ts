import { INestApplication, SetMetadata } from '@nestjs/common';
import { MetadataScanner, ModulesContainer } from '@nestjs/core';
import { FASTIFY_ROUTE_SCHEMA_METADATA } from '@nestjs/platform-fastify/constants';
import type { OpenAPIObject } from '@nestjs/swagger';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { isDeepStrictEqual } from 'node:util';

const SCHEMA_SERIALIZED = 'canopy:schemaSerialized';
const JSON_TYPE = 'application/json';
/** Words of the document that say nothing about the shape of a value. */
const DOCUMENTATION = new Set(['description', 'example', 'examples', 'title', 'deprecated', 'externalDocs']);

/**
 * Serializes the handler's JSON answer with Fastify's schema-based serializer
 * (fast-json-stringify) instead of JSON.stringify, for routes where serializing is a
 * noticeable part of the request (reference lists, the customer and `me` reads). The schema
 * is the operation's response schema in the OpenAPI document, so the two cannot drift.
 */
export const SchemaSerialized = () => SetMetadata(SCHEMA_SERIALIZED, true);

type Schema = Record<string, unknown>;

/** The response schema with every `$ref` replaced by the component it names, and no prose. */
function inline(schema: unknown, components: Record<string, unknown>, seen: string[] = []): unknown {
  if (Array.isArray(schema)) return schema.map((item) => inline(item, components, seen));
  if (!schema || typeof schema !== 'object') return schema;
  const ref = (schema as Schema).$ref;
  if (typeof ref === 'string') {
    const name = ref.replace('#/components/schemas/', '');
    if (seen.includes(name)) throw new Error(`response schema ${name} refers to itself`);
    if (!(name in components)) throw new Error(`response schema refers to the unknown ${ref}`);
    return inline(components[name], components, [...seen, name]);
  }
  const out: Schema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (DOCUMENTATION.has(key)) continue;
    // `properties` maps names to schemas: a property may be called "description".
    out[key] =
      key === 'properties'
        ? Object.fromEntries(Object.entries(value as Schema).map(([name, s]) => [name, inline(s, components, seen)]))
        : inline(value, components, seen);
  }
  return out;
}

/**
 * Gives each @SchemaSerialized() handler a Fastify response schema for its success status,
 * from the document (found by operationId, which is the method's name). Call before
 * `app.init()`. With `verify` (tests), every such response is also serialized with
 * JSON.stringify and the two must say the same: a field the schema does not know would
 * otherwise be dropped without a word.
 */
export function applyResponseSchemas(app: INestApplication, fastify: FastifyInstance, document: OpenAPIObject, verify: boolean): void {
  const operations = new Map<string, { responses: Record<string, { content?: Record<string, { schema?: unknown }> }> }>();
  for (const item of Object.values(document.paths)) {
    for (const operation of Object.values(item as Record<string, unknown>)) {
      const op = operation as { operationId?: string; responses?: Record<string, { content?: Record<string, { schema?: unknown }> }> };
      if (op && typeof op === 'object' && op.operationId && op.responses) operations.set(op.operationId, op as never);
    }
  }
  const components = (document.components?.schemas ?? {}) as Record<string, unknown>;
  const scanner = new MetadataScanner();
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const type = wrapper.metatype as (new (...args: never[]) => object) | undefined;
      if (!type) continue;
      for (const name of scanner.getAllMethodNames(type.prototype)) {
        const handler = (type.prototype as Record<string, unknown>)[name];
        if (typeof handler !== 'function' || !Reflect.getMetadata(SCHEMA_SERIALIZED, handler)) continue;
        const operation = operations.get(name);
        const success = Object.entries(operation?.responses ?? {}).find(([status]) => /^2\d\d$/.test(status));
        const schema = success?.[1].content?.[JSON_TYPE]?.schema;
        if (!success || !schema) throw new Error(`@SchemaSerialized() on ${type.name}.${name}: the document gives it no JSON success response`);
        Reflect.defineMetadata(FASTIFY_ROUTE_SCHEMA_METADATA, { response: { [success[0]]: inline(schema, components) } }, handler);
      }
    }
  }
  if (verify) {
    fastify.addHook('onRoute', (route: RouteOptions) => {
      if (!route.schema?.response) return;
      route.preSerialization = [...toArray(route.preSerialization), rememberPlain];
      route.onSend = [...toArray(route.onSend), comparePlain];
    });
  }
}

const toArray = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
const PLAIN = Symbol('plainJson');

function rememberPlain(request: FastifyRequest, _reply: FastifyReply, payload: unknown, done: (err: null, payload: unknown) => void): void {
  (request as unknown as Record<symbol, string>)[PLAIN] = JSON.stringify(payload);
  done(null, payload);
}

function comparePlain(request: FastifyRequest, _reply: FastifyReply, payload: unknown, done: (err: Error | null, payload?: unknown) => void): void {
  const plain = (request as unknown as Record<symbol, string | undefined>)[PLAIN];
  if (plain !== undefined && typeof payload === 'string' && !isDeepStrictEqual(JSON.parse(payload), JSON.parse(plain))) {
    done(new Error(`schema serializer of ${request.routeOptions.url} differs from JSON.stringify: ${payload} vs ${plain}`));
    return;
  }
  done(null, payload);
}
