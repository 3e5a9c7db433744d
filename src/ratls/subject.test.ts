import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InputError } from '../errors.js';
import { formatSubject, normalizeSubject, parseSubject, subjectsEqual } from './subject.js';

describe('parseSubject / formatSubject (RFC 4514)', () => {
  it('returns RDNs in DER order (reverse of the string)', () => {
    assert.deepEqual(parseSubject('CN=app,O=Acme,C=FR'), [
      [{ oid: '2.5.4.6', value: 'FR' }],
      [{ oid: '2.5.4.10', value: 'Acme' }],
      [{ oid: '2.5.4.3', value: 'app' }],
    ]);
  });

  it('decodes escapes and canonicalizes the spelling', () => {
    const rdns = parseSubject('cn=\\ a\\+b\\2C\\c3\\a9\\ ,oid.2.5.4.10=x\\=y,L=Z\\C3\\BCrich');
    assert.deepEqual(
      rdns.map((r) => r.map((a) => a.value)),
      [['Zürich'], ['x=y'], [' a+b,é ']],
    );
    assert.equal(formatSubject(rdns), 'CN=\\ a\\+b\\,é\\ ,O=x=y,L=Zürich');
    assert.equal(normalizeSubject('CN=x,1.2.3.4=y'), 'CN=x,1.2.3.4=y');
    assert.equal(normalizeSubject('CN=\\#1'), 'CN=\\#1');
    assert.equal(normalizeSubject('CN=😀 ok'), 'CN=😀 ok');
  });

  it('round-trips the formatted form', () => {
    for (const s of [
      'CN=localhost,O=Cosmian Tech,L=Paris,ST=Ile-de-France,C=FR',
      'UID=u1+CN=a\\;b,DC=example,DC=com',
    ]) {
      assert.equal(formatSubject(parseSubject(normalizeSubject(s))), normalizeSubject(s));
    }
  });

  it('rejects malformed subjects with ERR_SUBJECT_INVALID', () => {
    const bad = [
      '',
      'CN',
      'CN=',
      'CN=a,',
      'CN=a, O=b', // space after the comma makes " O" an unknown type
      'XX=a',
      'CN=a;O=b',
      'CN=a"b',
      'CN=#04024869',
      'CN=a\\',
      'CN=a\\zz',
      'CN= a',
      'CN=a ',
      'C=FRA',
      'CN=a+CN=b',
      'CN=\\ff',
    ];
    for (const s of bad) {
      assert.throws(
        () => parseSubject(s),
        (e: unknown) => e instanceof InputError && e.code === 'ERR_SUBJECT_INVALID',
        JSON.stringify(s),
      );
    }
  });

  it('compares subjects in order or as attribute sets', () => {
    assert.ok(subjectsEqual('cn=a,o=b', 'CN=a,O=b'));
    assert.ok(!subjectsEqual('CN=a,O=b', 'O=b,CN=a'));
    assert.ok(subjectsEqual('CN=a,O=b', 'O=b,CN=a', { anyOrder: true }));
    assert.ok(!subjectsEqual('CN=a,O=b', 'CN=a,O=c', { anyOrder: true }));
  });
});
