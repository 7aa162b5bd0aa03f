import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * The repository stands alone: its documentation lives in README.md and docs/, nothing in it
 * points at a folder next to the clone, and every relative link of the documentation resolves
 * to a file (and heading) inside the repository.
 */
const ROOT = path.resolve(__dirname, '..');
const SKIPPED_DIRS = new Set(['node_modules', '.git', 'dist', '.data', 'coverage']);

/** Tracked and new (not ignored) files; without git, a walk of the working tree. */
function repositoryFiles(): string[] {
  try {
    const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' });
    return out
      .split('\0')
      .filter((f) => f && !f.split('/').some((part) => SKIPPED_DIRS.has(part)))
      .filter((f) => existsSync(path.join(ROOT, f)));
  } catch {
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
        if (SKIPPED_DIRS.has(entry.name)) continue;
        const rel = dir ? `${dir}/${entry.name}` : entry.name;
        if (entry.isDirectory()) walk(rel);
        else if (entry.isFile()) files.push(rel);
      }
    };
    walk('');
    return files;
  }
}

function documentationFiles(): string[] {
  const docs = existsSync(path.join(ROOT, 'docs'))
    ? readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)
    : [];
  return ['README.md', ...docs];
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let inFence = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) inFence = !inFence;
    const heading = inFence ? null : /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const text = heading[1].replace(/`/g, '').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const base = text.toLowerCase().replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '').replace(/ /g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count ? `${base}-${count}` : base);
  }
  return anchors;
}

/** Inline links and images outside code fences and code spans: [text](target "title"). */
function linksOf(markdown: string): Array<{ line: number; target: string }> {
  const links: Array<{ line: number; target: string }> = [];
  let inFence = false;
  markdown.split('\n').forEach((raw, index) => {
    if (/^\s*```/.test(raw)) {
      inFence = !inFence;
      return;
    }
    if (inFence) return;
    const line = raw.replace(/`[^`]*`/g, (span) => ' '.repeat(span.length));
    for (const match of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      links.push({ line: index + 1, target: match[1] });
    }
  });
  return links;
}

describe('documentation stands alone', () => {
  it('no file of the repository refers to a shared folder outside it', () => {
    // Built from parts so that this file does not match itself.
    const outside = [['..', 'shared'].join('/'), ['', 'work', 'shared'].join('/')];
    const offenders: string[] = [];
    for (const file of repositoryFiles()) {
      const full = path.join(ROOT, file);
      if (statSync(full).size > 5 * 1024 * 1024) continue;
      const text = readFileSync(full, 'utf8');
      if (text.includes('\0')) continue; // binary
      text.split('\n').forEach((line, i) => {
        if (outside.some((needle) => line.includes(needle))) offenders.push(`${file}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });

  it('the documentation exists: README.md links docs/, and docs/ has the contract and the worked examples', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    expect(linksOf(readme).map((l) => l.target)).toEqual(expect.arrayContaining(['docs/contract.md', 'docs/examples.md']));
    expect(documentationFiles()).toEqual(expect.arrayContaining(['docs/README.md', 'docs/contract.md', 'docs/examples.md']));
  });

  it('every relative link in README.md and docs/*.md points to a file (and heading) inside the repository', () => {
    const broken: string[] = [];
    for (const file of documentationFiles()) {
      const text = readFileSync(path.join(ROOT, file), 'utf8');
      for (const { line, target } of linksOf(text)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: …
        const [rawPath, fragment] = target.split('#', 2);
        const resolved = rawPath ? path.resolve(ROOT, path.dirname(file), decodeURIComponent(rawPath)) : path.join(ROOT, file);
        const where = `${file}:${line}: ${target}`;
        if (resolved !== ROOT && !resolved.startsWith(ROOT + path.sep)) {
          broken.push(`${where} (leaves the repository)`);
        } else if (!existsSync(resolved)) {
          broken.push(`${where} (no such file)`);
        } else if (fragment && resolved.endsWith('.md') && !anchorsOf(readFileSync(resolved, 'utf8')).has(fragment)) {
          broken.push(`${where} (no such heading)`);
        }
      }
    }
    expect(broken).toEqual([]);
  });
});
