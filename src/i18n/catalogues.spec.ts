/**
 * Every problem type has every language (SPEC §11 "Language"): the problems and details are
 * read from the sources themselves (with the TypeScript parser), so that a new problem or a
 * new detail without its catalogue entries fails here, not in front of a user.
 */
import * as fs from 'node:fs';
import { STATUS_CODES } from 'node:http';
import * as path from 'node:path';
import * as ts from 'typescript';
import { ProblemBody } from '../common/problem/problem';
import { SUPPORTED_LANGUAGES } from '../reference/reference-data';
import { en } from './locales/en';
import { CATALOGUES, catalogueLanguage, localizeProblem, matchDetail, negotiateLanguage, PROBLEM_LANGUAGES, translateDetail } from './problem-language';

const ROOT = path.resolve(__dirname, '../..');

interface Found {
  file: string;
  slug?: string;
  title?: string;
  detail?: string;
  field?: boolean;
}

/** Calls whose arguments are (…, slug, title, detail, …): where the slug is. */
const SLUG_AT: Record<string, number> = { ProblemError: 1, ConflictProblem: 0, super: 1 };
/** Calls that take a problem's detail (or, `field`, a field error's detail) at an index. */
const DETAIL_AT: Record<string, { at: number; field: boolean }> = {
  UnauthorizedProblem: { at: 0, field: false },
  AmountOutOfRangeProblem: { at: 0, field: false },
  ValidationProblem: { at: 1, field: false },
  notReady: { at: 0, field: false },
  notADescendant: { at: 0, field: false },
  urlProblem: { at: 0, field: true },
  fail: { at: 1, field: true },
};

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sources(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') ? [full] : [];
  });
}

/** The texts an argument can be: a literal, a template (`${…}` → `{{}}`), a constant of the file, either branch of `?:`. */
function texts(node: ts.Node | undefined, consts: Map<string, ts.Expression>): string[] {
  if (!node) return [];
  if (ts.isParenthesizedExpression(node)) return texts(node.expression, consts);
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return [node.text];
  if (ts.isTemplateExpression(node)) {
    // A constant message inside a template is written out; any other value is a placeholder.
    // A constant (or a choice of literals) inside a template is written out; any other value is a placeholder.
    const span = (e: ts.Expression): string[] => {
      const options = ts.isIdentifier(e) || ts.isConditionalExpression(e) || ts.isParenthesizedExpression(e) ? texts(e, consts) : [];
      return options.length ? options : ['{{}}'];
    };
    let out = [node.head.text];
    for (const s of node.templateSpans) out = out.flatMap((prefix) => span(s.expression).map((v) => prefix + v + s.literal.text));
    return out;
  }
  if (ts.isConditionalExpression(node)) return [...texts(node.whenTrue, consts), ...texts(node.whenFalse, consts)];
  if (ts.isIdentifier(node) && consts.has(node.text)) return texts(consts.get(node.text), consts);
  return [];
}

function scan(): Found[] {
  const found: Found[] = [];
  const files = sources(path.join(ROOT, 'src'))
    .filter((file) => !path.relative(ROOT, file).startsWith(path.join('src', 'i18n')))
    .map((file) => ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true));
  // Constants of all files (messages are often exported from one file and used in another); a file's own win.
  const global = new Map<string, ts.Expression>();
  const collect = (into: Map<string, ts.Expression>) => (node: ts.Node): void => {
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer) into.set(node.name.text, node.initializer);
    ts.forEachChild(node, collect(into));
  };
  for (const source of files) collect(global)(source);
  for (const source of files) {
    const rel = path.relative(ROOT, source.fileName);
    const consts = new Map(global);
    collect(consts)(source);
    const visit = (node: ts.Node): void => {
      if (ts.isCallExpression(node) || ts.isNewExpression(node)) {
        const e = node.expression;
        const name = e.kind === ts.SyntaxKind.SuperKeyword ? 'super' : ts.isIdentifier(e) ? e.text : undefined;
        const args = node.arguments ?? [];
        if (name && name in SLUG_AT) {
          const at = SLUG_AT[name];
          const slugs = texts(args[at], consts);
          const titles = texts(args[at + 1], consts);
          slugs.forEach((slug, i) => {
            if (/^[a-z][a-z0-9-]*$/.test(slug)) found.push({ file: rel, slug, title: titles[i] ?? titles[0] });
          });
          if (slugs.length) for (const detail of texts(args[at + 2], consts)) found.push({ file: rel, detail, field: false });
        } else if (name === 'predicate') {
          // A custom validator: its message follows the property's name.
          for (const message of texts(args[2], consts)) found.push({ file: rel, detail: `field1 ${message}`, field: true });
        } else if (name && name in DETAIL_AT) {
          for (const detail of texts(args[DETAIL_AT[name].at], consts)) found.push({ file: rel, detail, field: DETAIL_AT[name].field });
        }
      }
      // A field error, or a problem body written out: an object literal with `detail` beside `pointer`, `parameter` or `type`.
      if (ts.isObjectLiteralExpression(node)) {
        const props = new Map<string, ts.Expression>();
        for (const p of node.properties) {
          if (ts.isPropertyAssignment(p) && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name))) props.set(p.name.text, p.initializer);
        }
        if (props.has('detail') && (props.has('pointer') || props.has('parameter') || props.has('type'))) {
          for (const detail of texts(props.get('detail'), consts)) found.push({ file: rel, detail, field: !props.has('type') });
        }
        // A validation message given to a decorator: `{ message: '…' }` ($property: the field's name).
        if (props.has('message') && node.parent && ts.isDecorator(node.parent.parent)) {
          for (const detail of texts(props.get('message'), consts)) found.push({ file: rel, detail: detail.replace(/\$property/g, 'field1'), field: true });
        }
        if (props.has('type') && props.has('title')) {
          const type = props.get('type')!;
          // `PROBLEM_TYPE_BASE + 'slug'`
          if (ts.isBinaryExpression(type) && ts.isStringLiteral(type.right)) {
            for (const title of texts(props.get('title'), consts)) found.push({ file: rel, slug: type.right.text, title });
          }
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return found;
}

const placeholders = (text: string) => [...text.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]).sort();
/**
 * A scanned detail with sample values where the code interpolates: a plain value, or a name the
 * code builds (a kind of holder, "account"; a level of a call: "account x1", "a level above you").
 */
