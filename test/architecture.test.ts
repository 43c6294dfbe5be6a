import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

// The shape of src/: no import cycle, lower layers free of GraphQL, and no module that starts
// anything when it is imported (src/main.ts is the one start).

const SRC = resolve('src');
// tsx's loader by path: the child runs in an empty directory, where `--import tsx` finds nothing.
const TSX = pathToFileURL(resolve('node_modules/tsx/dist/loader.mjs')).href;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return path === join(SRC, 'generated') ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

const files = sourceFiles(SRC);
const name = (path: string) => relative(process.cwd(), path);

// Every `import … from`, `export … from`, `import '…'` and `import('…')`, type-only ones included.
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([^'"]+)['"]/g;

function specifiersOf(path: string): string[] {
  const text = readFileSync(path, 'utf8').replace(/\/\*[\s\S]*?\*\/|(^|[^:])\/\/.*$/gm, '$1');
  return [...text.matchAll(SPECIFIER)].map((match) => match[1]!);
}

/** The files under src/ (outside generated/) that `path` imports. */
function localImports(path: string): string[] {
  return specifiersOf(path)
    .filter((specifier) => specifier.startsWith('.'))
    .map((specifier) => resolve(dirname(path), specifier.replace(/\.js$/, '.ts')))
    .filter((target) => files.includes(target));
}

describe('src/', () => {
  it('has no import cycle', () => {
    const graph = new Map(files.map((file) => [file, localImports(file)]));
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    let cycle: string[] | null = null;
    const visit = (file: string) => {
      if (cycle) return;
      state.set(file, 'open');
      stack.push(file);
      for (const next of graph.get(file)!) {
        if (state.get(next) === 'open') {
          cycle = [...stack.slice(stack.indexOf(next)), next].map(name);
          return;
        }
        if (!state.has(next)) visit(next);
        if (cycle) return;
      }
      stack.pop();
      state.set(file, 'done');
    };
    for (const file of files) if (!state.has(file)) visit(file);
    expect(cycle, cycle ? `import cycle: ${(cycle as string[]).join(' → ')}` : '').toBeNull();
  });

  it('keeps GraphQL out of the lower layers (domain, db, stores, logs)', () => {
    const lower = files.filter((file) => {
      const path = name(file);
      return /^src\/(domain|db)\//.test(path) || /\/(store|log)\.ts$/.test(path);
    });
    expect(lower.length).toBeGreaterThan(10);
    const graphqlPackage = /^(graphql|graphql-yoga|@pothos\/.*|@graphql-yoga\/.*|@envelop\/.*)$/;
    const offences = lower.flatMap((file) => {
      const bad = specifiersOf(file).filter((specifier) => {
        if (!specifier.startsWith('.')) return graphqlPackage.test(specifier);
        const target = name(resolve(dirname(file), specifier));
        return target.startsWith('src/schema/') || target.endsWith('/schema.js') || target === 'src/context.js';
      });
      return bad.map((specifier) => `${name(file)} imports ${specifier}`);
    });
    expect(offences).toEqual([]);
  });

  it('lets only the rules themselves mark a value checked (src/domain/ and access/tokens.ts)', () => {
    const marking = files.filter((file) => localImports(file).includes(join(SRC, 'domain/checked.ts')));
    const offences = marking
      .filter((file) => /\baccept\b/.test(readFileSync(file, 'utf8')))
      .map(name)
      .filter((path) => !path.startsWith('src/domain/') && path !== 'src/access/tokens.ts');
    expect(marking.length).toBeGreaterThan(2);
    expect(offences).toEqual([]);
  });

  it('starts nothing on import: no exit, no handle, no connection, no data directory', () => {
    // The server's start and the console page's (run by the browser).
    const starts = [join(SRC, 'main.ts'), join(SRC, 'console/client/main.ts')];
    const modules = files.filter((file) => !starts.includes(file));
    const cwd = mkdtempSync(join(tmpdir(), 'ipdr-import-'));
    try {
      const script = [
        ...modules.map((file) => `await import(${JSON.stringify(pathToFileURL(file).href)});`),
        // What is left once every import has settled: anything a module opened is still here.
        'await new Promise((resolve) => setImmediate(resolve));',
        'console.log(JSON.stringify(process.getActiveResourcesInfo()));',
      ].join('\n');
      const started = Date.now();
      const child = spawnSync(process.execPath, ['--import', TSX, '--input-type=module', '-e', script], {
        cwd,
        env: { PATH: process.env.PATH, HOME: process.env.HOME },
        encoding: 'utf8',
        timeout: 120_000,
      });
      const seconds = (Date.now() - started) / 1000;
      expect(child.error, String(child.error)).toBeUndefined();
      expect(child.status, child.stderr).toBe(0);
      // Exited by itself: nothing kept the event loop alive after the last line.
      expect(seconds).toBeLessThan(120);
      const resources = JSON.parse(child.stdout.trim().split('\n').pop()!) as string[];
      // Node's own: the stdout pipe the child writes to.
      expect(resources.filter((resource) => !['PipeWrap', 'TTYWrap'].includes(resource))).toEqual([]);
      expect(existsSync(join(cwd, 'data'))).toBe(false);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
