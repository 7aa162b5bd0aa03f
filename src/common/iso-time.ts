/** Two and three digits, zero-padded, by index. */
const TWO = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));
const THREE = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
/** 10000-01-01T00:00:00Z: from there on `toISOString` writes a six-digit year. */
const YEAR_10000 = 253402300800000;
const DAY = 86400;

/**
 * `date.toISOString()` (`2026-12-04T03:25:45.291Z`), the same text, by integer arithmetic:
 * V8's builtin took about 1.9 µs a call here (its date cache and formatter), which was 6 % of a
 * subtree page's Node CPU (two timestamps on each of 51 records); this takes about 0.3 µs.
 * Instants before 1970 or from the year 10000 on, and invalid dates, go to `toISOString`.
 * The calendar date from the day number is Howard Hinnant's `civil_from_days`.
 * src/common/iso-time.spec.ts holds it to `toISOString`.
 */
export function isoTime(date: Date): string {
  const t = date.getTime();
  if (!(t >= 0 && t < YEAR_10000)) return date.toISOString();
  const ms = t % 1000;
  const seconds = (t - ms) / 1000;
  const days = Math.floor(seconds / DAY);
  const ofDay = seconds - days * DAY;
  const hour = Math.floor(ofDay / 3600);
  const ofHour = ofDay - hour * 3600;
  const minute = Math.floor(ofHour / 60);
  const second = ofHour - minute * 60;
  // civil_from_days: eras of 400 years (146,097 days) from 0000-03-01.
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const dayOfEra = z - era * 146097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36524) - Math.floor(dayOfEra / 146096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const shiftedMonth = Math.floor((5 * dayOfYear + 2) / 153); // 0 = March
  const day = dayOfYear - Math.floor((153 * shiftedMonth + 2) / 5) + 1;
  const month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  return `${year}-${TWO[month]}-${TWO[day]}T${TWO[hour]}:${TWO[minute]}:${TWO[second]}.${THREE[ms]}Z`;
}
