// as src/sim/layer-fixture.ts
// sim and sgx are peer platforms in one layer: neither may import the other.
export { SGX_BASE_IMAGE } from '../sgx/base-image.js';
