/**
 * Time zones come from the runtime's IANA database (Intl); languages are the UI languages
 * Canopy supports, named by Intl.DisplayNames.
 */
export const SUPPORTED_LANGUAGES = [
  'ar', 'de', 'en', 'en-GB', 'es', 'fr', 'it', 'ja', 'ko', 'nl', 'pl', 'pt', 'pt-BR', 'ru', 'tr', 'uk', 'zh-CN',
] as const;

const zones: string[] = Intl.supportedValuesOf('timeZone');
const zoneSet = new Set(zones);
// Intl.supportedValuesOf omits "UTC" and links; accept what Intl.DateTimeFormat accepts.
zoneSet.add('UTC');
if (!zones.includes('UTC')) zones.push('UTC');
zones.sort();

const ZONE_NAME = /^[A-Za-z][A-Za-z_]*(\/[A-Za-z0-9_+-]+){0,2}$/;

/** An IANA name the runtime knows, canonical ("Asia/Calcutta") or link ("Asia/Kolkata"). */
export function isTimeZone(name: unknown): name is string {
  if (typeof name !== 'string' || name.length > 64 || !ZONE_NAME.test(name)) return false;
  if (zoneSet.has(name)) return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    zoneSet.add(name);
    return true;
  } catch {
    return false;
  }
}

export function isLanguage(code: unknown): code is string {
  return typeof code === 'string' && (SUPPORTED_LANGUAGES as readonly string[]).includes(code);
}

function offsetOf(zone: string, at: Date): string {
  const part = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' })
    .formatToParts(at)
    .find((p) => p.type === 'timeZoneName')?.value;
  if (!part || part === 'GMT') return '+00:00';
  return part.replace('GMT', '');
}

let zoneCache: { until: number; items: Array<{ name: string; utcOffset: string }> } | undefined;

/** Offsets change only at DST transitions; recomputing 400 formatters once a minute is enough. */
export function timeZonesNow(at = new Date()) {
  if (!zoneCache || at.getTime() >= zoneCache.until) {
    zoneCache = { until: at.getTime() + 60_000, items: zones.map((name) => ({ name, utcOffset: offsetOf(name, at) })) };
  }
  return zoneCache.items;
}

const englishNames = new Intl.DisplayNames(['en'], { type: 'language' });

const languageList = SUPPORTED_LANGUAGES.map((code) => ({
  code,
  name: englishNames.of(code) ?? code,
  nativeName: new Intl.DisplayNames([code], { type: 'language' }).of(code) ?? code,
}));

export function languages() {
  return languageList;
}
