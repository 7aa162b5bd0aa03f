import { RouteConfig } from '@nestjs/platform-fastify';
import type { FastifyInstance, RouteOptions } from 'fastify';

/**
 * Raises the body limit of one route above the global 1 MiB (e.g. CSV uploads, SPEC §11).
 * Fastify takes a limit per route, which Nest does not expose: the limit travels in the
 * route's config and `applyRouteBodyLimits` (an onRoute hook) moves it into place.
 */
export const BodyLimit = (bytes: number) => RouteConfig({ bodyLimit: bytes });

export function applyRouteBodyLimits(fastify: FastifyInstance): void {
  fastify.addHook('onRoute', (route: RouteOptions) => {
    const limit = (route.config as { bodyLimit?: unknown } | undefined)?.bodyLimit;
    if (typeof limit === 'number') route.bodyLimit = limit;
  });
}
