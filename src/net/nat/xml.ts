/**
 * Just enough XML for a router's UPnP documents: the text of elements found by local name.
 * A device description and a SOAP reply are small, flat, machine-written documents, so a full
 * parser (with DTDs, and so entity expansion, a classic way to exhaust memory) is more attack
 * surface than help. Nothing here expands entities beyond the five predefined ones and
 * character references; a DOCTYPE is ignored like any other tag. Callers bound the input
 * (see {@link MAX_XML_CHARS}); every scan is linear in it.
 */

/** The largest document read: a device description is a few KiB, a SOAP reply less. */
export const MAX_XML_CHARS = 64 * 1024;

interface Tag {
  /** Index of the `<`. */
  readonly start: number;
  /** Index just after the `>`. */
  readonly end: number;
  readonly selfClosing: boolean;
}

/** Finds the next opening (or, with `closing`, closing) tag named `name` (any prefix) from `from`. */
function findTag(xml: string, name: string, from: number, closing: boolean): Tag | undefined {
  let i = xml.indexOf('<', from);
  while (i >= 0) {
    let j = i + 1;
    if (closing) {
      if (xml[j] !== '/') {
        i = xml.indexOf('<', j);
        continue;
      }
      j++;
    }
    let k = j;
    while (k < xml.length && !/[\s/<>]/.test(xml[k]!)) k++;
    const qualified = xml.slice(j, k);
    const local = qualified.slice(qualified.indexOf(':') + 1);
    if (local.toLowerCase() === name && k > j) {
      const gt = xml.indexOf('>', k);
      if (gt < 0) return undefined;
      return { start: i, end: gt + 1, selfClosing: !closing && xml[gt - 1] === '/' };
    }
    i = xml.indexOf('<', i + 1);
  }
  return undefined;
}

/**
 * The raw inner text of each element whose local name is `name` (case-insensitive, any
 * namespace prefix), in document order, at most `limit`. Elements of one name are not
 * expected to nest (an inner one would end the outer).
 */
export function xmlElements(xml: string, name: string, limit = 64): string[] {
  const lower = name.toLowerCase();
  const out: string[] = [];
  let pos = 0;
  while (out.length < limit) {
    const open = findTag(xml, lower, pos, false);
    if (!open) break;
    if (open.selfClosing) {
      out.push('');
      pos = open.end;
      continue;
    }
    const close = findTag(xml, lower, open.end, true);
    if (!close) break;
    out.push(xml.slice(open.end, close.start));
    pos = close.end;
  }
  return out;
}

/** The decoded, trimmed text of the first element named `name`, or undefined. */
export function xmlText(xml: string, name: string): string | undefined {
  const [raw] = xmlElements(xml, name, 1);
  return raw === undefined ? undefined : decodeXmlText(raw).trim();
}

const PREDEFINED: Readonly<Record<string, string>> = {
  lt: '<',
  gt: '>',
  amp: '&',
  quot: '"',
  apos: "'",
};

/** Decodes the predefined entities and character references; anything else stays as written. */
export function decodeXmlText(raw: string): string {
  return raw.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|lt|gt|amp|quot|apos);/g, (whole, ref) => {
    const r = ref as string;
    if (r[0] !== '#') return PREDEFINED[r] ?? whole;
    const code = r[1] === 'x' ? Number.parseInt(r.slice(2), 16) : Number(r.slice(1));
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

/** Escapes text for an element's content or an attribute value. */
export function escapeXml(text: string): string {
  return text.replace(
    /[<>&"']/g,
    (c) => `&${{ '<': 'lt', '>': 'gt', '&': 'amp', '"': 'quot', "'": 'apos' }[c]};`,
  );
}
