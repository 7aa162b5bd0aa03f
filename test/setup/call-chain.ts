import { Actor, createAccount, createCustomer, createTariff, loginRoot } from './factories';
import type { TestApp } from './test-app';

const PAST = '2025-01-01T00:00:00Z';

export interface PostedCall {
  callId: string;
  accountId: string;
  number: string;
  connectTime: string;
  duration: number;
}

/** A rate on a tariff, in effect long before the calls. */
async function rate(owner: Actor, tariffId: string, prefix: string, price: string, firstInterval: number, nextInterval = firstInterval) {
  await owner.post(`/v1/tariffs/${tariffId}/rates`, { prefix, price, firstInterval, nextInterval, effectiveFrom: PAST }).expect(201);
}

/**
 * The chain of the call-view and usage tests: root → R1 (New York) → R2 (Tokyo) → account A,
 * R1's own account B, and a sibling reseller S (root → S → account C). All in USD; every
 * price hand-computed.
 *
 *   tariff  seller → buyer   '44' (per min, intervals)   '1'
 *   t1      root → R1, S     0.60 (1/1)                  0.10 (1/1)
 *   t2      R1 → R2          1.20 (1/1)                  0.30 (1/1)
 *   ta      R2 → A           3.00 on '4420' (60/60)      0.50 (1/1)
 *   tb      R1 → B           2.00 (60/60)
 *   tc      S → C            1.00 (1/1)
 *
 *   call  account number          connectTime (UTC)  dur  account  R2    R1 (or B's seller R1)
 *   c1    A       +442071234567   2026-01-15 10:00   90   6.00     1.80  0.90
 *   c2    A       12125550100     2026-01-15 03:00   30   0.25     0.15  0.05
 *   c3    B       +441234         2026-01-16 12:00   61   4.00     —     0.61
 *   c4    A       +4420           2026-01-20 23:30    0   0        0     0
 *   c5    C       +4499           2026-01-15 11:00   60   1.00 (C), 0.60 (S)
 *
 * The calls are posted by root through POST /v1/calls; `ids` maps callId → the call's id.
 */
export async function buildCallChain(t: TestApp) {
  const root = await loginRoot(t);
  const t1 = await createTariff(root);
  await rate(root, t1, '44', '0.60', 1);
  await rate(root, t1, '1', '0.10', 1);
  const r1 = await createCustomer(t, root, { tariffId: t1, timeZone: 'America/New_York' });
  const s = await createCustomer(t, root, { tariffId: t1 });
  const t2 = await createTariff(r1);
  await rate(r1, t2, '44', '1.20', 1);
  await rate(r1, t2, '1', '0.30', 1);
  const r2 = await createCustomer(t, r1, { tariffId: t2, timeZone: 'Asia/Tokyo' });
  const ta = await createTariff(r2);
  await rate(r2, ta, '4420', '3.00', 60);
  await rate(r2, ta, '1', '0.50', 1);
  const a = await createAccount(r2, r2, { tariffId: ta });
  const tb = await createTariff(r1);
  await rate(r1, tb, '44', '2.00', 60);
  const b = await createAccount(r1, r1, { tariffId: tb });
  const tc = await createTariff(s);
  await rate(s, tc, '44', '1.00', 1);
  const c = await createAccount(s, s, { tariffId: tc });
  const ids: Record<string, string> = {};
  const post = async (calls: PostedCall[]) => {
    const res = await root.post('/v1/calls', { calls }).expect(200);
    for (const item of res.body.items) {
      if (item.status !== 'rated') throw new Error(`not rated: ${JSON.stringify(item)}`);
      ids[item.callId] = item.call.id;
    }
  };
  await post([
    { callId: 'c1', accountId: a.id, number: '+442071234567', connectTime: '2026-01-15T10:00:00Z', duration: 90 },
    { callId: 'c2', accountId: a.id, number: '12125550100', connectTime: '2026-01-15T03:00:00Z', duration: 30 },
    { callId: 'c3', accountId: b.id, number: '+441234', connectTime: '2026-01-16T12:00:00Z', duration: 61 },
    { callId: 'c4', accountId: a.id, number: '+4420', connectTime: '2026-01-20T23:30:00Z', duration: 0 },
    { callId: 'c5', accountId: c.id, number: '+4499', connectTime: '2026-01-15T11:00:00Z', duration: 60 },
  ]);
  return { root, r1, r2, s, t1, t2, ta, tb, tc, a, b, c, ids, post };
}

export type CallChain = Awaited<ReturnType<typeof buildCallChain>>;
