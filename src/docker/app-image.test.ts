// Which images a Dockerfile needs from the engine, and the content address of a localtest image.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { externalFromImages, fromImages } from './app-image.js';
import { localtestImageTag, localtestRepository } from './localtest.js';

describe('FROM images', () => {
  it('lists external images once, without build stages, scratch or build arguments', () => {
    const dockerfile = [
      'ARG BASE=x',
      'FROM --platform=linux/amd64 mse-home-base:0.1.0 AS build',
      'RUN make \\',
      '  all',
      'FROM build AS test',
      'from python:3.11-slim as Runtime',
      'FROM runtime',
      'FROM scratch',
      'FROM ${BASE}',
      'FROM mse-home-base:0.1.0',
    ].join('\n');
    assert.deepEqual(externalFromImages(dockerfile), ['mse-home-base:0.1.0', 'python:3.11-slim']);
    assert.deepEqual(fromImages(dockerfile), [
      'mse-home-base:0.1.0',
      'build',
      'python:3.11-slim',
      'runtime',
      'scratch',
      '${BASE}',
      'mse-home-base:0.1.0',
    ]);
  });
});

describe('localtest image tag', () => {
  const inputs = {
    contextSha256: 'a'.repeat(64),
    dockerfile: 'Dockerfile',
    froms: [{ image: 'mse-home-base:0.1.0', id: 'sha256:' + 'b'.repeat(64) }],
  };

  it('is a stable content address of the build inputs', () => {
    const tag = localtestImageTag(inputs);
    assert.match(tag, /^[0-9a-f]{32}$/);
    assert.equal(localtestImageTag(structuredClone(inputs)), tag);
    assert.equal(localtestRepository('My_App'), 'mse-home-localtest/my_app');
  });

  it('changes with the context, the Dockerfile name and the base image', () => {
    const tag = localtestImageTag(inputs);
    assert.notEqual(localtestImageTag({ ...inputs, contextSha256: 'c'.repeat(64) }), tag);
    assert.notEqual(localtestImageTag({ ...inputs, dockerfile: 'Dockerfile.dev' }), tag);
    assert.notEqual(
      localtestImageTag({ ...inputs, froms: [{ image: 'mse-home-base:0.1.0', id: 'sha256:' + 'd'.repeat(64) }] }),
      tag,
    );
    assert.notEqual(localtestImageTag({ ...inputs, froms: [{ image: 'mse-home-base:0.1.0', id: undefined }] }), tag);
  });
});
