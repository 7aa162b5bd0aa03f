/**
 * Problem details in the caller's language (SPEC §11 "Language"). The code writes every
 * problem in English; here, at the edge, its `title` is looked up by slug and its `detail`
 * (and each `errors[].detail`) is matched against the English templates of the catalogue and
 * written again, with the same values, in the chosen language, through i18next. A detail that
 * matches no template (free text from the framework, say) stays English. `type` never changes.
 */
import i18next, { type i18n } from 'i18next';
import Negotiator from 'negotiator';
import type { FieldError, ProblemBody } from '../common/problem/problem';
import { de } from './locales/de';
import { Catalogue, DetailKey, en, TitleKey } from './locales/en';
import { es } from './locales/es';
import { fr } from './locales/fr';
import { pt } from './locales/pt';
import { ru } from './locales/ru';

/** The catalogues, English first (the fallback and the answer to a request that states no preference). */
export const CATALOGUES: Record<string, Catalogue> = { en, de, es, fr, pt, ru };
export const PROBLEM_LANGUAGES = Object.keys(CATALOGUES);
export const DEFAULT_LANGUAGE = 'en';

const PROBLEM_TYPE_PREFIX = 'https://canopy.dev/problems/';

const translator: i18n = i18next.createInstance();
void translator.init({
  initAsync: false,
  resources: Object.fromEntries(Object.entries(CATALOGUES).map(([lng, c]) => [lng, { titles: c.titles, details: c.details }])),
  lng: DEFAULT_LANGUAGE,
  fallbackLng: DEFAULT_LANGUAGE,
  ns: ['titles', 'details'],
  // Keys hold dots ("not-found.customer") and values are plain text: no nesting, no escaping.
  keySeparator: false,
  nsSeparator: false,
  interpolation: { escapeValue: false },
  returnNull: false,
});

/**
 * The catalogue language for a stored `language` code (any code of /v1/languages): the code
 * itself, else its primary subtag (pt-BR → pt, en-GB → en), else English.
 */
export function catalogueLanguage(code: string | undefined | null): string {
  if (!code) return DEFAULT_LANGUAGE;
  if (code in CATALOGUES) return code;
  const primary = code.split('-')[0].toLowerCase();
  return primary in CATALOGUES ? primary : DEFAULT_LANGUAGE;
}

/** The best catalogue language for an `Accept-Language` header (q-values honoured); English when none fits. */
export function negotiateLanguage(acceptLanguage: string | undefined): string {
  if (!acceptLanguage) return DEFAULT_LANGUAGE;
  return new Negotiator({ headers: { 'accept-language': acceptLanguage } }).language(PROBLEM_LANGUAGES) ?? DEFAULT_LANGUAGE;
}

interface Template {
  key: DetailKey;
  pattern: RegExp;
  names: string[];
}

const PLACEHOLDER = /\{\{(\w+)\}\}/g;
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A field or parameter name: never spaces. Any other value: any text, as short as can match. */
const capture = (name: string) => (name === 'property' ? '([\\w.\\[\\]-]+)' : '(.*?)');

/** The English templates, those without values first, then by length of fixed text: the most specific match wins. */
const templates: Template[] = (Object.entries(en.details) as Array<[DetailKey, string]>)
  .map(([key, text]) => {
    const names: string[] = [];
    let source = '';
    let last = 0;
    for (const m of text.matchAll(PLACEHOLDER)) {
      source += escapeRegExp(text.slice(last, m.index)) + capture(m[1]);
      names.push(m[1]);
      last = m.index + m[0].length;
    }
    source += escapeRegExp(text.slice(last));
    return { key, pattern: new RegExp(`^${source}$`, 's'), names, fixed: text.replace(PLACEHOLDER, '').length };
  })
  .sort((a, b) => a.names.length - b.names.length || b.fixed - a.fixed);

const constantTemplates = new Map<string, DetailKey>(templates.filter((t) => t.names.length === 0).map((t) => [en.details[t.key], t.key]));

/** The catalogue key and values of an English detail, or undefined when it matches no template. */
export function matchDetail(english: string): { key: DetailKey; values: Record<string, string> } | undefined {
  const constant = constantTemplates.get(english);
  if (constant) return { key: constant, values: {} };
  for (const t of templates) {
    if (t.names.length === 0) continue;
    const m = t.pattern.exec(english);
    if (m) return { key: t.key, values: Object.fromEntries(t.names.map((name, i) => [name, m[i + 1]])) };
  }
  return undefined;
}

const titleSlugs = new Map<string, TitleKey>((Object.entries(en.titles) as Array<[TitleKey, string]>).map(([slug, title]) => [title.toLowerCase(), slug]));

function translateTitle(slug: string, english: string, lng: string): string {
  if (!(slug in en.titles) || en.titles[slug as TitleKey].toLowerCase() !== english.toLowerCase()) return english;
  return translator.t(slug, { ns: 'titles', lng });
}

/** An English detail in language `lng`; values that are themselves details (or titles) are translated too. */
export function translateDetail(english: string, lng: string, depth = 0): string {
  if (lng === DEFAULT_LANGUAGE || depth > 3) return english;
  const found = matchDetail(english);
  if (!found) return english;
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(found.values)) {
    if (name === 'detail' || name === 'reason' || name === 'listed') values[name] = translateDetail(value, lng, depth + 1);
    else if (name === 'title') {
      const slug = titleSlugs.get(value);
      // Quoted in a sentence, lower case as the English code writes it (German keeps its nouns' capitals).
      const title = slug ? translator.t(slug, { ns: 'titles', lng }) : value;
      values[name] = slug && lng !== 'de' ? title.toLowerCase() : title;
    } else values[name] = value;
  }
  return translator.t(found.key, { ns: 'details', lng, replace: values });
}

const slugOf = (type: unknown) => (typeof type === 'string' && type.startsWith(PROBLEM_TYPE_PREFIX) ? type.slice(PROBLEM_TYPE_PREFIX.length) : '');

/** One entry of `errors`: a field error, or a nested problem (a batch's refused operation). */
function translateError(error: FieldError & { type?: unknown; title?: unknown }, lng: string): FieldError {
  const out: FieldError & { title?: unknown } = { ...error };
  if (typeof error.detail === 'string') out.detail = translateDetail(error.detail, lng);
  if (typeof error.title === 'string') out.title = translateTitle(slugOf(error.type), error.title, lng);
  return out;
}

/** A problem body (as the code writes it, in English) in language `lng`: title, detail, errors[]. */
export function localizeProblem(body: ProblemBody, lng: string): ProblemBody {
  if (lng === DEFAULT_LANGUAGE) return body;
  const out: ProblemBody = { ...body, title: translateTitle(slugOf(body.type), body.title, lng) };
  if (typeof body.detail === 'string') out.detail = translateDetail(body.detail, lng);
  if (Array.isArray(body.errors)) out.errors = body.errors.map((e) => translateError(e, lng));
  return out;
}
