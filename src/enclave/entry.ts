/** Process entry of the bundled bootstrap (`dist/enclave/bootstrap.mjs`): `mse-run [options]`. */
import { runBootstrap } from './bootstrap.js';

process.exit(await runBootstrap(process.argv.slice(2)));
