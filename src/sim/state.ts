/**
 * Where the simulated platform keeps its identity: `$MSE_HOME_STATE_DIR/sim` when that variable is set,
 * else `$XDG_STATE_HOME/mse-home/sim` (an absolute XDG_STATE_HOME only, per the XDG spec), else
 * `~/.local/state/mse-home/sim`. The directory is private (0700).
 */
import os from 'node:os';
import path from 'node:path';

/** Root of mse-home's operator-side state (the parent of `sim/`). */
export function stateRoot(env: NodeJS.ProcessEnv = process.env): string {
  const override = env['MSE_HOME_STATE_DIR'];
  if (override) return path.resolve(override);
  const xdg = env['XDG_STATE_HOME'];
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.local', 'state');
  return path.join(base, 'mse-home');
}

/** Directory of the simulated platform identity. */
export function simStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(stateRoot(env), 'sim');
}
