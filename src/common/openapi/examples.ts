import type { OpenAPIObject } from '@nestjs/swagger';
import { sample } from 'openapi-sampler';
import { DEFAULT_PERMISSIONS } from '../../permissions/permission.catalogue';
import { PROBLEM_CONTENT_TYPE } from '../problem/problem';

/**
 * An example request and response on every operation of the document.
 *
 * The operations a portal developer meets first have hand-written examples below, keyed by
 * operationId (the controller method's name), told as one story: Acme Telecom, a customer of
 * the root, with an account alice@sip.example. Every other operation gets an example made
 * from its schemas by openapi-sampler (which uses the `example`s the DTOs declare). A
 * hand-written response is completed with the required fields it does not give, sampled
 * from the schema, so a required field added later cannot make it wrong. `npm run openapi:lint`
 * checks every example against its schema; test/openapi-examples.e2e-spec.ts checks that
 * every operation has them, and sends the hand-written requests to the real API (only the ids
 * replaced): each is accepted and answers at least the fields its example shows.
 */

export interface HandWrittenExample {
  /** The JSON request body. */
  request?: unknown;
  /** The JSON body of the success response. */
  response?: unknown;
}

const ROOT_ID = '0b7e3d4c-5f21-4a8e-9c6d-1e2f3a4b5c6d';
const ACME_ID = '6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f';
const TARIFF_ID = '3a4b5c6d-7e8f-4a0b-9c1d-2e3f4a5b6c7d';
const ACCOUNT_ID = '0d9e8f7a-6b5c-4d3e-8f1a-2b3c4d5e6f70';
const ENTRY_ID = 'abf129ba-2c3d-4e5f-8a9b-0c1d2e3f4a5b';
const CREATED_AT = '2026-03-01T09:30:00.000Z';

const ACME = {
  id: ACME_ID,
  parentId: ROOT_ID,
  name: 'Acme Telecom',
  tariffId: TARIFF_ID,
  timeZone: 'Europe/Berlin',
  language: 'de',
  webLogin: 'acme-admin',
  baseCurrency: 'EUR',
  balance: '0.00',
  creditLimit: '50.00',
  availableCredit: '50.00',
  lowBalanceThreshold: '10.00',
  display: { currency: 'EUR', balance: '0.00', creditLimit: '50.00' },
  status: 'active',
  routingGroupId: null,
  externalId: 'crm-1042',
  metadata: { segment: 'wholesale' },
  companyName: 'Acme Telecom GmbH',
  email: 'billing@acme.example',
  phone: null,
  address: null,
  taxId: null,
  createdAt: CREATED_AT,
  updatedAt: CREATED_AT,
  version: 1,
};

const ALICE = {
  id: ACCOUNT_ID,
  customerId: ACME_ID,
  username: 'alice@sip.example',
  tariffId: TARIFF_ID,
  timeZone: 'Europe/Berlin',
  language: 'de',
  balance: '0.00',
  creditLimit: '0.00',
  availableCredit: '0.00',
  lowBalanceThreshold: null,
  currency: 'EUR',
  display: { currency: 'EUR', balance: '0.00', creditLimit: '0.00' },
  maxSessions: 2,
  status: 'active',
  routingGroupId: null,
  externalId: null,
  metadata: {},
  createdAt: CREATED_AT,
  updatedAt: CREATED_AT,
  version: 1,
};

const ADD_FUNDS_ENTRY = {
  id: ENTRY_ID,
  action: 'add_funds',
  amount: '25.00',
  currency: 'EUR',
  exchangeRate: '1.0',
  convertedAmount: '25.00',
  balanceAfter: '25.00',
  notes: 'wire 2026-0001',
  actor: ACME_ID,
  idempotencyKey: 'payment-2026-0001',
  externalReference: null,
  metadata: {},
  createdAt: '2026-03-01T10:00:00.000Z',
};

