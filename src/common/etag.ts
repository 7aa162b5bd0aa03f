import { PreconditionFailedProblem, ValidationProblem } from './problem/problem';

export function etagOf(version: number): string {
  return `"${version}"`;
}

/**
 * Parses an If-Match header into the version it names (undefined when absent). `*` matches
 * any version. A value that is no ETag of ours can never match: 412.
 */
export function expectedVersion(ifMatch: string | undefined): number | undefined {
  if (ifMatch === undefined || ifMatch.trim() === '*') return undefined;
  const match = /^\s*(?:W\/)?"(\d{1,9})"\s*$/.exec(ifMatch);
  if (!match) {
    if (ifMatch.length > 100) throw new ValidationProblem([{ parameter: 'If-Match', detail: 'If-Match is too long' }]);
    throw new PreconditionFailedProblem();
  }
  return Number(match[1]);
}

export function assertVersion(expected: number | undefined, actual: number): void {
  if (expected !== undefined && expected !== actual) throw new PreconditionFailedProblem();
}
