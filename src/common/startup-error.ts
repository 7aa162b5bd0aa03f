/**
 * A start-up failure the user can fix: its message is one sentence that says what is wrong
 * and names the fix. main prints it alone (no stack trace) and exits non-zero.
 */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}

const DISK_FULL = 'free some space on that disk (df -h), or set DATA_DIR to a disk with room';

/**
 * One sentence for any error that stops start-up. Known causes name their fix; anything
 * else keeps its message only (the stack is for LOG_LEVEL=debug).
 */
export function explainStartupFailure(error: unknown, where: { host: string; port: number }): string {
  if (error instanceof StartupError) return error.message;
  const e = (error ?? {}) as { code?: unknown; syscall?: unknown; message?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(error);
  if (e.syscall === 'listen' || /\blisten\b/.test(message)) {
    if (e.code === 'EADDRINUSE') {
      return `port ${where.port} on ${where.host} is already in use (another Canopy, or another program, listens there): stop it, or set PORT to a free port.`;
    }
    if (e.code === 'EACCES') {
      return `this user may not listen on port ${where.port} (ports below 1024 need privileges): set PORT to 1024 or above.`;
    }
    if (e.code === 'EADDRNOTAVAIL') {
      return `HOST ${where.host} is not an address of this machine: set HOST to 0.0.0.0 or to one of its addresses.`;
    }
  }
  if (e.code === 'ENOSPC' || e.code === '53100' || /No space left on device/i.test(message)) {
    return `there is no space left on the device: ${DISK_FULL}.`;
  }
  const oneLine = message.split('\n')[0].trim().replace(/[.:]$/, '');
  return `${oneLine} (set LOG_LEVEL=debug to see where it happened).`;
}

/** The fix for a full disk, shared with the embedded PostgreSQL's own messages. */
export function diskFullFix(): string {
  return DISK_FULL;
}