export const EXAMPLES: Readonly<Record<string, HandWrittenExample>> = {
  login: {
    request: { login: 'acme-admin', password: 'correct horse battery staple' },
    response: {
      accessToken: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI2ZjFjMmQzZSJ9.c2lnbmF0dXJl',
      tokenType: 'Bearer',
      expiresIn: 900,
      refreshToken: 'rt_AXSFq3ZkM0d1bGx5LXJhbmRvbQ',
    },
  },
  refresh: {
    request: { refreshToken: 'rt_AXSFq3ZkM0d1bGx5LXJhbmRvbQ' },
    response: {
      accessToken: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI2ZjFjMmQzZSJ9.bmV3LXNpZ25hdHVyZQ',
      tokenType: 'Bearer',
      expiresIn: 900,
      refreshToken: 'rt_Bw7nQ2xLp9cHk4mZ-bmV4dC1vbmU',
    },
  },
  exchangeApiKey: {
    request: { apiKey: 'cnp_a1B2c3D4e5F6_Zx81QwErTy7uIoP3aSdFgHjKl9zXcVbNm2Qw4ErTyUi' },
    response: {
      accessToken: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI2ZjFjMmQzZSIsImtpZCI6ImFwaSJ9.c2lnbmF0dXJl',
      tokenType: 'Bearer',
      expiresIn: 900,
      refreshToken: 'rt_Kq1vN8sTzR3aWf6y-YXBpLWtleQ',
    },
  },
  getMe: {
    response: {
      kind: 'customer',
      ...ACME,
      // The default set a new customer gets.
      permissions: DEFAULT_PERMISSIONS,
    },
  },
  updateMe: {
    request: { timeZone: 'Europe/Berlin', language: 'de' },
  },
  createCustomer: {
    request: {
      name: 'Acme Telecom',
      tariffId: TARIFF_ID,
      webLogin: 'acme-admin',
      webPassword: 'correct horse battery staple',
      baseCurrency: 'EUR',
      timeZone: 'Europe/Berlin',
      language: 'de',
      creditLimit: '50.00',
      lowBalanceThreshold: '10.00',
      externalId: 'crm-1042',
      metadata: { segment: 'wholesale' },
      companyName: 'Acme Telecom GmbH',
      email: 'billing@acme.example',
    },
    response: ACME,
  },
  listCustomers: {
    response: { items: [ACME], nextCursor: 'eyJrIjpbIkFjbWUgVGVsZWNvbSJdfQ.c2ln' },
  },
  createAccount: {
    request: {
      customerId: ACME_ID,
      username: 'alice@sip.example',
      tariffId: TARIFF_ID,
      webPassword: 'alice-portal-secret',
      voipPassword: 'alice-sip-secret',
      maxSessions: 2,
    },
    response: ALICE,
  },
  createApiKey: {
    request: { name: 'billing-sync', permissions: ['accounts.update', 'balances.operate'] },
    response: {
      id: '9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d',
      name: 'billing-sync',
      prefix: 'cnp_a1B2c3D4e5F6',
      apiKey: 'cnp_a1B2c3D4e5F6_Zx81QwErTy7uIoP3aSdFgHjKl9zXcVbNm2Qw4ErTyUi',
      permissions: ['accounts.update', 'balances.operate'],
      expiresAt: null,
      lastUsedAt: null,
      createdAt: CREATED_AT,
    },
  },
  createTariff: {
    request: { name: 'Retail EUR', currency: 'EUR', connectFee: '0.01', freeSeconds: 0 },
    response: {
      id: TARIFF_ID,
      ownerId: ROOT_ID,
      name: 'Retail EUR',
      currency: 'EUR',
      description: '',
      connectFee: '0.01',
      freeSeconds: 0,
      createdAt: CREATED_AT,
      updatedAt: CREATED_AT,
      version: 1,
    },
  },
  createRate: {
    request: { prefix: '4420', price: '0.03', firstInterval: 60, nextInterval: 6, effectiveFrom: '2026-01-01T00:00:00Z' },
    response: {
      id: '18d67269-3a4b-4c5d-9e6f-7a8b9c0d1e2f',
      tariffId: TARIFF_ID,
      prefix: '4420',
      price: '0.03',
      firstInterval: 60,
      nextInterval: 6,
      connectFee: '0.00',
      effectiveFrom: '2026-01-01T00:00:00.000Z',
      createdAt: CREATED_AT,
      updatedAt: CREATED_AT,
      version: 1,
    },
  },
  setExchangeRate: {
    request: { rate: '1.0825' },
    response: { currency: 'EUR', baseCurrency: 'USD', rate: '1.0825', updatedAt: CREATED_AT, version: 3 },
  },
  createCustomerBalanceOperation: {
    request: {
      action: 'add_funds',
      amount: '25.00',
      currency: 'EUR',
      notes: 'wire 2026-0001',
      externalReference: 'bank-tx-2026-0001',
      metadata: { invoice: 'INV-2026-0042' },
    },
    response: { ...ADD_FUNDS_ENTRY, externalReference: 'bank-tx-2026-0001', metadata: { invoice: 'INV-2026-0042' } },
  },
  createAccountBalanceOperation: {
    request: { action: 'add_funds', amount: '5.00', notes: 'top-up at the shop' },
    response: { ...ADD_FUNDS_ENTRY, amount: '5.00', convertedAmount: '5.00', balanceAfter: '5.00', notes: 'top-up at the shop', idempotencyKey: 'shop-0042' },
  },
  createBalanceOperationBatch: {
    request: {
      operations: [
        { customerId: ACME_ID, action: 'add_funds', amount: '100.00', notes: 'bank transfer 2026-03-01' },
        { accountId: ACCOUNT_ID, action: 'credit', amount: '5.00', currency: 'EUR', notes: 'goodwill credit' },
      ],
    },
    response: {
      items: [
        { ...ADD_FUNDS_ENTRY, amount: '100.00', convertedAmount: '100.00', balanceAfter: '125.00', notes: 'bank transfer 2026-03-01', idempotencyKey: 'batch-2026-03-01' },
        {
          ...ADD_FUNDS_ENTRY,
          id: 'c2d3e4f5-a6b7-4c8d-9e0f-1a2b3c4d5e6f',
          action: 'credit',
          amount: '5.00',
          convertedAmount: '5.00',
          balanceAfter: '5.00',
          notes: 'goodwill credit',
          idempotencyKey: 'batch-2026-03-01',
        },
      ],
    },
  },
  authorizeCall: {
    request: { accountId: ACCOUNT_ID, number: '+442071234567' },
    response: { authorized: true, maxDuration: 100, limitedBy: { type: 'account', id: ACCOUNT_ID } },
  },
  postCalls: {
    request: {
      calls: [{ callId: 'sw1-000123', accountId: ACCOUNT_ID, number: '+442071234567', connectTime: '2026-03-01T12:00:00Z', duration: 61 }],
    },
    response: {
      items: [
        {
          callId: 'sw1-000123',
          status: 'rated',
          call: {
            id: 'd4e5f6a7-b8c9-4d0e-8f1a-2b3c4d5e6f7a',
            callId: 'sw1-000123',
            accountId: ACCOUNT_ID,
            customerId: ACME_ID,
            number: '+442071234567',
            connectTime: '2026-03-01T12:00:00.000Z',
            duration: 61,
            charges: [
              {
                party: { type: 'account', id: ACCOUNT_ID },
                tariffId: TARIFF_ID,
                prefix: '4420',
                price: '0.03',
                billedSeconds: 61,
                amount: '0.0305',
                currency: 'EUR',
                convertedAmount: '0.0305',
                chargedCurrency: 'EUR',
                ledgerEntryId: 'e5f6a7b8-c9d0-4e1f-9a2b-3c4d5e6f7a8b',
              },
            ],
            viewer: { revenue: '0.0305', cost: '0.0203', margin: '0.0102', currency: 'EUR' },
          },
        },
      ],
    },
  },
  getUsage: {
    response: {
      from: '2026-03-01',
      to: '2026-03-31',
      timeZone: 'Europe/Berlin',
      groupBy: 'account',
      customerId: ACME_ID,
      currency: 'EUR',
      items: [{ key: ACCOUNT_ID, calls: 120, seconds: 7260, billedSeconds: 7320, revenue: '3.66', cost: '2.44', margin: '1.22', currency: 'EUR' }],
      nextCursor: null,
    },
  },
  listEvents: {
    response: {
      items: [
        {
          id: 'f6a7b8c9-d0e1-4f2a-8b3c-4d5e6f7a8b9c',
          sequence: 1042,
          type: 'balance.changed',
          occurredAt: '2026-03-01T10:00:00.123Z',
          subject: { type: 'customer', id: ACME_ID },
          actor: ACME_ID,
          data: { holder: { type: 'customer', id: ACME_ID }, entry: ADD_FUNDS_ENTRY },
        },
      ],
      nextCursor: 'eyJzIjoxMDQyfQ.c2ln',
    },
  },
};

