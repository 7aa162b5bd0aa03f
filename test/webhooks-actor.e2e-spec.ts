import { authorized, createCustomer, createTariff, loginRoot, uniqueName, Actor } from './setup/factories';
import { feedUntil } from './setup/events';
import { startTestApp, TestApp } from './setup/test-app';
import { eventually, FAST_WEBHOOKS, WebhookReceiver } from './setup/webhook-receiver';

/**
 * The actor of a delivered event is the actor the owner's feed shows (SPEC §14, §9): also when
 * it is an account (an account principal changing its own record), and null when it is above
 * the owner. One rule for the audit list, the feed, the ledger and the deliveries.
 */
describe('webhook deliveries: the actor as the owner’s feed shows it', () => {
  let t: TestApp;
  let root: Actor, reseller: Actor, company: Actor;
  const receiver = new WebhookReceiver();
  let url: string;

  beforeAll(async () => {
    t = await startTestApp(FAST_WEBHOOKS);
    url = await receiver.start();
    root = await loginRoot(t);
    reseller = await createCustomer(t, root, { name: uniqueName('reseller') });
    company = await createCustomer(t, reseller, { name: uniqueName('company') });
  });
  afterAll(async () => {
    await t.close();
    await receiver.stop();
  });

  it('an account’s own change: its id as actor, in the feed and in the delivery; a parent’s change of the owner: null in both', async () => {
    const endpoint = await company.post('/v1/webhook-endpoints', { url, events: ['account.updated', 'customer.updated'] }).expect(201);
    // Events committed before the endpoint are not its to receive: start once its own event is in the feed.
    await feedUntil(company, (events) => events.some((e) => e.subject.id === endpoint.body.id));

    const username = uniqueName('acct');
    const tariffId = await createTariff(company);
    const account = await company.post('/v1/accounts', { username, webPassword: 'password-1', voipPassword: 'voip-pass-1', tariffId }).expect(201);
    const session = await t.http().post('/v1/auth/account-login').send({ username, password: 'password-1' }).expect(200);
    await authorized(t, session.body.accessToken).patch('/v1/me', { timeZone: 'Europe/Paris' }).expect(200);
    // The reseller (above the endpoint's owner) changes the owner: its actor is hidden from the owner.
    await reseller.patch(`/v1/customers/${company.id}`, { creditLimit: '10' }).expect(200);

    const byAccount = (e: { type: string; subject: { id: string | null } }) => e.type === 'account.updated' && e.subject.id === account.body.id;
    const byParent = (e: { type: string; subject: { id: string | null } }) => e.type === 'customer.updated' && e.subject.id === company.id;
    const events = await feedUntil(company, (all) => all.some(byAccount) && all.some(byParent));
    const fromAccount = events.find(byAccount)!;
    const fromParent = events.find(byParent)!;
    expect(fromAccount.actor).toBe(account.body.id);
    expect(fromParent.actor).toBeNull();

    await eventually(() => receiver.delivered().has(fromAccount.id) && receiver.delivered().has(fromParent.id), 20000, 'both deliveries');
    const delivered = new Map(receiver.events().map((e) => [e.id, e]));
    expect(delivered.get(fromAccount.id)).toEqual(fromAccount);
    expect(delivered.get(fromParent.id)).toEqual(fromParent);
  });
});
