import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
// The built package, as `import … from 'dvcl'` resolves it (package.json `exports`).
import { Manifest } from '../dist/index.js';

let dir = '';
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function project(files: Record<string, string>): string {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'dvcl-lib-')));
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

/** A Node script's incremental loop, as the README shows it. */
async function processAll(root: string, files: string[], parse: (f: string) => string): Promise<string[]> {
  const m = await Manifest.load({ root, stage: 'parse', maxAttempts: 2 });
  const ran: string[] = [];
  for (const f of files) {
    const out = `out/${path.basename(f, '.txt')}.json`;
    if (!m.shouldProcess(f, { output: out })) continue;
    ran.push(f);
    try {
      fs.mkdirSync(path.join(root, 'out'), { recursive: true });
      fs.writeFileSync(path.join(root, out), parse(fs.readFileSync(path.join(root, f), 'utf8')));
      m.recordSuccess(f, { output: out });
    } catch (e) {
      m.recordFailure(f, e);
    }
  }
  m.save();
  return ran;
}

describe('the library: per-file incremental processing without the CLI', () => {
  it('processes new, changed and failed files only, and remembers across runs', async () => {
    const root = project({ 'in/a.txt': 'a', 'in/b.txt': 'b', 'in/bad.txt': 'BAD' });
    const files = ['in/a.txt', 'in/b.txt', 'in/bad.txt'];
    const parse = (t: string) => {
      if (t === 'BAD') throw new Error('cannot parse BAD');
      return JSON.stringify({ t });
    };
    expect(await processAll(root, files, parse)).toEqual(files);
    expect(await processAll(root, files, parse)).toEqual(['in/bad.txt']); // failed, attempts left
    expect(await processAll(root, files, parse)).toEqual([]); // given up after maxAttempts 2

    fs.writeFileSync(path.join(root, 'in/a.txt'), 'a2');
    fs.rmSync(path.join(root, 'out/b.json'));
    expect(await processAll(root, files, parse)).toEqual(['in/a.txt', 'in/b.txt']);

    const data = JSON.parse(fs.readFileSync(path.join(root, '.manifest.json'), 'utf8'));
    const items = data.stages.parse.items;
    expect(items['in/a.txt']).toMatchObject({ status: 'success', output: 'out/a.json' });
    expect(items['in/bad.txt']).toMatchObject({ status: 'failed', attempts: 2, reason: 'cannot parse BAD' });
    expect(fs.readFileSync(path.join(root, '.manifest.json'), 'utf8')).not.toContain(root);
    expect(fs.existsSync(path.join(root, '.manifest.json.bak'))).toBe(true);

    const m = await Manifest.load({ root, stage: 'parse', maxAttempts: 2 });
    expect(m.failed()).toEqual(['in/bad.txt']);
    expect(m.statistics()).toEqual({ total: 3, success: 2, failed: 1, pending: 0, given_up: 1 });
    expect(m.shouldProcess('in/bad.txt', { force: true })).toBe(true);
    fs.rmSync(path.join(root, 'in/b.txt'));
    expect(m.pruneDeleted()).toEqual(['in/b.txt']);
    expect(fs.existsSync(path.join(root, 'out/b.json'))).toBe(true); // never deletes files
    m.save();
    expect(Object.keys(JSON.parse(fs.readFileSync(path.join(root, '.manifest.json'), 'utf8')).stages.parse.items)).toEqual(['in/a.txt', 'in/bad.txt']);
  });

  it('checks files recorded with another algorithm with that one, and records changed ones with its own', async () => {
    const root = project({ 'in/a.txt': 'a', 'in/b.txt': 'b' });
    const files = ['in/a.txt', 'in/b.txt'];
    const run = async (algorithm: 'xxh128' | 'sha256') => {
      const m = await Manifest.load({ root, stage: 'parse', algorithm });
      const ran = files.filter((f) => m.shouldProcess(f));
      for (const f of ran) m.recordSuccess(f);
      m.save();
      return ran;
    };
    const hashes = () => Object.values(JSON.parse(fs.readFileSync(path.join(root, '.manifest.json'), 'utf8')).stages.parse.items).map((i) => (i as { hash: string }).hash.split(':')[0]);
    expect(await run('xxh128')).toEqual(files);
    expect(await run('sha256')).toEqual([]); // nothing changed: nothing to process
    fs.writeFileSync(path.join(root, 'in/b.txt'), 'b2');
    expect(await run('sha256')).toEqual(['in/b.txt']);
    expect(hashes()).toEqual(['xxh128', 'sha256']);
    expect(await run('sha256')).toEqual([]);
  });

  it('a run that processes every file again with the same results leaves .manifest.json as it was', async () => {
    const root = project({ 'in/a.txt': 'a', 'in/b.txt': 'b' });
    const files = ['in/a.txt', 'in/b.txt'];
    expect(await processAll(root, files, (t) => t.toUpperCase())).toEqual(files);
    const before = fs.readFileSync(path.join(root, '.manifest.json'), 'utf8');
    const m = await Manifest.load({ root, stage: 'parse' });
    for (const f of files) {
      expect(m.shouldProcess(f, { force: true })).toBe(true);
      fs.writeFileSync(path.join(root, `out/${path.basename(f, '.txt')}.json`), fs.readFileSync(path.join(root, f), 'utf8').toUpperCase());
      m.recordSuccess(f, { output: `out/${path.basename(f, '.txt')}.json` });
    }
    m.save();
    expect(fs.readFileSync(path.join(root, '.manifest.json'), 'utf8')).toBe(before);
    expect(fs.existsSync(path.join(root, '.manifest.json.bak'))).toBe(false);
  });

  it('refuses a path outside the project root', async () => {
    const root = project({ 'in/a.txt': 'a' });
    const m = await Manifest.load({ root });
    expect(() => m.shouldProcess('../elsewhere.txt')).toThrow(/outside the project root/);
  });
});

describe('the library: repro() from a Node script', () => {
  it('installs no signal handlers of its own, and stops the orderly way when its AbortSignal aborts', async () => {
    const { repro } = await import('../dist/index.js');
    const root = project({
      '.pipelinerc': 'stages:\n  slow:\n    cmd: sleep 30 && echo done > slow.txt\n    outs: [slow.txt]\n',
    });
    const before = ['SIGINT', 'SIGTERM', 'SIGHUP'].map((s) => process.listenerCount(s));
    const stop = new AbortController();
    let seen: number[] = [];
    const run = repro({ cwd: root, signal: stop.signal, reporter: { stageStart: () => {
      seen = ['SIGINT', 'SIGTERM', 'SIGHUP'].map((s) => process.listenerCount(s));
      setTimeout(() => stop.abort('SIGINT'), 200);
    } } });
    const result = await run;
    expect(seen).toEqual(before); // while the stage ran: the script's own handlers only
    expect(result.interrupted).toBe('SIGINT');
    expect(result.stages[0]).toMatchObject({ name: 'slow', result: 'failed', error: 'interrupted (SIGINT)' });
    expect(fs.existsSync(path.join(root, 'slow.txt'))).toBe(false); // the command was stopped, not waited for
    expect(fs.existsSync(path.join(root, '.dvcl', 'run.lock'))).toBe(false); // the run lock released
  }, 30_000);
});
