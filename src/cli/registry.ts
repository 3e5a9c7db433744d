/**
 * The command table: name, one-line summary and a lazy loader per command. Only the summary lives here, so
 * `mse home --help` never imports a command module.
 */
import type { CommandSpec } from './command.js';

export interface CommandEntry {
  name: string;
  summary: string;
  /** Which side of the flow uses it; groups the help listing. */
  role: 'provider' | 'operator' | 'tools';
  load: () => Promise<{ default: CommandSpec }>;
}

export const COMMANDS: CommandEntry[] = [
  {
    name: 'base build',
    role: 'tools',
    summary: 'Build the local base image mse-home-base from Debian packages',
    load: () => import('./commands/base-build.js'),
  },
];

/** Find the entry matching the longest prefix of `words` (commands may have two words, e.g. `quote show`). */
export function findCommand(words: string[]): { entry: CommandEntry; consumed: number } | undefined {
  let best: { entry: CommandEntry; consumed: number } | undefined;
  for (const entry of COMMANDS) {
    const parts = entry.name.split(' ');
    if (parts.length <= words.length && parts.every((p, i) => words[i] === p)) {
      if (!best || parts.length > best.consumed) best = { entry, consumed: parts.length };
    }
  }
  return best;
}
