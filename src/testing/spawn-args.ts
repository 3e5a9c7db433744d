/** Valid spawn arguments for tests (every rule of `launch/args.ts` holds; expiration in 2030). Tests only. */
import type { InputArgs } from '../launch/args.js';

export const EXAMPLE_SPAWN_ARGS: Readonly<InputArgs> = {
  size: 2048,
  subject: 'CN=localhost,O=Example,C=FR',
  san: 'localhost',
  appId: '0b1c8a52-3a2e-4d6b-9a7e-5f1e2d3c4b5a',
  application: 'app:app',
  expiration: 1_900_000_000,
};
