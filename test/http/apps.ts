import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable, pipeline } from 'node:stream';
import { serve as serveHono } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import type { LlmMetrics } from '@inferwatch/sdk';
import { instrumentExpress, instrumentFastify, instrumentHono, instrumentNodeHttp } from '@inferwatch/http';

export interface App {
  url: string;
  close: () => Promise<void>;
}

/** One way to forward a completion request to the upstream; every app below is a small proxy. */
async function forward(upstream: string, path: string, body: string): Promise<Response> {
  return fetch(`${upstream}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
}

function readAll(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

async function listen(server: ReturnType<typeof createServer>): Promise<App> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function pipeResponse(upstream: Response, res: ServerResponse): Promise<void> {
  res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
  pipeline(Readable.fromWeb(upstream.body as never), res, () => {});
}

export const APPS: Record<string, (llm: LlmMetrics | undefined, upstream: string) => Promise<App>> = {
  'node:http': (llm, upstream) => {
    const handler = async (req: IncomingMessage, res: ServerResponse) => pipeResponse(await forward(upstream, req.url!, await readAll(req)), res);
    return listen(createServer(llm ? instrumentNodeHttp(llm, handler) : handler));
  },

  express: (llm, upstream) => {
    const app = express();
    if (llm) app.use(instrumentExpress(llm));
    app.use(express.json());
    app.post('/v1/*path', async (req, res) => pipeResponse(await forward(upstream, req.url, JSON.stringify(req.body)), res));
    return listen(createServer(app));
  },

  fastify: async (llm, upstream) => {
    const app = Fastify({ forceCloseConnections: true });
    if (llm) await app.register(instrumentFastify(llm));
    app.post('/v1/*', async (request, reply) => {
      const response = await forward(upstream, request.url, JSON.stringify(request.body));
      reply.code(response.status).header('content-type', response.headers.get('content-type'));
      return reply.send(Readable.fromWeb(response.body as never));
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close: () => app.close() };
  },

  // On @hono/node-server's node:http objects.
  hono: (llm, upstream) => honoApp(llm, upstream, (app) => app.fetch),
  // As a web-standard runtime runs it: the app sees a Request (whose signal aborts when the client leaves) and no node objects.
  'hono (web)': (llm, upstream) => honoApp(llm, upstream, (app) => (request: Request) => app.fetch(request)),
};

async function honoApp(llm: LlmMetrics | undefined, upstream: string, fetchOf: (app: Hono) => (request: Request) => Response | Promise<Response>): Promise<App> {
  const app = new Hono();
  if (llm) app.use(instrumentHono(llm));
  app.post('/v1/*', async (c) => {
    const response = await forward(upstream, c.req.path, await c.req.text());
    return new Response(response.body, { status: response.status, headers: { 'content-type': response.headers.get('content-type') ?? '' } });
  });
  const server = await new Promise<ReturnType<typeof serveHono>>((resolve) => {
    const s = serveHono({ fetch: fetchOf(app), port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
