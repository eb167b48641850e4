/** For the commands dvcl runs: bin/run.js sets FORCE_COLOR=0 for dvcl's own output and keeps the user's value. */
export function userEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  const saved = (globalThis as Record<symbol, { value?: string } | undefined>)[Symbol.for('dvcl.userForceColor')];
  if (saved) {
    if (saved.value === undefined) delete env.FORCE_COLOR;
    else env.FORCE_COLOR = saved.value;
  }
  return env;
}
