import { createTariff, loginRoot, Actor } from './setup/factories';
import { feedUntil } from './setup/events';
import { startTestApp, TestApp } from './setup/test-app';

describe('GET /v1/events', () => {
  let t: TestApp;
  let root: Actor;

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
  });
  afterAll(() => t.close());

  it('answers a change with its event, numbered from 1', async () => {
    const tariffId = await createTariff(root, { name: 'feed-first' });
    const events = await feedUntil(root, (e) => e.some((x) => x.subject.id === tariffId));
    const created = events.find((e) => e.subject.id === tariffId)!;
    expect(created).toMatchObject({ type: 'tariff.created', subject: { type: 'tariff', id: tariffId }, actor: root.id });
    expect(created.data.changes.after.name).toBe('feed-first');
    expect(events.map((e) => e.sequence)).toEqual(events.map((_, i) => i + 1));
  });
});
