// Gramine 1.9's manifest rules in TypeScript: the vectors' manifests (inputs and what Gramine's signer
// wrote), every kind of problem, the removed keys and their hints, and what `strict` adds.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { readVector, vectorPath } from '../testing/vectors.js';
import { checkManifest, validateManifest, type ManifestProblem } from './manifest-schema.js';
import { parseManifestToml } from './toml.js';

const check = (text: string, strict = false): ManifestProblem[] =>
  validateManifest(parseManifestToml(text), { strict });
const keys = (problems: ManifestProblem[]): [string, string][] => problems.map((p) => [p.key, p.kind]);

/** A minimal valid manifest, with `extra` TOML appended. */
const valid = (extra = ''): string =>
  [
    'libos.entrypoint = "/usr/bin/app"',
    'loader.entrypoint.uri = "file:/usr/lib/x86_64-linux-gnu/gramine/libsysdb.so"',
    'fs.mounts = [{ path = "/lib", uri = "file:/usr/lib/x86_64-linux-gnu/gramine/runtime/glibc" }]',
    extra,
  ].join('\n');

describe('Gramine 1.9 manifest rules', () => {
  const cases = readdirSync(vectorPath('gramine')).filter((d) => d.startsWith('case'));

  it('accept the manifests of the Gramine vectors, inputs and final, except the fs table gramine-manifest requires', () => {
    assert.ok(cases.length >= 6);
    for (const c of cases) {
      for (const file of [
        ['input', 'app.manifest'],
        ['expected', 'app.manifest.sgx'],
      ]) {
        const text = Buffer.from(readVector('gramine', c, ...file)).toString('utf8');
        const doc = parseManifestToml(text);
        // gramine-sgx-sign signed these; its schema check (gramine-manifest's) also wants fs.mounts
        const expected: [string, string][] = doc.has('fs') ? [] : [['fs', 'missing']];
        assert.deepEqual(keys(validateManifest(doc)), expected, `${c}/${file.join('/')}`);
      }
    }
  });

  it('with strict, name what undoes the enclave’s protection in the vectors', () => {
    const strict = (c: string) =>
      keys(check(Buffer.from(readVector('gramine', c, 'input', 'app.manifest')).toString('utf8'), true)).filter(
        ([, kind]) => kind === 'insecure',
      );
    assert.deepEqual(strict('case01_minimal_defaults'), [['sgx.debug', 'insecure']]);
    assert.deepEqual(strict('case02_256M_t8_prod_isv'), [['sgx.allowed_files', 'insecure']]);
    assert.deepEqual(strict('case03_1G_t16_debug_dir'), [
      ['sgx.debug', 'insecure'],
      ['loader.insecure__use_cmdline_argv', 'insecure'],
    ]);
    assert.deepEqual(strict('case04_4G_t4_prod_cpufeat'), []);
  });

  it('refuse unknown keys, wrong types and values not in their enums', () => {
    assert.deepEqual(check(valid()), []);
    assert.deepEqual(keys(check(valid('sgx.enclave_sise = "1G"'))), [['sgx.enclave_sise', 'unknown-key']]);
    assert.deepEqual(keys(check(valid('[extra]\na = 1'))), [['extra', 'unknown-key']]);
    assert.deepEqual(keys(check(valid('sgx.trusted_files_cache_size = "1M"'))), [
      ['sgx.trusted_files_cache_size', 'unknown-key'],
    ]);
    // stricter than Python, where a boolean is an int
    assert.deepEqual(keys(check(valid('sgx.max_threads = true'))), [['sgx.max_threads', 'type']]);
    assert.deepEqual(keys(check(valid('sgx.debug = "false"'))), [['sgx.debug', 'type']]);
    assert.deepEqual(keys(check(valid('sgx.isvprodid = 65536'))), [['sgx.isvprodid', 'value']]);
    assert.deepEqual(keys(check(valid('sgx.enclave_size = "1.5G"'))), [['sgx.enclave_size', 'value']]);
    assert.deepEqual(keys(check(valid('sgx.enclave_size = "3G"'))), [['sgx.enclave_size', 'value']]);
    assert.deepEqual(keys(check(valid('sys.stack.size = "2m"'))), [['sys.stack.size', 'value']]);
    assert.deepEqual(keys(check(valid('loader.log_level = "verbose"'))), [['loader.log_level', 'value']]);
    assert.deepEqual(keys(check(valid('sgx.cpu_features.mpx = "unspecified"'))), [['sgx.cpu_features.mpx', 'value']]);
    assert.deepEqual(keys(check(valid('sgx.file_check_policy = "lax"'))), [['sgx.file_check_policy', 'value']]);
    assert.deepEqual(keys(check(valid('sgx.trusted_files = ["/usr/bin/app", { sha256 = "00" }]'))), [
      ['sgx.trusted_files[0]', 'value'],
      ['sgx.trusted_files[1].uri', 'missing'],
      ['sgx.trusted_files[1].sha256', 'value'],
    ]);
    assert.deepEqual(keys(check(valid('sys.allowed_ioctls = [{ struct = "x" }]'))), [
      ['sys.allowed_ioctls[0].request_code', 'missing'],
    ]);
  });

  it('refuse mounts that are none of Gramine’s forms', () => {
    // the valid manifest's own /lib mount is fs.mounts[0]; the one under test is fs.mounts[1]
    const mount = (m: string) =>
      keys(
        check(
          valid().replace(
            /^fs\.mounts = \[\{ (.*) \}\]$/m,
            (_, kv: string) => `[[fs.mounts]]\n${kv.replace(', ', '\n')}`,
          ) + `\n[[fs.mounts]]\n${m}`,
        ),
      );
    assert.deepEqual(mount('path = "/tmp"\ntype = "tmpfs"'), []);
    assert.deepEqual(mount('path = "/enc"\nuri = "file:enc"\ntype = "encrypted"\nkey_name = "_sgx_mrsigner"'), []);
    assert.deepEqual(mount('path = "/d"\nuri = "dev:/dev/x"'), []);
    assert.deepEqual(mount('path = "/enc"\nuri = "file:enc"\ntype = "encrypted"\nkey_name = "_mine"'), [
      ['fs.mounts[1].key_name', 'value'],
    ]);
    assert.deepEqual(mount('path = "/x"\nuri = "file:x"\nkey_name = "k"'), [['fs.mounts[1].key_name', 'unknown-key']]);
    assert.deepEqual(mount('path = "relative"\nuri = "file:x"'), [['fs.mounts[1].path', 'value']]);
    assert.deepEqual(mount('uri = "file:x"'), [['fs.mounts[1].path', 'missing']]);
    assert.deepEqual(mount('path = "/x"\ntype = "overlay"\nuri = "file:x"'), [['fs.mounts[1].type', 'value']]);
    assert.deepEqual(mount('path = "/x"\ntype = "encrypted"\nuri = "dev:x"'), [['fs.mounts[1].uri', 'value']]);
    assert.deepEqual(keys(check(valid('fs.root = { uri = "file:/" }'))), []);
    assert.deepEqual(keys(check(valid('fs.root = { uri = "file:/", path = "/" }'))), [['fs.root.path', 'unknown-key']]);
  });

  it('refuse the keys earlier Gramine releases had, with what replaced them', () => {
    const removed = (extra: string): [string, string | undefined][] =>
      check(valid(extra)).map((p) => [p.key, p.kind === 'removed' ? p.hint : `(${p.kind})`]);
    const cases: [string, string, RegExp][] = [
      ['sgx.thread_num = 8', 'sgx.thread_num', /sgx\.max_threads/],
      ['sgx.nonpie_binary = true', 'sgx.nonpie_binary', /Removed in Gramine 1\.5/],
      ['loader.preload = "file:x"', 'loader.preload', /loader\.entrypoint/],
      ['sgx.require_avx = true', 'sgx.require_avx', /cpu_features\.avx/],
      ['sgx.require_exinfo = true', 'sgx.require_exinfo', /use_exinfo/],
      ['sgx.protected_files = []', 'sgx.protected_files', /encrypted/],
      ['sgx.protected_mrenclave_files = []', 'sgx.protected_mrenclave_files', /_sgx_mrenclave/],
      ['sgx.insecure__protected_files_key = "00"', 'sgx.insecure__protected_files_key', /fs\.insecure__keys/],
      ['sgx.ra_client_spid = "x"', 'sgx.ra_client_spid', /EPID/],
      ['sgx.allowed_ioctls = []', 'sgx.allowed_ioctls', /sys\.allowed_ioctls/],
      ['loader.argv0_override = "x"', 'loader.argv0_override', /loader\.argv/],
      ['loader.pal_internal_mem_size = "64M"', 'loader.pal_internal_mem_size', /PAL/],
      ['fs.mount.lib.path = "/lib"', 'fs.mount', /fs\.mounts/],
      ['sgx.remote_attestation = true', 'sgx.remote_attestation', /"dcap"/],
      ['sgx.remote_attestation = "epid"', 'sgx.remote_attestation', /dcap/],
    ];
    for (const [extra, key, hint] of cases) {
      const got = removed(extra);
      assert.equal(got.length, 1, `${extra}: ${JSON.stringify(got)}`);
      assert.equal(got[0]![0], key, extra);
      assert.match(got[0]![1] ?? '', hint, extra);
    }
    // the string form of loader.entrypoint and the URI form of libos.entrypoint (both gone in 1.9)
    const text = valid().replace(
      'loader.entrypoint.uri = "file:/usr/lib/x86_64-linux-gnu/gramine/libsysdb.so"',
      'loader.entrypoint = "file:/usr/lib/x86_64-linux-gnu/gramine/libsysdb.so"',
    );
    assert.deepEqual(
      check(text).map((p) => [p.key, p.kind, p.hint]),
      [
        [
          'loader.entrypoint',
          'removed',
          'Write loader.entrypoint.uri = "file:/usr/lib/x86_64-linux-gnu/gramine/libsysdb.so".',
        ],
      ],
    );
    assert.deepEqual(
      check(valid().replace('libos.entrypoint = "/usr/bin/app"', 'libos.entrypoint = "file:/usr/bin/app"')).map((p) => [
        p.key,
        p.kind,
        p.hint,
      ]),
      [['libos.entrypoint', 'removed', 'Write the path inside Gramine: "/usr/bin/app".']],
    );
  });

  it('refuse settings that cannot go together', () => {
    assert.deepEqual(keys(check(valid('loader.argv = ["a"]\nloader.argv_src_file = "file:args"'))), [
      ['loader.argv_src_file', 'conflict'],
    ]);
    assert.deepEqual(keys(check(valid('loader.argv = ["a"]\nloader.insecure__use_cmdline_argv = true'))), [
      ['loader.insecure__use_cmdline_argv', 'conflict'],
    ]);
    assert.deepEqual(keys(check(valid('loader.argv = ["a"]\nloader.insecure__use_cmdline_argv = false'))), []);
    assert.deepEqual(keys(check(valid('sgx.edmm_enable = true\nsgx.preheat_enclave = true'))), [
      ['sgx.preheat_enclave', 'conflict'],
    ]);
    assert.deepEqual(keys(check(valid('sgx.debug = false\nsgx.enable_stats = true'))), [
      ['sgx.enable_stats', 'conflict'],
    ]);
    assert.deepEqual(keys(check(valid('sgx.profile.enable = "main"'))), [['sgx.profile.enable', 'conflict']]);
    assert.deepEqual(keys(check(valid('sgx.debug = true\nsgx.enable_stats = true'))), []);
    assert.deepEqual(keys(check(valid('loader.env.A = { value = "x", passthrough = true }'))), [
      ['loader.env.A', 'conflict'],
    ]);
    assert.deepEqual(keys(check(valid('loader.env.A = { passthrough = false }'))), [
      ['loader.env.A.passthrough', 'value'],
    ]);
    assert.deepEqual(keys(check(valid('loader.env.A = 1'))), [['loader.env.A', 'type']]);
    assert.deepEqual(keys(check(valid('loader.env.A = { value = "x" }\nloader.env.B = "y"'))), []);
  });

  it('with strict, refuse what undoes the enclave’s protection', () => {
    const insecure = (extra: string) =>
      keys(check(valid(extra), true))
        .filter(([, kind]) => kind === 'insecure')
        .map(([key]) => key);
    assert.deepEqual(insecure('sgx.debug = false'), []);
    assert.deepEqual(insecure('sgx.debug = true'), ['sgx.debug']);
    assert.deepEqual(insecure('sgx.file_check_policy = "allow_all_but_log"'), ['sgx.file_check_policy']);
    assert.deepEqual(insecure('sgx.allowed_files = ["file:/etc/hosts"]'), ['sgx.allowed_files']);
    assert.deepEqual(insecure('sgx.allowed_files = []'), []);
    assert.deepEqual(insecure('loader.log_level = "trace"'), ['loader.log_level']);
    assert.deepEqual(insecure('loader.env.A = { passthrough = true }'), ['loader.env.A']);
    assert.deepEqual(insecure('loader.insecure__use_host_env = true'), ['loader.insecure__use_host_env']);
    assert.deepEqual(insecure('loader.insecure__use_host_env = false'), []);
    assert.deepEqual(insecure('sys.insecure__allow_eventfd = true'), ['sys.insecure__allow_eventfd']);
    assert.deepEqual(insecure('fs.insecure__keys.k = "00112233445566778899aabbccddeeff"'), ['fs.insecure__keys']);
    // not strict: the same manifests are valid Gramine manifests
    assert.deepEqual(check(valid('sgx.debug = true\nloader.env.A = { passthrough = true }')), []);
  });

  it('checkManifest throws ERR_GRAMINE_MANIFEST_INVALID naming the first problems, all of them in its data', () => {
    assert.doesNotThrow(() => checkManifest(parseManifestToml(valid()), 'm'));
    try {
      checkManifest(parseManifestToml(valid('sgx.thread_num = 1\na.b = 1\nsgx.debug = 1\nsys.x = 1')), 'the manifest');
      assert.fail('expected an error');
    } catch (error) {
      const e = error as { code: string; message: string; hint: string; data: { manifestProblems: ManifestProblem[] } };
      assert.equal(e.code, 'ERR_GRAMINE_MANIFEST_INVALID');
      assert.match(e.message, /^the manifest breaks Gramine 1\.9's manifest rules: sgx\.thread_num is not/);
      assert.match(e.message, /\(and 1 more\)$/);
      assert.equal(e.data.manifestProblems.length, 4);
      assert.match(e.hint, /sgx\.max_threads/);
    }
  });
});
