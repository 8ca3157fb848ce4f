import { join } from 'node:path';
import { Identity } from '../crypto/identity.js';
import { ShoalError } from '../errors.js';
import type { FileSystem, RandomSource } from '../runtime/runtime.js';

/** The node's identity in its data folder: the ed25519 seed, owner-only. */
export const IDENTITY_FILE = 'identity.key';

/**
 * A key file that does not hold a seed, or an import that would silently replace the node's
 * identity. The message says which file and what to do.
 */
export class IdentityFileError extends ShoalError {
  constructor(message: string) {
    super('IDENTITY_FILE', message);
  }
}

/** Where a node keeps its identity. */
export function identityPath(dataDir: string): string {
  return join(dataDir, IDENTITY_FILE);
}

/**
 * The text of a key file: the 32-byte seed as 64 hex digits and a newline — the format of
 * `shoal dht put --key`, so the node's own key can sign DHT items from the command line too.
 */
function seedText(identity: Identity): Buffer {
  return Buffer.from(`${identity.exportSeed().toString('hex')}\n`, 'latin1');
}

/** Reads a key file (refused when others may read it: `SECRET_FILE_UNSAFE`). */
async function readKeyFile(fs: FileSystem, path: string): Promise<Identity> {
  const text = (await fs.readSecretFile(path)).toString('latin1').trim();
  if (!/^[0-9a-fA-F]{64}$/.test(text)) {
    throw new IdentityFileError(
      `${path} does not hold a shoal identity (64 hex digits of an ed25519 seed)`,
    );
  }
  return Identity.fromSeed(Buffer.from(text, 'hex'));
}

/**
 * The node's identity from `<dataDir>/identity.key`, made from 32 random bytes and written
 * owner-only (0600) on first start. A key file others may read is refused with
 * `SECRET_FILE_UNSAFE` (its message says how to fix the mode), never used.
 */
export async function loadOrCreateIdentity(
  fs: FileSystem,
  random: RandomSource,
  dataDir: string,
): Promise<{ identity: Identity; created: boolean }> {
  const path = identityPath(dataDir);
  if (await fs.exists(path)) return { identity: await readKeyFile(fs, path), created: false };
  await fs.mkdir(dataDir);
  const identity = Identity.generate(random);
  await fs.writeSecretFile(path, seedText(identity));
  return { identity, created: true };
}

/** Writes the node's identity to `file` (owner-only); refuses to overwrite unless `force`. */
export async function exportIdentity(
  fs: FileSystem,
  identity: Identity,
  file: string,
  force = false,
): Promise<void> {
  if (!force && (await fs.exists(file))) {
    throw new IdentityFileError(`${file} already exists (add --force to overwrite it)`);
  }
  await fs.writeSecretFile(file, seedText(identity));
}

/**
 * Makes the identity in `file` the node's. Replacing a different identity loses the old one
 * for good, so that needs `force`; importing the same key again changes nothing.
 */
export async function importIdentity(
  fs: FileSystem,
  dataDir: string,
  file: string,
  force = false,
): Promise<Identity> {
  const identity = await readKeyFile(fs, file);
  const path = identityPath(dataDir);
  if (await fs.exists(path)) {
    const current = await readKeyFile(fs, path);
    if (current.publicKey.equals(identity.publicKey)) return identity;
    if (!force) {
      throw new IdentityFileError(
        `this node already is ${current.publicKey}; importing ${identity.publicKey} would lose that identity for good (export it first, then add --force)`,
      );
    }
  }
  await fs.mkdir(dataDir);
  await fs.writeSecretFile(path, seedText(identity));
  return identity;
}
