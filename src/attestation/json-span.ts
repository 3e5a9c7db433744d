/**
 * Locate the exact text of top-level members of a JSON object, so that a signature can be checked over
 * the bytes Intel signed (the `tcbInfo` / `enclaveIdentity` value as served), never over re-serialized
 * JSON. The scanner is strict: it rejects duplicate top-level keys and anything `JSON.parse` rejects.
 */
import { AttestationError } from '../errors.js';

export interface Span {
  start: number;
  end: number;
}

/**
 * Map each top-level key of the JSON object `text` to the [start, end) character span of its value.
 * Throws the given code when `text` is not a JSON object.
 */
export function topLevelSpans(text: string, stage: string, code: string, what: string): Map<string, Span> {
  const fail = (detail: string): never => {
    throw new AttestationError(stage, code, `${what}: ${detail}`, {
      hint: 'The document is not the JSON body served by the PCS/PCCS.',
    });
  };
  try {
    JSON.parse(text);
  } catch (error) {
    fail(`not valid JSON (${(error as Error).message})`);
  }
  const spans = new Map<string, Span>();
  let i = skipWs(text, 0);
  if (text[i] !== '{') fail('expected a JSON object');
  i = skipWs(text, i + 1);
  if (text[i] === '}') return spans;
  for (;;) {
    const keyEnd = skipString(text, i);
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipWs(text, keyEnd);
    i = skipWs(text, i + 1); // ':' (JSON.parse already validated the grammar)
    const start = i;
    i = skipValue(text, i);
    if (spans.has(key)) fail(`member "${key}" appears twice`);
    spans.set(key, { start, end: i });
    i = skipWs(text, i);
    if (text[i] === ',') {
      i = skipWs(text, i + 1);
      continue;
    }
    break;
  }
  return spans;
}

function skipWs(s: string, i: number): number {
  while (i < s.length && (s[i] === ' ' || s[i] === '\n' || s[i] === '\r' || s[i] === '\t')) i++;
  return i;
}

function skipString(s: string, i: number): number {
  i++; // opening quote
  while (i < s.length) {
    const c = s[i];
    if (c === '\\') i += 2;
    else if (c === '"') return i + 1;
    else i++;
  }
  return i;
}

function skipValue(s: string, i: number): number {
  const c = s[i];
  if (c === '"') return skipString(s, i);
  if (c === '{' || c === '[') {
    let depth = 0;
    while (i < s.length) {
      const d = s[i];
      if (d === '"') {
        i = skipString(s, i);
        continue;
      }
      if (d === '{' || d === '[') depth++;
      else if (d === '}' || d === ']') {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    return i;
  }
  while (i < s.length && !/[\s,}\]]/.test(s.charAt(i))) i++;
  return i;
}
