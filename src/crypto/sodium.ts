/**
 * libsodium, initialised once. Node's crypto has no XSalsa20, so sealed boxes and secretboxes go through
 * libsodium-wrappers (the WebAssembly build of libsodium itself, byte-compatible with PyNaCl and MSE).
 */
import sodiumModule from 'libsodium-wrappers';

let ready: Promise<typeof sodiumModule> | undefined;

/** The initialised libsodium instance. */
export function sodium(): Promise<typeof sodiumModule> {
  ready ??= sodiumModule.ready.then(() => sodiumModule);
  return ready;
}
