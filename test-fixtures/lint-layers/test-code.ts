// as src/package/layer-fixture.ts
// Source code may not import test helpers.
import { REPO_ROOT } from '../testing/vectors.js';

export const root = REPO_ROOT;
