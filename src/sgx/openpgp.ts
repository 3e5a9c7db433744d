/**
 * The little of OpenPGP (RFC 4880) needed to pin an APT repository key by fingerprint: read a key file
 * (binary packets or ASCII armor), split it into transferable public keys, compute each primary key's and
 * subkey's v4 fingerprint, and write a keyring holding only the keys whose fingerprint is trusted.
 * Signatures are not verified here: `gpgv` does that (src/sgx/gpgv.ts) against the keyring written here,
 * so a key that is not pinned never reaches the verifier. Pure.
 */
import { createHash } from 'node:crypto';
import { InputError } from '../errors.js';

/** One transferable public key: a primary key with its user IDs, subkeys and signatures. */
export interface PublicKeyInfo {
  /** v4 fingerprint of the primary key: 40 uppercase hex digits. */
  fingerprint: string;
  /** Long key ID (last 16 hex digits of the fingerprint). */
  keyId: string;
  algorithm: string;
  created: Date;
  userIds: string[];
  subkeys: { fingerprint: string; keyId: string }[];
  /** The key's packets, byte for byte as read (what a binary keyring holds). */
  packets: Uint8Array;
}

const TAG_PUBLIC_KEY = 6;
const TAG_PUBLIC_SUBKEY = 14;
const TAG_USER_ID = 13;
const TAG_SECRET_KEY = 5;
const TAG_SECRET_SUBKEY = 7;

const ALGORITHMS: Record<number, string> = {
  1: 'rsa',
  2: 'rsa',
  3: 'rsa',
  16: 'elgamal',
  17: 'dsa',
  18: 'ecdh',
  19: 'ecdsa',
  22: 'eddsa',
  25: 'x25519',
  27: 'ed25519',
};

function keyError(what: string, why: string): InputError {
  return new InputError('ERR_PGP_KEY_INVALID', `${what} is not a usable OpenPGP public key file: ${why}`, {
    hint: 'Give the repository key as gpg exports it (binary, as apt keyrings are, or ASCII-armored).',
  });
}

/** `AB CD …` / `0xabcd…` → 40 uppercase hex digits, or undefined when it is not a v4 fingerprint. */
export function normalizeFingerprint(text: string): string | undefined {
  const hex = text.replace(/\s+/g, '').replace(/^0x/i, '').toUpperCase();
  return /^[0-9A-F]{40}$/.test(hex) ? hex : undefined;
}

/** Group a fingerprint in blocks of four, as gpg prints it. */
export function formatFingerprint(fpr: string): string {
  return (fpr.match(/.{1,4}/g) ?? []).join(' ');
}

const CRC24_INIT = 0xb704ce;
const CRC24_POLY = 0x1864cfb;

function crc24(data: Uint8Array): number {
  let crc = CRC24_INIT;
  for (const byte of data) {
    crc ^= byte << 16;
    for (let i = 0; i < 8; i++) {
      crc <<= 1;
      if (crc & 0x1000000) crc ^= CRC24_POLY;
    }
  }
  return crc & 0xffffff;
}

/** Decode every `PUBLIC KEY BLOCK` of an ASCII-armored text (checksums verified when present). */
export function dearmor(text: string, what: string): Uint8Array {
  const lines = text.split(/\r?\n/);
  const out: Buffer[] = [];
  let i = 0;
  for (let line = lines[i]; line !== undefined; line = lines[i]) {
    const begin = line.trim();
    i++;
    if (!/^-----BEGIN PGP [A-Z ]+-----$/.test(begin)) continue;
    if (begin !== '-----BEGIN PGP PUBLIC KEY BLOCK-----') {
      throw keyError(what, `it holds a "${begin.slice(16, -5)}" block, not a public key`);
    }
    // Armor headers ("Comment: …") end at the first empty line.
    for (let header = lines[i]; header !== undefined && header.trim() !== ''; header = lines[++i]) {
      if (!/^[\w-]+: /.test(header)) break;
    }
    const body: string[] = [];
    let checksum: string | undefined;
    let ended = false;
    for (let raw = lines[i]; raw !== undefined; raw = lines[++i]) {
      const line = raw.trim();
      if (line === '-----END PGP PUBLIC KEY BLOCK-----') {
        ended = true;
        i++;
        break;
      }
      if (line === '') continue;
      if (/^=[A-Za-z0-9+/]{4}$/.test(line)) checksum = line.slice(1);
      else if (/^[A-Za-z0-9+/]+={0,2}$/.test(line)) body.push(line);
      else throw keyError(what, `line ${i + 1} of the armor is not base64`);
    }
    if (!ended) throw keyError(what, 'the armored block has no END line');
    const bytes = Buffer.from(body.join(''), 'base64');
    if (checksum !== undefined) {
      const expected = Buffer.from(checksum, 'base64').readUIntBE(0, 3);
      if (crc24(bytes) !== expected) throw keyError(what, 'the armor checksum does not match (damaged file)');
    }
    out.push(bytes);
  }
  if (out.length === 0) throw keyError(what, 'no "BEGIN PGP PUBLIC KEY BLOCK" found');
  return new Uint8Array(Buffer.concat(out));
}