const samples = (text: string) => ['x1', 'account', 'account x1', 'a level above you', 'A level above you'].map((v) => text.replace(/\{\{\}\}/g, v));

describe('problem catalogues', () => {
  const found = scan();
  const problems = found.filter((f) => f.slug);
  const details = found.filter((f) => f.detail !== undefined);

  it('finds the problems and details in the sources (the scan works)', () => {
    expect(new Set(problems.map((p) => p.slug)).size).toBeGreaterThan(30);
    expect(details.filter((d) => !d.field).length).toBeGreaterThan(40);
    expect(details.filter((d) => d.field).length).toBeGreaterThan(80);
    expect(details.map((d) => d.detail)).toEqual(expect.arrayContaining(['parentId must be a UUID', 'field1 must be a language code from /v1/languages']));
    expect(problems.map((p) => p.slug)).toEqual(expect.arrayContaining(['not-found', 'permission-denied', 'login-taken', 'bad-url', 'uri-too-long', 'batch-refused']));
  });

  it('has, for every problem type the code raises, its English title as the code writes it', () => {
    const wrong = problems.filter((p) => en.titles[p.slug as keyof typeof en.titles] !== p.title).map((p) => `${p.file}: ${p.slug} "${p.title}"`);
    expect(wrong).toEqual([]);
  });

  it('has a title for every client-error status the framework can answer, and for the internal error', () => {
    const slugs = Object.entries(STATUS_CODES)
      .filter(([code]) => Number(code) >= 400 && Number(code) < 500)
      .map(([, title]) => title!.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/(^-|-$)/g, ''));
    expect(slugs.filter((slug) => !(slug in en.titles))).toEqual([]);
    expect(en.titles['internal-error']).toBe('Internal Server Error');
  });

  it('has an English template for every detail the code writes', () => {
    const missing = details.filter((d) => !samples(d.detail!).some((text) => matchDetail(text))).map((d) => `${d.file}: ${d.detail}`);
    expect(missing).toEqual([]);
  });

  it('has every key in every language, with the same placeholders, and none empty', () => {
    expect(PROBLEM_LANGUAGES).toEqual(['en', 'de', 'es', 'fr', 'pt', 'ru']);
    for (const [language, catalogue] of Object.entries(CATALOGUES)) {
      for (const part of ['titles', 'details'] as const) {
        expect(Object.keys(catalogue[part]).sort()).toEqual(Object.keys(en[part]).sort());
        for (const [key, english] of Object.entries(en[part])) {
          const text = (catalogue[part] as Record<string, string>)[key];
          expect({ language, key, placeholders: placeholders(text), empty: text.trim() === '' }).toEqual({
            language,
            key,
            placeholders: placeholders(english),
            empty: false,
          });
        }
      }
    }
  });

  it('translates titles: no language but English leaves most of them English', () => {
    for (const language of PROBLEM_LANGUAGES.filter((l) => l !== 'en')) {
      const same = Object.entries(en.titles).filter(([slug, title]) => CATALOGUES[language].titles[slug as keyof typeof en.titles] === title);
      expect({ language, same: same.length }).toEqual({ language, same: expect.any(Number) });
      expect(same.length).toBeLessThanOrEqual(2);
    }
  });

  it('reads every English template back as itself (no template hides another)', () => {
    for (const [key, text] of Object.entries(en.details)) {
      let i = 0;
      const filled = text.replace(/\{\{(\w+)\}\}/g, (_, name: string) => (name === 'property' ? `field${++i}` : `v${++i}`));
      expect({ text: filled, key: matchDetail(filled)?.key }).toEqual({ text: filled, key });
    }
  });
});

