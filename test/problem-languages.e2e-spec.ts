import { randomUUID } from 'node:crypto';
import { Actor, createCustomer, loginRoot, restrictedActor } from './setup/factories';
import { SecondInstance, startSecondInstance, startTestApp, TestApp } from './setup/test-app';

/**
 * Problems in the caller's language (SPEC §11 "Language"): title and detail (and each field
 * error's detail) in the caller's `language`; without a caller, in the best language of
 * `Accept-Language`; else English; always with `Content-Language`, and `type` unchanged.
 */
describe('problem languages', () => {
  let t: TestApp;
  let root: Actor;
  let de: Actor;
  let en: Actor;

  const TYPE = 'https://canopy.dev/problems/';

  beforeAll(async () => {
    t = await startTestApp({ LOGIN_MAX_FAILURES: '1000' });
    root = await loginRoot(t);
    de = await createCustomer(t, root, { language: 'de' });
    en = await createCustomer(t, root, { language: 'en' });
  });

  afterAll(async () => {
    await t?.close();
  });

  it('answers a German customer a German 404, with Content-Language: de and the same type as in English', async () => {
    const missing = `/v1/customers/${randomUUID()}`;
    const german = await de.get(missing).expect(404);
    expect(german.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(german.headers['content-language']).toBe('de');
    expect(german.body).toEqual({ type: `${TYPE}not-found`, title: 'Nicht gefunden', status: 404, detail: 'Der Kunde existiert nicht.', instance: missing });
    const english = await en.get(missing).expect(404);
    expect(english.headers['content-language']).toBe('en');
    expect(english.body).toMatchObject({ type: german.body.type, title: 'Not Found', detail: 'The customer does not exist.' });
  });

  it('answers German 403s: a right it lacks (the right’s name unchanged) and its own record', async () => {
    const readOnly = await restrictedActor(t, de, []);
    const child = await createCustomer(t, de);
    const denied = await readOnly.patch(`/v1/customers/${child.id}`, { name: 'x' }).expect(403);
    expect(denied.headers['content-language']).toBe('de');
    expect(denied.body).toMatchObject({
      type: `${TYPE}permission-denied`,
      title: 'Berechtigung verweigert',
      detail: `Diese Aktion erfordert die Berechtigung „${denied.body.permission as string}“.`,
    });
    expect(typeof denied.body.permission).toBe('string');
    const own = await de.patch(`/v1/customers/${de.id}`, { name: 'x' }).expect(403);
    expect(own.body).toMatchObject({
      type: `${TYPE}not-a-descendant`,
      title: 'Verboten',
      detail: 'Ein Kunde kann seinen eigenen Datensatz hier weder ändern noch löschen; verwenden Sie PATCH /v1/me.',
    });
  });

  it('answers a German 409 with its field error in German', async () => {
    await createCustomer(t, de, { name: 'Zwilling' });
    const tariff = await de.post('/v1/tariffs', { name: 'tz', currency: 'USD' }).expect(201);
    const res = await de
      .post('/v1/customers', { name: 'Zwilling', tariffId: tariff.body.id, webLogin: `l-${randomUUID().slice(0, 8)}`, webPassword: 'password-123' })
      .expect(409);
    expect(res.headers['content-language']).toBe('de');
    expect(res.body).toMatchObject({
      type: `${TYPE}name-taken`,
      title: 'Name vergeben',
      detail: 'Ein Geschwisterkunde trägt bereits diesen Namen.',
      errors: [{ pointer: '/name', detail: 'name wird bereits von einem Geschwisterkunden verwendet' }],
    });
  });

  it('answers a German 422 and 400 with the values kept; a replay is written again in the replaying caller’s language', async () => {
    const child = await createCustomer(t, de, { balance: '5.00', creditLimit: '0.00' });
    const key = randomUUID();
    const debit = () => de.post(`/v1/customers/${child.id}/balance-operations`, { action: 'debit', amount: '7.00' }).set('Idempotency-Key', key);
    const first = await debit().expect(422);
    expect(first.headers['content-language']).toBe('de');
    expect(first.body).toMatchObject({
      type: `${TYPE}insufficient-funds`,
      title: 'Unzureichendes Guthaben',
      detail: 'Die Belastung würde das verfügbare Guthaben unter null bringen (verfügbar: 5.00).',
      availableCredit: '5.00',
    });
    await de.patch('/v1/me', { language: 'fr' }).expect(200);
    const replay = await debit().expect(422);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.headers['content-language']).toBe('fr');
    expect(replay.body).toMatchObject({
      type: `${TYPE}insufficient-funds`,
      title: 'Fonds insuffisants',
      detail: 'Le débit ferait passer le crédit disponible sous zéro (disponible : 5.00).',
      availableCredit: '5.00',
    });
    await de.patch('/v1/me', { language: 'de' }).expect(200);

    const invalid = await de.post('/v1/tariffs', { name: 'n', currency: 'usd', extra: 1 }).expect(400);
    expect(invalid.body).toMatchObject({ type: `${TYPE}validation-error`, title: 'Ungültige Anfrage', detail: 'Die Anfrage ist ungültig.' });
    expect(invalid.body.errors).toEqual(
      expect.arrayContaining([
        { pointer: '/extra', detail: 'die Eigenschaft extra ist nicht erlaubt' },
        { pointer: '/currency', detail: 'currency muss ein ISO-4217-Währungscode sein (siehe /v1/currencies)' },
      ]),
    );
  });

  it('answers a public 401 in the best language of Accept-Language (q-values), else English; Vary says so', async () => {
    const badLogin = (acceptLanguage?: string) => {
      const req = t.http().post('/v1/auth/login').send({ login: 'nobody-here', password: 'wrong-password' });
      return acceptLanguage === undefined ? req : req.set('Accept-Language', acceptLanguage);
    };
    const ru = await badLogin('fr;q=0.9, ru').expect(401);
    expect(ru.headers['content-language']).toBe('ru');
    expect(ru.headers.vary).toMatch(/accept-language/i);
    expect(ru.body).toMatchObject({ type: `${TYPE}unauthorized`, title: 'Не авторизован', detail: 'Неверный логин или пароль.' });
    const fr = await badLogin('fr, ru;q=0.5').expect(401);
    expect(fr.headers['content-language']).toBe('fr');
    expect(fr.body).toMatchObject({ type: ru.body.type, title: 'Non authentifié', detail: 'L’identifiant ou le mot de passe est incorrect.' });
    const none = await badLogin().expect(401);
    expect(none.headers['content-language']).toBe('en');
    expect(none.body).toMatchObject({ type: ru.body.type, title: 'Unauthorized', detail: 'The login or password is incorrect.' });
    const unknown = await badLogin('ja, zh;q=0.5').expect(401);
    expect(unknown.headers['content-language']).toBe('en');

    const noToken = await t.http().get('/v1/me').set('Accept-Language', 'es-MX, en;q=0.3').expect(401);
    expect(noToken.headers['content-language']).toBe('es');
    expect(noToken.body).toMatchObject({ type: ru.body.type, title: 'No autenticado', detail: 'Se requiere autenticación y ha fallado o no se ha proporcionado.' });
  });

  it('translates the framework’s problems too: an unknown route; a body that is not JSON (by Accept-Language, title only)', async () => {
    const route = await t.http().get('/v1/no-such-thing').set('Accept-Language', 'pt-BR, pt;q=0.9').expect(404);
    expect(route.headers['content-language']).toBe('pt');
    expect(route.body).toMatchObject({ type: `${TYPE}not-found`, title: 'Não encontrado', detail: 'Não existe nenhum recurso neste endereço.' });
    // A body is parsed before the caller is known: its problems follow Accept-Language.
    const malformed = await t
      .http()
      .post('/v1/tariffs')
      .set('Authorization', `Bearer ${de.token}`)
      .set('Accept-Language', 'es')
      .set('Content-Type', 'application/json')
      .send('{"name": ')
      .expect(400);
    expect(malformed.headers['content-language']).toBe('es');
    expect(malformed.body).toMatchObject({ type: `${TYPE}bad-request`, title: 'Solicitud incorrecta' });
    // The parser's own message is free text that no catalogue knows: it stays as the framework wrote it.
    expect(typeof malformed.body.detail).toBe('string');
  });

  it('prefers the caller’s language over Accept-Language; pt-BR is Portuguese, a language without a catalogue is English', async () => {
    const german = await de.get(`/v1/accounts/${randomUUID()}`).set('Accept-Language', 'ru').expect(404);
    expect(german.headers['content-language']).toBe('de');
    expect(german.body.detail).toBe('Das Konto existiert nicht.');
    const brazilian = await createCustomer(t, root, { language: 'pt-BR' });
    const pt = await brazilian.get(`/v1/accounts/${randomUUID()}`).expect(404);
    expect(pt.headers['content-language']).toBe('pt');
    expect(pt.body).toMatchObject({ title: 'Não encontrado', detail: 'A conta não existe.' });
    const japanese = await createCustomer(t, root, { language: 'ja' });
    const ja = await japanese.get(`/v1/accounts/${randomUUID()}`).set('Accept-Language', 'de').expect(404);
    expect(ja.headers['content-language']).toBe('en');
    expect(ja.body).toMatchObject({ title: 'Not Found', detail: 'The account does not exist.' });
  });

  describe('on two instances', () => {
    let b: SecondInstance;

    beforeAll(async () => {
      b = await startSecondInstance(t);
    });

    afterAll(async () => {
      await b?.close();
    });

    it('writes a customer’s problems on instance B in its new language within 1 s of the change on A', async () => {
      const c = await createCustomer(t, root, { language: 'de' });
      const path = `/v1/customers/${randomUUID()}`;
      const onB = () => b.http().get(path).set('Authorization', `Bearer ${c.token}`);
      // B's caller cache now holds the German caller.
      for (let i = 0; i < 3; i++) expect((await onB().expect(404)).headers['content-language']).toBe('de');
      await c.patch('/v1/me', { language: 'es' }).expect(200);
      const deadline = Date.now() + 1000;
      let last = await onB();
      while (last.headers['content-language'] !== 'es' && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        last = await onB();
      }
      expect(last.headers['content-language']).toBe('es');
      expect(last.body).toMatchObject({ type: `${TYPE}not-found`, title: 'No encontrado', detail: 'El cliente no existe.' });
    });
  });
});
