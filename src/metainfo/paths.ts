import { UnsafePathError } from './errors.js';

/** Windows device names, unsafe as a file name (with any extension) on common file systems. */
const RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)(\..*)?$/i;
/** Longest component most file systems accept, in UTF-8 bytes. */
const MAX_COMPONENT_BYTES = 255;

/**
 * Checks one path component from a torrent (a file or folder name) and throws
 * {@link UnsafePathError} naming the whole path when it could escape the download folder
 * (`..`, separators, absolute or drive paths) or cannot be created safely (empty, NUL and other
 * control characters, device names, trailing dot or space, over-long names).
 */
export function assertSafeComponent(component: string, fullPath: readonly string[]): void {
  const shown = fullPath.join('/');
  const fail = (reason: string): never => {
    throw new UnsafePathError(shown, reason);
  };
  if (component.length === 0) fail('empty path component');
  if (component === '.' || component === '..') fail(`"${component}" would leave its folder`);
  if (component.includes('/') || component.includes('\\')) fail('path separator inside a name');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we reject
  if (/[\u0000-\u001f\u007f]/.test(component)) fail('control character or NUL in name');
  if (/^[a-zA-Z]:/.test(component)) fail('drive-letter path');
  if (RESERVED.test(component)) fail(`"${component}" is a reserved device name`);
  if (/[. ]$/.test(component)) fail('name ends with a dot or space');
  if (Buffer.byteLength(component, 'utf8') > MAX_COMPONENT_BYTES)
    fail('name longer than 255 bytes');
  if (component.includes('\ufffd')) fail('name is not valid UTF-8');
}

/** Checks every component of `path` with {@link assertSafeComponent}. */
export function assertSafePath(path: readonly string[]): void {
  if (path.length === 0) throw new UnsafePathError('', 'empty path');
  for (const c of path) assertSafeComponent(c, path);
}