describe('problem language', () => {
  it('negotiates Accept-Language with q-values, English when nothing fits', () => {
    expect(negotiateLanguage('fr;q=0.9, ru')).toBe('ru');
    expect(negotiateLanguage('fr, ru;q=0.5')).toBe('fr');
    expect(negotiateLanguage('de-CH, en;q=0.1')).toBe('de');
    expect(negotiateLanguage('ja, zh;q=0.8')).toBe('en');
    expect(negotiateLanguage('*')).toBe('en');
    expect(negotiateLanguage(undefined)).toBe('en');
    expect(negotiateLanguage('')).toBe('en');
  });

  it('maps every language of /v1/languages to a catalogue: its own, its primary subtag’s, else English', () => {
    const map = Object.fromEntries(SUPPORTED_LANGUAGES.map((code) => [code, catalogueLanguage(code)]));
    expect(map).toMatchObject({ en: 'en', 'en-GB': 'en', de: 'de', es: 'es', fr: 'fr', pt: 'pt', 'pt-BR': 'pt', ru: 'ru', ja: 'en', uk: 'en', 'zh-CN': 'en' });
    for (const language of Object.values(map)) expect(PROBLEM_LANGUAGES).toContain(language);
  });

  it('writes a problem in the language with the same values, type unchanged; nested details and field errors too', () => {
    const body: ProblemBody = {
      type: 'https://canopy.dev/problems/batch-refused',
      title: 'Batch refused',
      status: 422,
      detail: '1 of 2 operations were refused; nothing was written.',
      errors: [
        {
          pointer: '/operations/1',
          type: 'https://canopy.dev/problems/insufficient-funds',
          title: 'Insufficient funds',
          detail: 'The debit would take available credit below zero (available: 12.50).',
        } as never,
        { pointer: '/name', detail: 'name must be shorter than or equal to 128 characters' },
        { pointer: '/x', detail: 'something no catalogue knows' },
      ],
    };
    const de = localizeProblem(body, 'de');
    expect(de).toEqual({
      type: body.type,
      title: 'Stapel abgelehnt',
      status: 422,
      detail: '1 von 2 Operationen wurden abgelehnt; nichts wurde geschrieben.',
      errors: [
        {
          pointer: '/operations/1',
          type: 'https://canopy.dev/problems/insufficient-funds',
          title: 'Unzureichendes Guthaben',
          detail: 'Die Belastung würde das verfügbare Guthaben unter null bringen (verfügbar: 12.50).',
        },
        { pointer: '/name', detail: 'name darf höchstens 128 Zeichen lang sein' },
        { pointer: '/x', detail: 'something no catalogue knows' },
      ],
    });
    expect(localizeProblem(body, 'en')).toBe(body);
  });

  it('keeps values verbatim, even ones that look like placeholders or nesting', () => {
    const english = 'A call with callId "{{seconds}} $t(not-found) <b>" was already posted with other fields; a callId names one call, forever.';
    expect(translateDetail(english, 'ru')).toBe(
      'Звонок с callId «{{seconds}} $t(not-found) <b>» уже проведён с другими полями; callId навсегда обозначает один звонок.',
    );
  });

  it('translates a detail about a level of a call, and its inner detail', () => {
    expect(translateDetail('account 7f: The debit would take available credit below zero (available: 1.00).', 'fr')).toBe(
      'compte 7f : Le débit ferait passer le crédit disponible sous zéro (disponible : 1.00).',
    );
    expect(translateDetail('A level above you cannot be charged for this call (insufficient funds).', 'es')).toBe(
      'No se puede cobrar esta llamada a un nivel por encima de usted (fondos insuficientes).',
    );
    expect(translateDetail('A level above you cannot be charged for this call (missing exchange rate).', 'de')).toBe(
      'Eine Ebene über Ihnen kann für diesen Anruf nicht belastet werden (Wechselkurs fehlt).',
    );
    expect(translateDetail('The rate deck was not loaded: 3 error(s) in 2 row(s). Nothing was changed.', 'pt')).toBe(
      'A tabela de tarifas não foi carregada: 3 erro(s) em 2 linha(s). Nada foi alterado.',
    );
    expect(translateDetail('The rate deck was not loaded: 300 error(s) in 200 row(s); the first 100 are listed. Nothing was changed.', 'de')).toBe(
      'Die Tariftabelle wurde nicht geladen: 300 Fehler in 200 Zeile(n); die ersten 100 sind aufgeführt. Nichts wurde geändert.',
    );
  });
});
