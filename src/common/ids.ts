import { v7 } from 'uuid';

/**
 * A new id for a row written in volume (ledger entries, their audit events, calls): a UUID of
 * version 7 (RFC 9562: the milliseconds since 1970, then random bits; `uuid`'s `v7` keeps them
 * increasing within the process). Ids that grow with time are added at the right edge of their
 * primary-key index instead of at a random leaf: on a 1,000-operation batch that was a tenth of
 * THE posting statement's time (bench/RESULTS.md, issue 12). The time in the id is the row's
 * creation time, which its `createdAt` shows anyway; ids stay unguessable enough for what they
 * are (every read is scoped, an id grants nothing) and unique (the primary key holds them).
 */
export const newRowId = (): string => v7();
