import { AppConfig } from '../config/config';
import { CallerChanges, CallerChangeSubscriber } from '../database/notifications';
import { CallerResolver } from './caller.resolver';
import { AccountCallerRow, CallerRow, CallersRepository } from './callers.repository';
import { ACCOUNT_PATH } from '../tree/caller';

/** The resolver and its cache with a scripted repository and listener: the races, made deterministic. */
describe('CallerResolver with the caller cache', () => {
  const CUSTOMER = '00000000-0000-4000-8000-000000000001';
  const row = (overrides: Partial<CallerRow> = {}): CallerRow => ({
    id: CUSTOMER,
    path: '/1/7/',
    depth: 1,
    base_currency: 'USD',
    language: 'en',
    suspended: false,
    auth_epoch: 1,
    chain: [['customers.create', 'permissions.grant']],
    key_permissions: null,
    key_live: null,
    key_expires_at: null,
    rates: { EUR: '2' },
    ...overrides,
  });

  /** A repository whose answers the test hands out one by one, counting the reads. */
  function setup(size = 100) {
    const pending: Array<(row: CallerRow | undefined) => void> = [];
    let reads = 0;
    const repository = {
      unscopedFindCaller: () => {
        reads++;
        return new Promise<CallerRow | undefined>((resolve) => pending.push(resolve));
      },
    } as unknown as CallersRepository;
    let subscriber: CallerChangeSubscriber | undefined;
    const changes = {
      start: async (s: CallerChangeSubscriber) => {
        subscriber = s;
        s.listening(true);
      },
    } as unknown as CallerChanges;
    const resolver = new CallerResolver(repository, changes, { CALLER_CACHE_SIZE: size, CALLER_CACHE_MAX_AGE_MS: 60000 } as AppConfig);
    /** Resolves once, answering its read with `answer` if it makes one. */
    const resolve = async (answer: CallerRow | undefined = row(), claims = { sub: CUSTOMER, ver: 1 }) => {
      const before = reads;
      const result = resolver.resolve(claims);
      await Promise.resolve();
      if (reads > before) pending.shift()!(answer);
      return { caller: await result, read: reads > before };
    };
    return { resolver, resolve, pending, reads: () => reads, subscriber: () => subscriber!, claims: { sub: CUSTOMER, ver: 1 } };
  }

  it('serves a resolved caller from memory, and reads again after an invalidation of its node, key or table', async () => {
    const t = setup();
    await t.resolver.onApplicationBootstrap();
    expect((await t.resolve()).read).toBe(true);
    const cached = await t.resolve();
    expect(cached.read).toBe(false);
    expect(cached.caller?.exchangeRates.get('EUR')).toBe('2');
    for (const payload of ['n:1', 'n:7', `c:${CUSTOMER}`, '*']) {
      t.subscriber().changed([payload]);
      expect((await t.resolve()).read).toBe(true);
      expect((await t.resolve()).read).toBe(false);
    }
    // Another node (a sibling: '/1/77/' holds '7' only as a prefix), another customer's table: kept.
    t.subscriber().changed(['n:77', 'c:00000000-0000-4000-8000-000000000002', 'k:00000000-0000-4000-8000-000000000003']);
    expect((await t.resolve()).read).toBe(false);
  });

  it('does not keep a read that started before an invalidation (it raced the change)', async () => {
    const t = setup();
    await t.resolver.onApplicationBootstrap();
    const racing = t.resolver.resolve(t.claims);
    await Promise.resolve();
    expect(t.reads()).toBe(1);
    // The change commits and is heard while the read (which saw the old row) is in flight.
    t.subscriber().changed(['n:7']);
    t.pending.shift()!(row());
    expect(await racing).not.toBeNull(); // used once, as any read before a change would be
    // Not kept: the next request reads again, and sees the suspension.
    const next = await t.resolve(row({ suspended: true }));
    expect(next).toEqual({ read: true, caller: null });
  });

  it('keeps nothing while the listener is down, and caches again once it listens', async () => {
    const t = setup();
    await t.resolver.onApplicationBootstrap();
    await t.resolve();
    t.subscriber().listening(false);
    expect((await t.resolve()).read).toBe(true); // emptied
    expect((await t.resolve()).read).toBe(true); // and nothing kept
    // A read that started while down is not kept even if the listener comes back meanwhile.
    const during = t.resolver.resolve(t.claims);
    await Promise.resolve();
    t.subscriber().listening(true);
    t.pending.shift()!(row());
    await during;
    expect((await t.resolve()).read).toBe(true);
    expect((await t.resolve()).read).toBe(false);
  });

  it('refuses an older token from memory, reads again for a newer one, and checks a key’s expiry on every hit', async () => {
    const t = setup();
    await t.resolver.onApplicationBootstrap();
    await t.resolve(row({ auth_epoch: 2 }), { sub: CUSTOMER, ver: 2 });
    expect(await t.resolve(undefined, { sub: CUSTOMER, ver: 1 })).toEqual({ read: false, caller: null });
    expect((await t.resolve(row({ auth_epoch: 3 }), { sub: CUSTOMER, ver: 3 })).read).toBe(true);

    const KEY = '00000000-0000-4000-8000-00000000000a';
    const keyClaims = { sub: CUSTOMER, ver: 3, kid: KEY };
    const expiresAt = new Date(Date.now() + 150);
    const keyRow = row({ auth_epoch: 3, key_live: true, key_permissions: ['customers.create'], key_expires_at: expiresAt });
    const first = await t.resolve(keyRow, keyClaims);
    expect([...first.caller!.permissions]).toEqual(['customers.create']);
    expect(await t.resolve(undefined, keyClaims)).toMatchObject({ read: false, caller: { apiKeyId: KEY } });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await t.resolve(undefined, keyClaims)).toEqual({ read: false, caller: null });
    t.subscriber().changed([`k:${KEY}`]);
    expect((await t.resolve(undefined, keyClaims)).read).toBe(true);
  });

  it('holds at most CALLER_CACHE_SIZE callers, and none with 0', async () => {
    const t = setup(2);
    await t.resolver.onApplicationBootstrap();
    const ids = ['00000000-0000-4000-8000-0000000000b1', '00000000-0000-4000-8000-0000000000b2', '00000000-0000-4000-8000-0000000000b3'];
    for (const id of ids) await t.resolve(row({ id }), { sub: id, ver: 1 });
    expect(t.resolver.cache.count).toBe(2);
    expect((await t.resolve(row({ id: ids[0] }), { sub: ids[0], ver: 1 })).read).toBe(true); // the oldest went

    const off = setup(0);
    await off.resolver.onApplicationBootstrap();
    await off.resolve();
    expect((await off.resolve()).read).toBe(true);
  });

  describe('an account principal', () => {
    const ACCOUNT = '00000000-0000-4000-8000-0000000000aa';
    const accountRow = (overrides: Partial<AccountCallerRow> = {}): AccountCallerRow => ({
      id: ACCOUNT,
      customer_path: '/1/7/42/',
      customer_depth: 2,
      base_currency: 'EUR',
      language: 'de',
      auth_epoch: 3,
      refused: false,
      ...overrides,
    });

    function accountSetup() {
      let reads = 0;
      let answer: AccountCallerRow | undefined = accountRow();
      const repository = {
        unscopedFindAccountCaller: async () => {
          reads++;
          return answer;
        },
      } as unknown as CallersRepository;
      let subscriber: CallerChangeSubscriber | undefined;
      const changes = { start: async (s: CallerChangeSubscriber) => ((subscriber = s), s.listening(true)) } as unknown as CallerChanges;
      const resolver = new CallerResolver(repository, changes, { CALLER_CACHE_SIZE: 100, CALLER_CACHE_MAX_AGE_MS: 60000 } as AppConfig);
      const resolve = async (claims: { sub: string; ver: number; knd?: 'account'; kid?: string } = { sub: ACCOUNT, ver: 3, knd: 'account' }) => {
        const before = reads;
        const caller = await resolver.resolve(claims);
        return { caller, read: reads > before };
      };
      return { resolver, resolve, subscriber: () => subscriber!, answer: (row: AccountCallerRow | undefined) => (answer = row) };
    }

    it('matches no customer: no permissions, its own id, a path no customer lies under, never the root', async () => {
      const t = accountSetup();
      await t.resolver.onApplicationBootstrap();
      const { caller } = await t.resolve();
      expect(caller).toMatchObject({ kind: 'account', accountId: ACCOUNT, customerId: ACCOUNT, path: ACCOUNT_PATH, depth: 3, isRoot: false, baseCurrency: 'EUR', language: 'de', apiKeyId: null });
      expect(caller!.permissions.size).toBe(0);
      expect(caller!.exchangeRates.size).toBe(0);
    });

    it('is refused when blocked or below a suspension, for another epoch, or with a key claim', async () => {
      const t = accountSetup();
      await t.resolver.onApplicationBootstrap();
      expect((await t.resolve({ sub: ACCOUNT, ver: 2, knd: 'account' })).caller).toBeNull();
      expect((await t.resolve({ sub: ACCOUNT, ver: 3, knd: 'account', kid: CUSTOMER })).caller).toBeNull();
      t.subscriber().changed([`a:${ACCOUNT}`]);
      t.answer(accountRow({ refused: true }));
      expect((await t.resolve()).caller).toBeNull();
    });

    it('is evicted by its own account (a:) and by any node of its customer’s path (n:), not by others', async () => {
      const t = accountSetup();
      await t.resolver.onApplicationBootstrap();
      expect((await t.resolve()).read).toBe(true);
      expect((await t.resolve()).read).toBe(false);
      t.subscriber().changed(['a:00000000-0000-4000-8000-0000000000bb', 'n:8', 'n:4', 'k:00000000-0000-4000-8000-0000000000aa']);
      expect((await t.resolve()).read).toBe(false);
      t.subscriber().changed([`a:${ACCOUNT}`]);
      expect((await t.resolve()).read).toBe(true);
      t.subscriber().changed(['n:7']);
      expect((await t.resolve()).read).toBe(true);
      expect((await t.resolve()).read).toBe(false);
    });
  });
});