type Json = Record<string, unknown>;
type Media = { schema?: unknown; example?: unknown; examples?: unknown };
type Operation = {
  operationId?: string;
  requestBody?: { content?: Record<string, Media> };
  responses?: Record<string, { description?: string; content?: Record<string, Media> }>;
};

const JSON_TYPE = 'application/json';
const isObject = (v: unknown): v is Json => !!v && typeof v === 'object' && !Array.isArray(v);

/**
 * `mine` completed with the required fields `sampled` has and it lacks: those of the answer
 * itself and of the items of its lists (arrays: each item completed with the first sampled
 * item, as if at the level of the list's owner). Deeper objects are not filled: one written by
 * hand may be a map (e.g. `metadata`), whose sampled keys are not due.
 */
function complete(mine: unknown, sampled: unknown, depth = 0): unknown {
  if (Array.isArray(mine) && Array.isArray(sampled)) return mine.map((item) => complete(item, sampled[0], Math.max(0, depth - 1)));
  if (!isObject(mine) || !isObject(sampled)) return mine;
  const out: Json = {};
  for (const [key, value] of Object.entries(mine)) out[key] = key in sampled ? complete(value, sampled[key], depth + 1) : value;
  if (depth === 0) for (const [key, value] of Object.entries(sampled)) if (!(key in out)) out[key] = value;
  return out;
}

