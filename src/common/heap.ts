import { setFlagsFromString } from 'node:v8';

/**
 * How far V8 lets the old generation grow past what survived the last full collection before
 * the next one: `percent` of the live heap (V8 reads the flag at every collection, so setting
 * it at start-up is enough); 0 leaves V8's own factor. V8 picks that factor from how cheap its
 * collections are, up to 4× the live heap: under steady traffic Canopy's ~50 MB of live heap
 * grew to ~190 MB of mostly garbage between two full collections (RSS 140 → 290 MiB, then
 * back), which looked like a leak. At 50 % the heap stays within 1.5× the live size, for one
 * short, mostly incremental full collection every few tens of seconds.
 */
export function limitHeapGrowth(percent: number): void {
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}
