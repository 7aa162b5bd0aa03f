'use strict';
/**
 * A bare Fastify server answering fixed JSON bodies (argv: port, then a JSON object
 * {route: body}): the measuring stick for Canopy's own overhead on the same routes.
 */
const fastify = require('fastify');

const [, , port, routesJson] = process.argv;
const routes = JSON.parse(routesJson);
const app = fastify({ logger: false });
for (const [route, body] of Object.entries(routes)) app.get(route, async () => body);
app.listen({ port: Number(port), host: '127.0.0.1' }).then(() => process.send?.('ready'));
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
