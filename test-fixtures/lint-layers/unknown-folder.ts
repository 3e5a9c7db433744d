// as src/attestation/layer-fixture.ts
// A folder that is in no layer is refused until it takes a place in the order.
export * from '../newfolder/thing.js';
