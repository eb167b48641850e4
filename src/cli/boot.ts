// What bin/run.js runs. Start-up (issue 17): `--version` answers without loading oclif, and the
// CLI is compiled from dist/cli/cli.cjs with a V8 code cache, which Node 20 offers for vm.Script
// only (module.enableCompileCache, for ES modules too, arrived in Node 22.1). Whatever goes wrong
// with the cache (missing, stale, corrupt, unwritable) costs a compile, never the command.

import nodeModule, { createRequire } from 'node:module';

// Builtins through require(): an ES import of one builds a module facade of all its exports first.
// node:crypto only where the cache is used: loading it costs more than --version itself (the
// commands load it anyway).
const require = createRequire(import.meta.url);
const sha1 = () => (require('node:crypto') as typeof import('node:crypto')).createHash('sha1');
const fs = require('node:fs') as typeof import('node:fs');
const os = require('node:os') as typeof import('node:os');
const path = require('node:path') as typeof import('node:path');
const { fileURLToPath } = require('node:url') as typeof import('node:url');

type Cli = { run(bin: string): Promise<void> };
type CommonJsWrapper = (exports: object, req: NodeJS.Require, module: { exports: Cli }, filename: string, dirname: string) => void;

export async function boot(bin: string): Promise<void> {
  const argv = process.argv.slice(2);
  const version = isVersionCall(argv) ? userAgent(bin) : null;
  if (version) {
    // fd 1 directly: process.stdout would load Node's streams and net for one line (a few ms).
    try {
      fs.writeSync(1, `${version}\n`);
    } catch (error) {
      // A non-blocking fd 1 that is full: the stream waits. EPIPE: nobody is reading (oclif hung on it, exit 13).
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') process.stdout.write(`${version}\n`);
    }
    return;
  }
  let cli: Cli | null = null;
  if (process.env.DVCL_CODE_CACHE !== '0') {
    // Where Node has module.enableCompileCache (22.1+), it caches the ES modules themselves.
    const { enableCompileCache } = nodeModule as { enableCompileCache?: (dir: string) => unknown };
    if (enableCompileCache) {
      try {
        enableCompileCache(path.join(cacheRoot() ?? os.tmpdir(), 'compile'));
      } catch { /* no cache */ }
    } else {
      cli = loadWithCodeCache(argv);
    }
  }
  await (cli ?? await import('./execute.js')).run(bin);
}

/** The calls oclif answers with its user agent alone: `--version` first (any arguments after it), or `-v` alone. */
export function isVersionCall(argv: string[]): boolean {
  return argv[0] === '--version' || (argv.length === 1 && argv[0] === '-v');
}

/**
 * oclif's `config.userAgent`, `NAME/VERSION PLATFORM-ARCH node-vX` from package.json, or null where
 * oclif would say more than this knows: on WSL (platform `wsl`, which oclif decides with is-wsl)
 * and with DEBUG set (oclif's debug lines). dvcl has no plugins whose init hooks --version would run.
 */
export function userAgent(bin: string): string | null {
  if (process.env.DEBUG || mayBeWsl()) return null;
  try {
    const pjson = JSON.parse(fs.readFileSync(new URL('../package.json', bin), 'utf8')) as { name: string; version?: string };
    const arch = os.arch() === 'ia32' ? 'x86' : os.arch();
    return `${pjson.name}/${pjson.version || '0.0.0'} ${process.platform}-${arch} node-${process.version}`;
  } catch {
    return null;
  }
}

function mayBeWsl(): boolean {
  if (process.platform !== 'linux') return false;
  if (os.release().toLowerCase().includes('microsoft')) return true;
  try {
    if (fs.readFileSync('/proc/version', 'utf8').toLowerCase().includes('microsoft')) return true;
  } catch { /* no /proc */ }
  return fs.existsSync('/proc/sys/fs/binfmt_misc/WSLInterop') || fs.existsSync('/run/WSL');
}

