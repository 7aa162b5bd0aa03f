import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface Received {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  /** What the receiver answered (a status, or `hang`: no answer). */
  answered: number | 'hang';
  /** For a request left hanging: whether the sender has since closed it (its timeout, or its death). */
  closed?: boolean;
}

/** A real HTTP receiver on 127.0.0.1 that records every request and answers as told. */
export class WebhookReceiver {
  readonly requests: Received[] = [];
  private server?: http.Server;
  /** Decides each answer: a status code, or `hang` (never answers; the sender times out). */
  answer: (request: { id: string; nth: number }) => number | 'hang' = () => 204;
  private readonly seen = new Map<string, number>();
  private readonly hanging = new Set<http.ServerResponse>();

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const id = String(req.headers['webhook-id']);
        const nth = (this.seen.get(id) ?? 0) + 1;
        this.seen.set(id, nth);
        const answered = this.answer({ id, nth });
        const received: Received = {
          id,
          timestamp: String(req.headers['webhook-timestamp']),
          signature: String(req.headers['webhook-signature']),
          body: Buffer.concat(chunks).toString('utf8'),
          answered,
        };
        this.requests.push(received);
        if (answered === 'hang') {
          received.closed = false;
          this.hanging.add(res);
          res.on('close', () => (received.closed = true));
          return;
        }
        res.writeHead(answered).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/hooks`;
  }

  /** Requests answered 2xx, by webhook-id (the receiver's de-duplication). */
  delivered(): Map<string, Received> {
    const out = new Map<string, Received>();
    for (const r of this.requests) if (typeof r.answered === 'number' && r.answered < 300) out.set(r.id, r);
    return out;
  }

  /** The parsed bodies of the delivered events, de-duplicated by webhook-id. */
  events(): Array<{ id: string; type: string; sequence: number | null; subject: { type: string; id: string }; actor: string | null; data: Record<string, unknown> }> {
    return [...this.delivered().values()].map((r) => JSON.parse(r.body));
  }

  /** Verifies a request with the library's own verifier (throws when it does not verify). */
  static verify(secret: string, r: Received): unknown {
    return new Webhook(secret).verify(r.body, { 'webhook-id': r.id, 'webhook-timestamp': r.timestamp, 'webhook-signature': r.signature });
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** Polls `condition` every 50 ms until it holds or `ms` pass (then fails with `what`). */
export async function eventually(condition: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Small timings: retries after tens of milliseconds, a job handed out again 2 s after its worker died. */
export const FAST_WEBHOOKS = {
  WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
  WEBHOOK_DISPATCH_INTERVAL_MS: '50',
  WEBHOOK_TIMEOUT_MS: '400',
  WEBHOOK_RETRY_BASE_MS: '20',
  WEBHOOK_RETRY_MAX_MS: '100',
  WEBHOOK_JOB_EXPIRE_SECONDS: '2',
};
