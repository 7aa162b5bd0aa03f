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

/**
 * Turns off V8's allocation-site pretenuring: allocating the objects of an allocation site
 * straight into the old generation once most of them were seen surviving a young collection.
 * An idle process is what teaches it the wrong lesson: after a pause (a minute of no traffic,
 * or of a long seed or migration elsewhere) the last objects allocated by the request path
 * were all still alive at the next collection, so their sites were pretenured, and from then
 * on every request's short-lived objects (query results, rows, promises) went to the old
 * generation: scavenges 2–5 times longer (old-to-new pointers to visit), and full collections
 * every second or two that a fresh process never needed. The same subtree page cost 20–30 %
 * more Node CPU in a process that had idled than in a fresh one (bench/RESULTS.md, sixth
 * session); with pretenuring off both cost the same. V8 reads the flag when it decides, so
 * setting it at start-up is enough.
 */
export function disablePretenuring(): void {
  setFlagsFromString('--no-allocation-site-pretenuring');
}