/** dist/cli/cli.cjs, compiled with the cached code of an earlier run of the same command; null without the bundle. */
function loadWithCodeCache(argv: string[]): Cli | null {
  const file = fileURLToPath(new URL('./cli.cjs', import.meta.url));
  let source: string;
  let stat: import('node:fs').Stats;
  try {
    // The stat of the very file read (a build renames a new one into place): V8 checks only the
    // source's length against cached code, so the key must not name a build the code is not from.
    const fd = fs.openSync(file, 'r');
    try {
      stat = fs.fstatSync(fd);
      source = fs.readFileSync(fd, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return null; // built without it: the ESM bundle
  }
  const cache = cachePath(file, stat, argv);
  const cachedData = cache ? readCache(cache) : undefined;
  // oclif's import() of anything not in the bundle (scripts/bundle.js): a vm.Script has no ESM loader of its own.
  (globalThis as Record<symbol, unknown>)[Symbol.for('dvcl.import')] = (url: string) => import(url);
  const vm = require('node:vm') as typeof import('node:vm');
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: file, cachedData });
  // After a run that went through: one that stopped at an error compiled only part of the command.
  if (cache && (!cachedData || script.cachedDataRejected)) process.once('exit', (code) => code === 0 && writeCache(cache, script));
  const module = { exports: {} as Cli };
  (script.runInThisContext() as CommonJsWrapper).call(module.exports, module.exports, createRequire(file), module, file, path.dirname(file));
  return module.exports;
}

/** `$DVCL_CODE_CACHE_DIR`, else oclif's cache dir for dvcl (`$XDG_CACHE_HOME/dvcl`, `~/.cache/dvcl`). */
function cacheRoot(): string | null {
  if (process.env.DVCL_CODE_CACHE_DIR) return process.env.DVCL_CODE_CACHE_DIR;
  try {
    return path.join(process.env.XDG_CACHE_HOME || path.join(process.env.HOME || os.homedir(), '.cache'), 'dvcl');
  } catch {
    return null;
  }
}

/**
 * One file per install, command and build: `INSTALL-COMMAND-BUILD.v8`. V8 rejects code cached by
 * another V8 or other flags by itself; the key keeps two of them from overwriting each other's.
 */
function cachePath(file: string, stat: import('node:fs').Stats, argv: string[]): { dir: string; file: string; prefix: string } | null {
  const dir = cacheRoot();
  if (!dir) return null;
  const command = /^[a-z][a-z-]{0,30}$/.test(argv[0] ?? '') && fs.existsSync(path.join(path.dirname(file), '..', 'commands', `${argv[0]}.js`)) ? argv[0] : '_';
  const hash = (s: string) => sha1().update(s).digest('hex').slice(0, 16);
  const prefix = `${hash(file)}-${command}-`;
  const build = hash(JSON.stringify([stat.size, stat.mtimeMs, stat.ino, process.version, process.arch, process.execArgv, process.env.NODE_OPTIONS ?? '']));
  return { dir: path.join(dir, 'v8'), file: path.join(dir, 'v8', `${prefix}${build}.v8`), prefix };
}

// The file is the SHA-1 of the code cache, then the code cache: V8 checks its header (version,
// flags, source length) but not the rest (--verify-snapshot-checksum is off in release builds),
// and deserializing damaged code cache aborts the process.
function readCache(cache: { file: string }): Buffer | undefined {
  try {
    const bytes = fs.readFileSync(cache.file);
    const data = bytes.subarray(20);
    return data.length > 0 && sha1().update(data).digest().equals(bytes.subarray(0, 20)) ? data : undefined;
  } catch {
    return undefined;
  }
}

/** At exit, so the cache holds every function the command compiled; atomic (temp + rename), and never an error. */
function writeCache(cache: { dir: string; file: string; prefix: string }, script: import('node:vm').Script): void {
  const tmp = `${cache.file}.${process.pid}.tmp`;
  try {
    const data = script.createCachedData();
    fs.mkdirSync(cache.dir, { recursive: true });
    fs.writeFileSync(tmp, Buffer.concat([sha1().update(data).digest(), data]));
    fs.renameSync(tmp, cache.file);
    for (const name of fs.readdirSync(cache.dir)) {
      const other = path.join(cache.dir, name);
      if (name.startsWith(cache.prefix) && name.endsWith('.v8') && other !== cache.file) fs.rmSync(other, { force: true }); // an earlier build's
    }
  } catch {
    try {
      fs.rmSync(tmp, { force: true });
    } catch { /* read-only */ }
  }
}
