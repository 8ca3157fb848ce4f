/** The byte range an HTTP request asks for: offsets of the first and last byte (inclusive). */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/** Longest `Range` header looked at; anything longer is ignored (the whole body is sent). */
const MAX_RANGE_HEADER_CHARS = 256;

/**
 * Reads a `Range` header (RFC 9110 §14.2) against a body of `size` bytes: one range `a-b`, `a-`
 * or `-n` (the last n bytes). Returns the range to send (the end cut to the body), the string
 * `unsatisfiable` when the range starts past the end (a 416), or undefined when the whole body
 * should be sent: no header, a unit other than bytes, several ranges, or a header that does not
 * parse (which a server may ignore). Never throws.
 */
export function parseRange(
  header: string | undefined,
  size: number,
): ByteRange | 'unsatisfiable' | undefined {
  if (header === undefined || header.length > MAX_RANGE_HEADER_CHARS) return undefined;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  const first = m[1] === '' ? undefined : Number(m[1]);
  const last = m[2] === '' ? undefined : Number(m[2]);
  if (
    (first !== undefined && !Number.isSafeInteger(first)) ||
    (last !== undefined && !Number.isSafeInteger(last))
  )
    return undefined;
  if (first === undefined) {
    // A suffix: the last `last` bytes.
    if (last === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - last!), end: size - 1 };
  }
  if (last !== undefined && last < first) return undefined;
  if (first >= size) return 'unsatisfiable';
  return { start: first, end: Math.min(size - 1, last ?? size - 1) };
}
