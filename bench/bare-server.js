'use strict';
/** A bare Fastify server answering one fixed JSON body: the baseline for Canopy's overhead. */
const fastify = require('fastify');

const [, , port, route, bodyJson] = process.argv;
const body = JSON.parse(bodyJson);
const app = fastify({ logger: false });
app.get(route, async () => body);
app.listen({ port: Number(port), host: '127.0.0.1' }).then(() => process.send?.('ready'));
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