/**
 * The problem a status stands for when an operation can answer it for one reason only, with
 * its fixed title; a response whose description names its problem type in backticks
 * (`` `overloaded` ``) gets that one. Other error responses keep Swagger UI's own sample.
 */
const PROBLEMS: Record<string, { slug: string; title: string; detail: string }> = {
  '401': { slug: 'unauthorized', title: 'Unauthorized', detail: 'Authentication is required and has failed or has not been provided.' },
  '404': { slug: 'not-found', title: 'Not Found', detail: 'The resource does not exist.' },
  '412': { slug: 'precondition-failed', title: 'Precondition failed', detail: 'The If-Match header does not match the current version.' },
  '413': { slug: 'payload-too-large', title: 'Payload Too Large', detail: 'Request body is too large' },
  '415': { slug: 'unsupported-media-type', title: 'Unsupported Media Type', detail: 'Send the rate deck as text/csv.' },
  '500': {
    slug: 'internal-error',
    title: 'Internal Server Error',
    detail: 'An unexpected error occurred. Quote request id 4b1e7c0a-1f2d-4e3c-9a8b-7c6d5e4f3a2b when reporting it.',
  },
  overloaded: {
    slug: 'overloaded',
    title: 'Service overloaded',
    detail: 'The server is too busy to answer now; retry shortly (with the same Idempotency-Key, if any).',
  },
};

function problemExample(status: string, description: string, path: string): unknown {
  const named = /`([a-z]+(?:-[a-z]+)*)`/.exec(description)?.[1];
  const problem = (named && PROBLEMS[named]) || (named ? undefined : PROBLEMS[status]);
  if (!problem) return undefined;
  const example: Json = { type: `https://canopy.dev/problems/${problem.slug}`, title: problem.title, status: Number(status), detail: problem.detail, instance: path };
  if (status === '500') example.requestId = '4b1e7c0a-1f2d-4e3c-9a8b-7c6d5e4f3a2b';
  return example;
}

/**
 * Adds `example` to every request body and success response that has content and no example
 * yet, and to the error responses whose problem is known (see PROBLEMS).
 */
export function addExamples(document: OpenAPIObject): void {
  const draw = (schema: unknown, direction: 'request' | 'response', requiredOnly = false) =>
    sample(
      (schema ?? {}) as never,
      { quiet: true, skipReadOnly: direction === 'request', skipWriteOnly: direction === 'response', skipNonRequired: requiredOnly },
      document,
    );
  for (const [path, item] of Object.entries(document.paths)) {
    for (const operation of Object.values(item as Record<string, Operation>)) {
      if (!isObject(operation) || !operation.responses) continue;
      const mine = EXAMPLES[operation.operationId ?? ''] ?? {};
      const body = operation.requestBody ? (operation.requestBody.content = { ...operation.requestBody.content }) : {};
      for (const [type, media] of Object.entries(body)) {
        if (media.example !== undefined || media.examples !== undefined) continue;
        body[type] = { ...media, example: type === JSON_TYPE && mine.request !== undefined ? mine.request : draw(media.schema, 'request') };
      }
      for (const [status, response] of Object.entries(operation.responses)) {
        if (/^[45]\d\d$/.test(status)) {
          const media = response.content?.[PROBLEM_CONTENT_TYPE];
          const example = media && media.example === undefined ? problemExample(status, response.description ?? '', path) : undefined;
          // Copies: the error responses of one operation may share their content.
          if (media && example !== undefined) response.content = { ...response.content, [PROBLEM_CONTENT_TYPE]: { ...media, example } };
          continue;
        }
        if (!/^2\d\d$/.test(status)) continue;
        const content = (response.content = { ...response.content });
        for (const [type, media] of Object.entries(content)) {
          if (media.example !== undefined || media.examples !== undefined) continue;
          const example =
            type === JSON_TYPE && mine.response !== undefined ? complete(mine.response, draw(media.schema, 'response', true)) : draw(media.schema, 'response');
          content[type] = { ...media, example };
        }
      }
    }
  }
}
