import http from 'node:http';
import https from 'node:https';
import { Webhook } from 'standardwebhooks';
import { addressLiteral, guardedLookup, isPublicAddress, TargetRefusedError } from './target-guard';

/** What one attempt came to: a status code (any answer), or an error (no answer). */
export interface AttemptOutcome {
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  attemptedAt: Date;
}

const MAX_ERROR_LENGTH = 500;

/**
 * Sends one signed delivery: a POST of the event's JSON with the Standard Webhooks headers
 * (`webhook-id` = the event's id, the same on every retry; `webhook-timestamp`;
 * `webhook-signature`, made by the `standardwebhooks` package). Redirects are not followed
 * (a 3xx is a failed attempt). Connections are kept alive per instance.
 */
export class WebhookSender {
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 256 });

  constructor(
    private readonly timeoutMs: number,
    private readonly allowPrivateTargets: boolean,
  ) {}

  static sign(secret: string, messageId: string, timestamp: Date, body: string): string {
    return new Webhook(secret).sign(messageId, timestamp, body);
  }

  async send(url: string, secret: string, messageId: string, body: string): Promise<AttemptOutcome> {
    const attemptedAt = new Date();
    const started = performance.now();
    const done = (statusCode: number | null, error: string | null): AttemptOutcome => ({
      statusCode,
      error: error && error.slice(0, MAX_ERROR_LENGTH),
      durationMs: Math.round(performance.now() - started),
      attemptedAt,
    });
    let target: URL;
    try {
      target = new URL(url);
      const literal = addressLiteral(target.hostname);
      if (!this.allowPrivateTargets && literal && !isPublicAddress(literal)) throw new TargetRefusedError(target.hostname, literal);
    } catch (error) {
      return done(null, error instanceof Error ? error.message : String(error));
    }
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'Canopy-Webhooks/1',
      'webhook-id': messageId,
      'webhook-timestamp': String(Math.floor(attemptedAt.getTime() / 1000)),
      'webhook-signature': WebhookSender.sign(secret, messageId, attemptedAt, body),
      'content-length': String(Buffer.byteLength(body)),
    };
    const secure = target.protocol === 'https:';
    return new Promise<AttemptOutcome>((resolve) => {
      let settled = false;
      const finish = (statusCode: number | null, error: string | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(done(statusCode, error));
      };
      const request = (secure ? https : http).request(target, {
        method: 'POST',
        headers,
        agent: secure ? this.httpsAgent : this.httpAgent,
        ...(this.allowPrivateTargets ? {} : { lookup: guardedLookup as never }),
      });
      const timer = setTimeout(() => {
        finish(null, `timed out after ${this.timeoutMs} ms`);
        request.destroy();
      }, this.timeoutMs);
      request.on('response', (response) => {
        response.resume(); // the body is not read; drained so the connection can be reused
        response.on('error', () => undefined);
        finish(response.statusCode ?? null, null);
      });
      request.on('error', (error) => finish(null, error.message || String(error)));
      request.end(body);
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
