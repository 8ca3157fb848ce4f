import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import {
  BlocklistError,
  type BlocklistLimits,
  DEFAULT_BLOCKLIST_LIMITS,
  type IpBlocklist,
  parseBlocklist,
} from '../net/blocklist.js';
import type { Runtime } from '../runtime/runtime.js';

/** A blocklist the node loaded, and where from. */
export interface LoadedBlocklist {
  readonly list: IpBlocklist;
  /** The path or URL it was given. */
  readonly source: string;
  /** Lines that were not ranges. */
  readonly skipped: number;
  /** Why the URL could not be fetched, when the copy kept from an earlier fetch was used. */
  readonly staleBecause?: string;
}

/** The copy of the last list fetched from a URL, used when the URL cannot be reached. */
const CACHE_FILE = 'blocklist.cache';

/**
 * Loads an IP blocklist (P2P text format, optionally gzip-compressed) from a file or an
 * http(s) URL, through the runtime (so the egress policy applies to the URL). A list fetched
 * from a URL is kept in the data folder and used, with `staleBecause` set, when the URL cannot
 * be reached later.
 * @throws {BlocklistError} when it cannot be read, is over the limits or holds no range
 */
export async function loadBlocklist(
  runtime: Runtime,
  source: string,
  dataDir: string,
  limits: BlocklistLimits = DEFAULT_BLOCKLIST_LIMITS,
): Promise<LoadedBlocklist> {
  const cache = join(dataDir, CACHE_FILE);
  if (!/^https?:\/\//i.test(source))
    return { ...parse(await readListFile(runtime, source, limits), source, limits), source };
  let bytes: Buffer;
  try {
    const res = await runtime.http.get(source, { timeoutMs: 60_000, maxBytes: limits.maxBytes });
    if (res.status !== 200) throw new BlocklistError(`${source} answered HTTP ${res.status}`);
    bytes = res.body;
  } catch (error) {
    const reason = (error as Error).message;
    if (!(await runtime.fs.exists(cache)))
      throw new BlocklistError(`cannot fetch the blocklist ${source}: ${reason}`);
    const kept = await readListFile(runtime, cache, limits);
    return { ...parse(kept, source, limits), source, staleBecause: reason };
  }
  const parsed = parse(bytes, source, limits);
  await runtime.fs.writeFileAtomic(cache, bytes);
  return { ...parsed, source };
}

async function readListFile(
  runtime: Runtime,
  path: string,
  limits: BlocklistLimits,
): Promise<Buffer> {
  const stat = await runtime.fs.stat(path).catch((error: Error) => {
    throw new BlocklistError(`cannot read the blocklist ${path}: ${error.message}`);
  });
  if (stat.size > limits.maxBytes)
    throw new BlocklistError(`the blocklist ${path} is over ${limits.maxBytes} bytes`);
  return runtime.fs.readFile(path);
}

/** Parses the bytes of a list (gunzipped first when they are gzip). */
function parse(bytes: Buffer, source: string, limits: BlocklistLimits) {
  let text = bytes;
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      text = gunzipSync(bytes, { maxOutputLength: limits.maxBytes });
    } catch (error) {
      throw new BlocklistError(
        `the blocklist ${source} is not valid gzip or unpacks to over ${limits.maxBytes} bytes: ${(error as Error).message}`,
      );
    }
  }
  const parsed = parseBlocklist(text.toString('latin1'), limits);
  if (parsed.list.size === 0)
    throw new BlocklistError(
      `the blocklist ${source} holds no address range (lines like "name:1.2.3.0-1.2.3.255")`,
    );
  return parsed;
}
