import { pbkdf2Sync, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

/**
 * Card PINs (prepaid-card batches, SPEC §15): how they are drawn and how their web-password
 * hash is made and checked.
 *
 * A PIN's hash is PBKDF2-HMAC-SHA256 with a random 16-byte salt per account and
 * `PIN_HASH_ITERATIONS` iterations, stored in a self-describing form
 * (`$pbkdf2-sha256$i=200$<salt>$<hash>`, base64 without padding) beside the argon2id hashes
 * of every other password, and `PasswordHasher.verify` checks either by its prefix. Why not
 * argon2id as for other passwords: at the configured cost (19 MiB, ~50–100 ms a hash) 10,000
 * PINs take many minutes, and even at its cheapest (~0.3 ms a call through libuv's thread
 * pool) the hashing alone outlasts the 10-second budget of a 10,000-card batch on a busy
 * two-core machine. What it trades: a stolen hash of an 8-digit PIN (10^8 candidates) is
 * guessed in minutes on one core instead of months. It costs card accounts nothing real: the
 * PIN is also the account's VoIP password, which the accounts table holds as SIP digest
 * authentication needs it (as every `voipPassword`), so whoever can read the hashes can read
 * the PIN itself. What protects a PIN is the login limiter (`LOGIN_MAX_FAILURES`).
 */
export const PIN_HASH_ITERATIONS = 200;
const PIN_HASH_PREFIX = '$pbkdf2-sha256$';
const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** Hashes computed per turn of the event loop (a few milliseconds), so that other requests are served in between. */
const HASHES_PER_TURN = 200;

/** A random PIN of `length` digits (leading zeros kept), from the operating system's CSPRNG. */
export function randomPin(length: number): string {
  return String(randomInt(0, 10 ** length)).padStart(length, '0');
}

function pinHash(pin: string, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(pin, salt, iterations, KEY_BYTES, 'sha256');
}

const b64 = (bytes: Buffer) => bytes.toString('base64').replace(/=+$/, '');

/** The stored hash of each PIN, each with its own salt. Yields to the event loop between slices. */
export async function hashPins(pins: readonly string[]): Promise<string[]> {
  const salts = randomBytes(SALT_BYTES * pins.length);
  const hashes = new Array<string>(pins.length);
  for (let i = 0; i < pins.length; i++) {
    if (i > 0 && i % HASHES_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
    const salt = salts.subarray(i * SALT_BYTES, (i + 1) * SALT_BYTES);
    hashes[i] = `${PIN_HASH_PREFIX}i=${PIN_HASH_ITERATIONS}$${b64(salt)}$${b64(pinHash(pins[i], salt, PIN_HASH_ITERATIONS))}`;
  }
  return hashes;
}

/** Whether a stored web-password hash is a card PIN's (else argon2id). */
export function isPinHash(hash: string): boolean {
  return hash.startsWith(PIN_HASH_PREFIX);
}

/** Checks a secret against a card PIN's hash (constant time in the secret). */
export function verifyPinHash(hash: string, secret: string): boolean {
  const match = /^\$pbkdf2-sha256\$i=([0-9]{1,7})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(hash);
  if (!match || Number(match[1]) < 1) return false;
  const expected = Buffer.from(match[3], 'base64');
  const actual = pinHash(secret, Buffer.from(match[2], 'base64'), Number(match[1]));
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