interface Packet {
  tag: number;
  body: Uint8Array;
  /** Header and body, as read. */
  raw: Uint8Array;
}

function readPackets(data: Uint8Array, what: string): Packet[] {
  const packets: Packet[] = [];
  let pos = 0;
  while (pos < data.length) {
    const start = pos;
    const need = (n: number): void => {
      if (pos + n > data.length) throw keyError(what, `packet at byte ${start} is truncated`);
    };
    const nextByte = (): number => {
      const b = data[pos];
      if (b === undefined) throw keyError(what, `packet at byte ${start} is truncated`);
      pos++;
      return b;
    };
    const first = nextByte();
    if ((first & 0x80) === 0) throw keyError(what, `byte ${start} does not start an OpenPGP packet`);
    let tag: number;
    let length: number;
    if (first & 0x40) {
      tag = first & 0x3f;
      const o1 = nextByte();
      if (o1 < 192) length = o1;
      else if (o1 < 224) {
        length = ((o1 - 192) << 8) + nextByte() + 192;
      } else if (o1 === 255) {
        need(4);
        length = Buffer.from(data.subarray(pos, pos + 4)).readUInt32BE(0);
        pos += 4;
      } else {
        throw keyError(what, `packet at byte ${start} uses a partial body length, which keys never do`);
      }
    } else {
      tag = (first >> 2) & 0x0f;
      const lengthType = first & 0x03;
      if (lengthType === 3) throw keyError(what, `packet at byte ${start} has an indeterminate length`);
      const n = 1 << lengthType;
      need(n);
      length = Buffer.from(data.subarray(pos, pos + n)).readUIntBE(0, n);
      pos += n;
    }
    need(length);
    packets.push({ tag, body: data.subarray(pos, pos + length), raw: data.subarray(start, pos + length) });
    pos += length;
  }
  return packets;
}

/** v4 fingerprint of a public-key or public-subkey packet body. */
function fingerprintOf(body: Uint8Array, what: string): string {
  if (body[0] !== 4) {
    throw keyError(
      what,
      `it holds a version ${body[0] ?? '?'} key; only version 4 keys are supported (as by gpgv 2.2)`,
    );
  }
  const header = Buffer.from([0x99, (body.length >> 8) & 0xff, body.length & 0xff]);
  return createHash('sha1').update(header).update(body).digest('hex').toUpperCase();
}

/**
 * The public keys in `data` (binary packets, or ASCII armor). `what` names the file in errors
 * (`ERR_PGP_KEY_INVALID`): malformed packets, secret keys, non-v4 keys, a GnuPG keybox, no key at all.
 */
export function readPublicKeys(data: Uint8Array, what: string): PublicKeyInfo[] {
  const head = Buffer.from(data.subarray(0, 64)).toString('latin1');
  let bytes = data;
  if (head.includes('-----BEGIN PGP')) bytes = dearmor(Buffer.from(data).toString('utf8'), what);
  else if (data.length >= 12 && Buffer.from(data.subarray(8, 12)).toString('latin1') === 'KBXf') {
    throw keyError(what, 'it is a GnuPG keybox (.kbx); export the key with `gpg --export KEYID > key.gpg`');
  }
  const packets = readPackets(bytes, what);
  const keys: PublicKeyInfo[] = [];
  let current: { info: Omit<PublicKeyInfo, 'packets'>; raws: Uint8Array[] } | undefined;
  const flush = (): void => {
    if (current) keys.push({ ...current.info, packets: new Uint8Array(Buffer.concat(current.raws)) });
  };
  for (const p of packets) {
    if (p.tag === TAG_SECRET_KEY || p.tag === TAG_SECRET_SUBKEY) {
      throw keyError(what, 'it holds a secret key; give the public key only');
    }
    if (p.tag === TAG_PUBLIC_KEY) {
      flush();
      const algorithm = p.body[5];
      if (algorithm === undefined) throw keyError(what, 'a public key packet is truncated');
      const fingerprint = fingerprintOf(p.body, what);
      const created = new Date(Buffer.from(p.body.subarray(1, 5)).readUInt32BE(0) * 1000);
      current = {
        info: {
          fingerprint,
          keyId: fingerprint.slice(24),
          algorithm: ALGORITHMS[algorithm] ?? `algorithm ${algorithm}`,
          created,
          userIds: [],
          subkeys: [],
        },
        raws: [p.raw],
      };
      continue;
    }
    if (!current) throw keyError(what, `packet of type ${p.tag} comes before any public key`);
    current.raws.push(p.raw);
    if (p.tag === TAG_PUBLIC_SUBKEY) {
      const fingerprint = fingerprintOf(p.body, what);
      current.info.subkeys.push({ fingerprint, keyId: fingerprint.slice(24) });
    } else if (p.tag === TAG_USER_ID) {
      current.info.userIds.push(Buffer.from(p.body).toString('utf8'));
    }
  }
  flush();
  if (keys.length === 0) throw keyError(what, 'it holds no public key');
  return keys;
}

/** A binary keyring (what `gpgv --keyring` reads) holding exactly `keys`. */
export function keyringOf(keys: readonly PublicKeyInfo[]): Uint8Array {
  return new Uint8Array(Buffer.concat(keys.map((k) => k.packets)));
}
